"""Atomic file writes: a reader sees the old file or the new one, never half.

Write to a temporary file in the same directory, flush and fsync it, then
``os.replace`` it over the target (atomic on POSIX and on NTFS).

A file that is read, changed and written back (the remembered certificates,
the seal index, the PIN try counter) is changed under :func:`locked`: the
tray app's threads and a command line running beside it take turns, and
none writes back a copy that lacks another's change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()
_depth: dict[str, int] = {}  # how deep the thread holding a path's lock is in it (read under that lock)


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


def os_lock(fd: int, take: bool, *, wait: bool = True) -> bool:
    """An advisory lock on byte 0 of ``fd`` (flock / msvcrt), shared by every process.

    ``take=False`` releases it.  ``wait=False`` returns False at once if another
    holds it; an error of the file system other than that is raised.
    """
    if os.name == "nt":
        import errno
        import msvcrt

        mode = msvcrt.LK_UNLCK if not take else msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK  # type: ignore[attr-defined]
        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, mode, 1)  # type: ignore[attr-defined]
                return True
            except OSError as exc:
                if take and not wait:
                    return False
                if take and exc.errno in (errno.EDEADLOCK, errno.EACCES):
                    continue  # LK_LOCK gives up after ten tries a second apart: wait on, as flock does
                raise
    import fcntl

    op = fcntl.LOCK_UN if not take else fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
    try:
        fcntl.flock(fd, op)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def locked(target: Path, lock_file: Path | None = None) -> Iterator[None]:
    """Hold ``target``'s update lock: one thread of this process, and one process, at a time.

    The lock is a side file, ``<target>.lock`` unless ``lock_file`` names the one an
    earlier version used.  Where it cannot be created (a read-only data directory)
    only the thread lock is held: nothing will be written there either.
    """
    target = Path(target)
    name = os.path.abspath(target)
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(name, threading.RLock())
    with thread_lock:
        if _depth.get(name):  # this thread holds it already: a second flock of our own would wait forever
            _depth[name] += 1
            try:
                yield
            finally:
                _depth[name] -= 1
            return
        _depth[name] = 1
        try:
            with _os_locked(lock_file or target.with_name(target.name + ".lock")):
                yield
        finally:
            _depth[name] = 0


@contextlib.contextmanager
def _os_locked(lock_file: Path) -> Iterator[None]:
    """The OS lock on ``lock_file`` (or none where that file cannot be made)."""
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        try:
            os_lock(fd, True)
        except OSError as exc:  # a file system without locks: the thread lock still holds
            log.info("file lock on %s: %s", lock_file.name, type(exc).__name__)
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os_lock(fd, False)
    finally:
        os.close(fd)
