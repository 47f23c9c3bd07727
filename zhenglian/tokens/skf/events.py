"""Hot-plug from the SKF library itself: a thread blocked in ``SKF_WaitForDevEvent``.

``SKF_WaitForDevEvent`` blocks until a device of the library is inserted or
removed; ``SKF_CancelWaitForDevEvent`` (no arguments: it cancels *the* wait of
the process) ends it.  Because the cancel is process-wide, there is one
:class:`DeviceEventHub` per library file per process, and every watcher that
wants the events subscribes to it; the thread runs while someone subscribes.

A library without the two functions has no hub (the watcher polls it).  A hub
whose wait fails (an error code, or returning again and again with no event:
some vendors implement it as a stub) gives up: its subscribers are told and
poll from then on.  Nothing here reads certificates or PINs: an event only
tells the watcher to look at that library now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from zhenglian import errors
from zhenglian.tokens.skf.library import DeviceEvent, SkfLibrary

log = logging.getLogger(__name__)

# Returns without an event in a row before the wait is taken for a stub (skfsoft and real
# libraries return only on an event or a cancel).
MAX_EMPTY_RETURNS = 20


@dataclass(frozen=True)
class _Subscriber:
    on_event: Callable[[DeviceEvent], None]
    on_failed: Callable[[str], None]


class DeviceEventHub:
    """The one thread of this process blocked in one library's SKF_WaitForDevEvent."""

    def __init__(self, lib: SkfLibrary) -> None:
        self.lib = lib
        self._lock = threading.Lock()
        self._subs: dict[int, _Subscriber] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failed: str | None = None  # why the event path was given up (then: poll)
        self.events_seen = 0

    # --- subscribers ----------------------------------------------------------

    def subscribe(self, on_event: Callable[[DeviceEvent], None], on_failed: Callable[[str], None]) -> int | None:
        """Start (or join) the wait; None when the event path failed before (poll instead)."""
        with self._lock:
            if self.failed is not None:
                return None
            self._next += 1
            self._subs[self._next] = _Subscriber(on_event, on_failed)
            if self._thread is None:
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"zhenglian-skf-events-{self.lib.path.name}")
                self._thread.start()
            return self._next

    def unsubscribe(self, token: int | None, timeout: float = 10.0) -> bool:
        """Leave; the last one out cancels the wait and joins the thread.  True when it ended."""
        with self._lock:
            if token is not None:
                self._subs.pop(token, None)
            if self._subs or self._thread is None:
                return True
            thread, self._thread = self._thread, None
            self._stopping.set()
        self.lib.cancel_wait()
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    # --- the thread -----------------------------------------------------------

    def _give_up(self, why: str) -> None:
        log.info("SKF_WaitForDevEvent of %s given up (%s): polling instead", self.lib.path.name, why)
        with self._lock:
            self.failed = why
            subs = list(self._subs.values())
            self._subs.clear()
            self._thread = None
        for sub in subs:
            _safely(lambda sub=sub: sub.on_failed(why))  # type: ignore[misc]

    def _run(self) -> None:
        empty = 0
        while not self._stopping.is_set():
            try:
                event = self.lib.wait_for_event()
            except errors.ZhenglianError as exc:
                if not self._stopping.is_set():
                    self._give_up(exc.code)
                return
            if self._stopping.is_set():
                return
            if event is None:
                empty += 1
                if empty >= MAX_EMPTY_RETURNS:
                    self._give_up("returns without an event")
                    return
                continue
            empty = 0
            with self._lock:
                self.events_seen += 1
                subs = list(self._subs.values())
            for sub in subs:
                _safely(lambda sub=sub, event=event: sub.on_event(event))  # type: ignore[misc]


def _safely(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception:  # a subscriber's bug must not end the wait for the others
        log.exception("SKF device event subscriber failed")
