"""Call GUI code from a worker thread and wait for the answer.

Token and network work runs in worker threads; dialogs (PIN, confirmation)
must run on the GUI thread.  :func:`call_in_gui` posts a call to the GUI
thread through a queued signal and blocks the worker until it returns.
:class:`ThreadedPrompter` wraps a GUI :class:`PinPrompter` this way so the
PIN flows of :mod:`zhenglian.tokens.pin` can run in a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot


class _Invoker(QObject):
    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run)

    @Slot(object)
    def _run(self, job: list[Any]) -> None:
        fn, args, box, done = job
        try:
            box["result"] = fn(*args)
        except BaseException as exc:  # handed back to the worker
            box["error"] = exc
        finally:
            done.set()


_invoker: _Invoker | None = None


def _get_invoker() -> _Invoker:
    global _invoker
    if _invoker is None:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("no Qt application")
        _invoker = _Invoker()
        _invoker.moveToThread(app.thread())
    return _invoker


def init() -> None:
    """Create the invoker on the GUI thread (call once at start-up)."""
    _get_invoker()


def call_in_gui(fn: Callable[..., Any], *args: Any) -> Any:
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is app.thread():
        return fn(*args)
    box: dict[str, Any] = {}
    done = threading.Event()
    _get_invoker().call.emit([fn, args, box, done])
    done.wait()
    if "error" in box:
        raise box["error"]
    return box.get("result")


class ThreadedPrompter:
    """A PinPrompter usable from a worker thread; every call runs on the GUI thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def keep_pin(self) -> bool:
        return bool(getattr(self.inner, "keep_pin", False))

    @property
    def error(self) -> Any:
        return getattr(self.inner, "error", None)

    @error.setter
    def error(self, value: Any) -> None:
        self.inner.error = value

    def locked(self, st: Any, error: Any) -> None:
        call_in_gui(self.inner.locked, st, error)

    def confirm_final_try(self, st: Any) -> bool:
        return bool(call_in_gui(self.inner.confirm_final_try, st))

    def ask_pin(self, st: Any) -> Any:
        return call_in_gui(self.inner.ask_pin, st)

    def ask_change(self, st: Any, policy: Any) -> Any:
        return call_in_gui(self.inner.ask_change, st, policy)

    def ask_unlock(self, st: Any, policy: Any) -> Any:
        return call_in_gui(self.inner.ask_unlock, st, policy)

    @contextmanager
    def pinpad(self, st: Any) -> Iterator[None]:
        cm = call_in_gui(self.inner.pinpad, st)
        call_in_gui(cm.__enter__)
        try:
            yield
        finally:
            call_in_gui(cm.__exit__, None, None, None)
