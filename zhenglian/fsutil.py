"""Atomic file writes: a reader sees the old file or the new one, never half.

Write to a temporary file in the same directory, flush and fsync it, then
``os.replace`` it over the target (atomic on POSIX and on NTFS).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o600, *, sync_dir: bool = True) -> None:
    """``sync_dir=False``: the rename is made durable by a later :func:`fsync_dir` of the same
    directory (one directory fsync covers every rename made in it before)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(target.parent)


def atomic_write_json(target: Path, value: Any) -> None:
    atomic_write_bytes(target, json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))


def read_json(target: Path, default: Any) -> Any:
    try:
        return json.loads(Path(target).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
