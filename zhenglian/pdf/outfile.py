"""Write a signed PDF atomically without holding it all in memory.

Same contract as :func:`zhenglian.fsutil.atomic_write_bytes` (a reader sees
the old file or the new one, never half; on failure nothing is left), but the
signer writes into the file as it goes: a 100 MB document is streamed, not
copied into RAM.  The temporary file sits beside the target so the final
``os.replace`` stays on one file system.

On a full disk ``close()`` can raise ENOSPC again while we clean up (the
buffered tail is flushed once more); the temporary file is removed all the
same.  Temporary files left by a process that was killed (``kill -9``, power
loss) are swept the next time the same target is written
(:func:`sweep_stale_parts`).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from zhenglian import errors
from zhenglian.fsutil import fsync_dir

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
# A .part file this old belongs to no live writer: a signature is made in seconds, and a
# writer touches its file as it goes.  Younger ones may be another process's work in progress.
STALE_PART_AGE_S = 600.0


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_target(source: object, target: Path) -> None:
    """Before any PIN: ``target`` is not the input (a path ``source``) and not a folder."""
    if isinstance(source, str | os.PathLike) and same_file(Path(source), target):
        raise errors.OutputIsInput(path=str(target))
    if target.is_dir():
        raise errors.OutputIsFolder(path=str(target))


def part_prefix(target: Path) -> str:
    return f".{Path(target).name}."


def sweep_stale_parts(directory: Path, pattern: str = f".*{PART_SUFFIX}",
                      max_age_s: float = STALE_PART_AGE_S, now: float | None = None) -> int:
    """Remove ``pattern`` files in ``directory`` older than ``max_age_s``; how many went.

    Only regular files, never followed symlinks; a failure to remove one is logged and skipped.
    """
    now = time.time() if now is None else now
    removed = 0
    try:
        candidates = list(Path(directory).glob(pattern))
    except OSError:
        return 0
    for p in candidates:
        try:
            st = p.lstat()
            if not p.is_file() or p.is_symlink() or now - st.st_mtime <= max_age_s:
                continue
            p.unlink()
            removed += 1
            log.info("removed an interrupted write %s", p.name)
        except OSError as exc:
            log.info("could not remove the interrupted write %s: %s", p.name, type(exc).__name__)
    return removed


def _discard(fh: BinaryIO, tmp: str) -> None:
    """Close and remove the temp file; neither step may stop the other (ENOSPC on close)."""
    try:
        fh.close()
    except OSError:
        # The buffered tail could not be flushed (disk full): drop the descriptor without it.
        with contextlib.suppress(OSError, ValueError):
            os.close(fh.fileno())
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(target: Path, mode: int = 0o644,
                  before_publish: Callable[[Path], None] | None = None) -> Iterator[BinaryIO]:
    """Yield a read/write file; on clean exit it becomes ``target``, else it vanishes.

    ``before_publish(tmp)`` runs once the bytes are on disk and before the rename (the
    seal-use register commits its entry there); if it raises, nothing is published.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_parts(target.parent, f"{glob.escape(part_prefix(target))}*{PART_SUFFIX}")
        fd, tmp = tempfile.mkstemp(prefix=part_prefix(target), suffix=PART_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise errors.OutputWriteFailed.of(target, exc) from None
    fh = os.fdopen(fd, "w+b")
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        if before_publish is not None:
            before_publish(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        _discard(fh, tmp)
        raise
    fsync_dir(target.parent)
