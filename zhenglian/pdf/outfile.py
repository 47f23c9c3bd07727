"""Write a signed PDF atomically without holding it all in memory.

Same contract as :func:`zhenglian.fsutil.atomic_write_bytes` (a reader sees
the old file or the new one, never half; on failure nothing is left), but the
signer writes into the file as it goes: a 100 MB document is streamed, not
copied into RAM.  The temporary file sits beside the target so the final
``os.replace`` stays on one file system.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from zhenglian import errors
from zhenglian.fsutil import fsync_dir


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


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
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise errors.OutputWriteFailed(path=str(target), detail=type(exc).__name__) from None
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
        fh.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)

