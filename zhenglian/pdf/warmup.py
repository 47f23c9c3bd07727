"""Work the signing will need, done while the operator types the PIN.

A cold ``zhenglian sign`` opens the documents and checks the seal before it
asks for the PIN (any refusal comes first), but it does not need the signing
half of pyHanko, the seal picture compressed for PDF or the seal-use register
until the PIN is in.  Those take ≈ 0.4 s of a cold start; :class:`Warmup`
does them on a background thread that starts when the operator is asked for
something (the PIN, the final-try confirmation, the PIN pad) and is joined
before the key is logged in.  The thread never touches the key and never sees
the PIN: it only imports modules and compresses the seal picture.

The imports go through :func:`zhenglian.pdf.preload.pdf_stack` (one lock),
so a worker that needs pyHanko at the same moment waits for a complete module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

log = logging.getLogger(__name__)


class Warmup:
    """One background warm-up: :meth:`start` (idempotent), then :meth:`join`."""

    def __init__(self, seals: Iterable[Any] = (), *, extra: Callable[[], None] | None = None) -> None:
        self._seals = list(seals)
        self._extra = extra
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="zhenglian-warmup", daemon=True)
            self._thread.start()

    def join(self) -> None:
        """Wait for the warm-up (bounded work: imports and one compression per seal)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        # Failures are left to the main path, which does the same work again and reports it
        # as usual (a seal picture that does not encode was refused before the PIN anyway).
        try:
            from zhenglian.pdf.preload import pdf_stack
            from zhenglian.pdf.seal import encoded

            pdf_stack()
            for seal in self._seals:
                encoded(seal)
            if self._extra is not None:
                self._extra()
        except Exception:  # noqa: BLE001 - see above
            log.debug("warm-up failed; the signing path will do the work itself", exc_info=True)


class WarmWhileAsking:
    """A PIN prompter that starts ``warmup`` whenever it waits for the operator.

    Every other call goes to the wrapped prompter unchanged.
    """

    def __init__(self, prompter: Any, warmup: Warmup) -> None:
        self._prompter = prompter
        self._warmup = warmup

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prompter, name)

    def confirm_final_try(self, st: Any) -> bool:
        self._warmup.start()
        return bool(self._prompter.confirm_final_try(st))

    def ask_pin(self, st: Any) -> Any:
        self._warmup.start()
        return self._prompter.ask_pin(st)

    def pinpad(self, st: Any) -> AbstractContextManager[None]:
        self._warmup.start()
        return self._prompter.pinpad(st)


@contextmanager
def warming(prompter: Any, seals: Iterable[Any] = (), *,
            extra: Callable[[], None] | None = None) -> Iterator[tuple[WarmWhileAsking, Warmup]]:
    """The wrapped prompter and its warm-up, joined on the way out whatever happens."""
    warmup = Warmup(seals, extra=extra)
    try:
        yield WarmWhileAsking(prompter, warmup), warmup
    finally:
        warmup.join()
