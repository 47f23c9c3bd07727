"""Call GUI code from a worker thread and wait for the answer.

Token and network work runs in worker threads; dialogs (PIN, confirmation)
must run on the GUI thread.  A :class:`GuiCaller` posts a call to the GUI
thread through a queued signal and blocks the worker until it returns — or,
when it was given a ``stop`` event that is set first (the app quits), stops
waiting with :class:`~zhenglian.errors.SignDeclined`.
:func:`call_in_gui` uses one shared caller without a stop event.
:class:`ThreadedPrompter` wraps a GUI :class:`PinPrompter` this way so the
PIN flows of :mod:`zhenglian.tokens.pin` can run in a worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from zhenglian import errors

log = logging.getLogger(__name__)


class GuiCaller(QObject):
    """Run functions on the GUI thread for worker threads.

    ``call`` blocks the worker until the function has returned (its exception
    is raised in the worker); ``post`` does not wait.  With a ``stop`` event,
    a waiting worker gives up with SignDeclined once it is set, and calls not
    yet run are skipped.
    """

    _call = Signal(object)
    _post = Signal(object)

    def __init__(self, stop: threading.Event | None = None) -> None:
        super().__init__()
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("no Qt application")
        self.moveToThread(app.thread())
        self.stop = stop
        # Emitted only on other threads than this object's (call and post run on the GUI thread
        # without them), where Qt queues a signal by itself.  Naming Qt.ConnectionType would
        # build PySide6's whole ``Qt`` namespace in the idle tray app (≈ 1 MB, ≈ 30 ms).
        self._call.connect(self._run)
        self._post.connect(self._run_posted)

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    @Slot(object)
    def _run(self, item: tuple[Callable[[], Any], dict[str, Any], threading.Event]) -> None:
        fn, box, done = item
        try:
            if not self._stopped():
                box["result"] = fn()
        except BaseException as exc:  # handed to the waiting worker
            box["error"] = exc
        finally:
            done.set()

    @Slot(object)
    def _run_posted(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a notification must not take the GUI down
            log.exception("GUI call posted from a worker failed")

    def call(self, fn: Callable[[], Any]) -> Any:
        if QThread.currentThread() is self.thread():
            return fn()
        box: dict[str, Any] = {}
        done = threading.Event()
        self._call.emit((fn, box, done))
        while not done.wait(0.2):
            if self._stopped():
                raise errors.SignDeclined()
        if "error" in box:
            raise box["error"]
        if "result" not in box:  # stopped before it ran
            raise errors.SignDeclined()
        return box["result"]

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the GUI thread later; do not wait."""
        if QThread.currentThread() is self.thread():
            QTimer.singleShot(0, lambda: self._run_posted(fn))  # later, as from a worker
            return
        self._post.emit(fn)


_shared: GuiCaller | None = None


def init() -> None:
    """Create the shared caller (call once at start-up, on the GUI thread)."""
    _get_shared()


def _get_shared() -> GuiCaller:
    global _shared
    if _shared is None:
        _shared = GuiCaller()
    return _shared


def call_in_gui(fn: Callable[..., Any], *args: Any) -> Any:
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is app.thread():
        return fn(*args)
    return _get_shared().call(lambda: fn(*args))


class ThreadedPrompter:
    """A PinPrompter usable from a worker thread; every call runs on the GUI thread.

    ``before`` runs on the GUI thread ahead of each question to the operator
    (the bridge brings the window up first); ``gui`` defaults to the shared caller.
    """

    def __init__(self, inner: Any, gui: GuiCaller | None = None,
                 before: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.gui = gui
        self.before = before or (lambda: None)

    def _call(self, fn: Callable[[], Any]) -> Any:
        if self.gui is None:
            return call_in_gui(fn)
        return self.gui.call(fn)

    def _ask(self, fn: Callable[[], Any]) -> Any:
        def run() -> Any:
            self.before()
            return fn()
        return self._call(run)

    def keep_pin(self) -> bool:
        return bool(self.inner.keep_pin())

    def show_error(self, error: Any) -> None:
        self._call(lambda: self.inner.show_error(error))

    def locked(self, st: Any, error: Any) -> None:
        self._ask(lambda: self.inner.locked(st, error))

    def confirm_final_try(self, st: Any) -> bool:
        return bool(self._ask(lambda: self.inner.confirm_final_try(st)))

    def ask_pin(self, st: Any) -> Any:
        return self._ask(lambda: self.inner.ask_pin(st))

    def ask_change(self, st: Any, policy: Any) -> Any:
        return self._call(lambda: self.inner.ask_change(st, policy))

    def ask_unlock(self, st: Any, policy: Any) -> Any:
        return self._call(lambda: self.inner.ask_unlock(st, policy))

    @contextmanager
    def pinpad(self, st: Any) -> Iterator[None]:
        cm = self._call(lambda: self.inner.pinpad(st))
        self._call(cm.__enter__)
        try:
            yield
        finally:
            self._call(lambda: cm.__exit__(None, None, None))
