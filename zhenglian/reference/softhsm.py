"""SoftHSM2 set-up for demo and test keys: a private config and token directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from zhenglian import manifest, paths


class SoftHSMUnavailable(RuntimeError):
    pass


def module_path() -> Path:
    """The installed libsofthsm2, found through the softhsm manifest."""
    m = manifest.load_all().by_id("softhsm")
    if m is not None:
        for p in manifest.candidate_paths(m):
            if p.is_file():
                return p
    raise SoftHSMUnavailable(
        "找不到 SoftHSM2（请安装 softhsm2）/ SoftHSM2 not found (install the softhsm2 package)"
    )


def util_path() -> str:
    exe = shutil.which("softhsm2-util")
    if not exe:
        raise SoftHSMUnavailable("找不到 softhsm2-util / softhsm2-util not found (install softhsm2)")
    return exe


def default_conf() -> Path:
    return paths.data_dir() / "softhsm" / "softhsm2.conf"


def write_conf(conf: Path) -> Path:
    """A SoftHSM config whose tokens live next to it."""
    tokens = conf.parent / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = true\n",
        encoding="utf-8",
    )
    return conf


def init_token(conf: Path, label: str, so_pin: str, user_pin: str) -> None:
    """Create a new token (what plugging in a new key looks like)."""
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    # softhsm2-util takes PINs as arguments; that is acceptable only for
    # demo and test keys, whose PINs are published.
    subprocess.run(
        [util_path(), "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def delete_token(conf: Path, label: str) -> None:
    """Remove a token (what pulling a key out looks like)."""
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(
        [util_path(), "--delete-token", "--token", label],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
