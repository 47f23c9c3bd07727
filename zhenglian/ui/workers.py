"""Run token and network work off the GUI thread.

``run_async(fn, on_done, on_error)`` executes ``fn`` in Qt's global thread
pool and delivers the result (or the exception) back on the GUI thread
through a queued signal.  The GUI never blocks on a key or the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

_live: set[_Relay] = set()


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # delivered to the GUI, which shows a message
            if not isinstance(exc, Exception):
                raise
            self._emit(self.relay.failed, exc)
            return
        self._emit(self.relay.done, result)

    @staticmethod
    def _emit(signal: Any, value: object) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the application is shutting down: nobody to tell
            log.info("background task finished after its receiver was gone")


def run_async(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[BaseException], None] | None = None) -> None:
    relay = _Relay()
    _live.add(relay)

    def finish(_: object = None) -> None:
        _live.discard(relay)

    if on_done is not None:
        relay.done.connect(on_done)
    if on_error is not None:
        relay.failed.connect(on_error)
    else:
        relay.failed.connect(lambda exc: log.error("background task failed: %s", type(exc).__name__))
    relay.done.connect(finish)
    relay.failed.connect(finish)
    QThreadPool.globalInstance().start(_Task(fn, relay))
