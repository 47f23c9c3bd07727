"""Import the PDF stack (pyHanko and ours) once, under one lock, before a worker uses it.

pyHanko is imported on first use so the idle tray app stays small.  Two worker threads
importing it at the same moment (the preview of the task just clicked and the batch
started right after) can see a half-initialised pyHanko module and fail with
``ImportError: … partially initialized module``; taking the first import under one lock
makes the second thread wait for a complete module instead.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_done = False


def pdf_stack() -> None:
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        import pyhanko.sign  # noqa: F401 - the whole package first: its submodules import each other
        import pyhanko.sign.validation  # noqa: F401

        import zhenglian.keys.signer  # noqa: F401
        import zhenglian.pdf.keysign  # noqa: F401 - the import is the point
        import zhenglian.pdf.placement  # noqa: F401
        import zhenglian.pdf.sign  # noqa: F401
        import zhenglian.pdf.verify  # noqa: F401
        from zhenglian.pki.asn1settle import settle

        settle()  # pyHanko's own asn1crypto classes: their tables built here, not racing in workers
        _done = True
