"""zhenglian's native test modules (C sources under this package), built on demand.

``built_module("sm2token")`` returns the path of ``libsm2token.so``, building
it with ``build.sh`` (gcc + libssl-dev) when it is missing or its sources
changed.  ``scripts/setup.sh`` builds the same modules up front.  The output
directory is ``build/native`` at the project root, or ``$ZL_NATIVE_BUILD_DIR``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BUILD_SH = HERE / "build.sh"
_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
_TIMEOUT_S = 300  # a cold compile on a loaded two-core machine takes a few seconds


class NativeBuildError(RuntimeError):
    """The module could not be built (no compiler, no OpenSSL headers, compile error)."""


def build_dir() -> Path:
    return Path(os.environ.get("ZL_NATIVE_BUILD_DIR") or ROOT / "build" / "native")


def built_module(name: str) -> Path:
    """The built ``lib<name>.so``; builds it first if missing or out of date."""
    if not _NAME.match(name) or not (HERE / name).is_dir():
        raise ValueError(f"no native module named {name!r}")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        raise NativeBuildError("no C compiler (cc); install gcc")
    out_dir = build_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    # One build at a time across processes (pytest-xdist workers, setup.sh).
    with open(out_dir / f".lib{name}.build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            res = subprocess.run(["sh", str(BUILD_SH), name, str(out_dir)], capture_output=True,
                                 text=True, timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise NativeBuildError(f"building lib{name}.so took more than {_TIMEOUT_S} s") from None
    if res.returncode != 0:
        raise NativeBuildError(f"building lib{name}.so failed:\n{res.stderr[-4000:]}")
    return out_dir / f"lib{name}.so"
