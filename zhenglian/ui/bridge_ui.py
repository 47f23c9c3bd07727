"""The web-page bridge in the tray app: the service, and its dialogs on the GUI thread.

:func:`attach_bridge` is called by ``TrayApp.start()``; it starts the
loopback service (zhenglian.bridge) in its own thread and gives the signing
jobs their callbacks — the confirmation dialog (bridge_dialogs) and the PIN
dialogs (pin_dialogs.DialogPrompter).  Jobs run in worker threads; each
callback is posted to the GUI thread through a queued signal and the worker
waits on a threading.Event (and gives up, as cancelled, when the app quits).

Test hook (test-only, see zhenglian/bridge/testhook.py): with
``ZHENGLIAN_TEST_HOOKS=1`` the real dialogs are still shown, and then
answered by the hook — the confirmation by its button, the PIN typed from
the test's pipe.  It is announced loudly at start and at each use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

from zhenglian import errors
from zhenglian.bridge import protocol, testhook
from zhenglian.bridge.jobs import DONE, BridgeJobs, Job, SignRequestInfo
from zhenglian.bridge.service import BridgeService
from zhenglian.tokens.model import KeyInfo

log = logging.getLogger(__name__)

class GuiCaller(QObject):
    """Run a function on the GUI thread for a worker thread, and hand back its result.

    Create it on the GUI thread.  ``call`` blocks the worker until the
    function returns; when ``stop`` is set first (the app quits) the worker
    stops waiting with SignDeclined.
    """

    _call = Signal(object)
    _post = Signal(object)

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)
        self._post.connect(self._run_posted, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, item: tuple[Callable[[], Any], dict[str, Any], threading.Event]) -> None:
        fn, box, done = item
        try:
            if not self.stop.is_set():
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
            log.exception("bridge: GUI notification failed")

    def call(self, fn: Callable[[], Any]) -> Any:
        if QThread.currentThread() is self.thread():
            return fn()
        box: dict[str, Any] = {}
        done = threading.Event()
        self._call.emit((fn, box, done))
        while not done.wait(0.2):
            if self.stop.is_set():
                raise errors.SignDeclined()
        if "error" in box:
            raise box["error"]
        if "result" not in box:  # stopped before it ran
            raise errors.SignDeclined()
        return box["result"]

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the GUI thread later; do not wait."""
        self._post.emit(fn)


class ThreadPrompter:
    """A PinPrompter for the job's thread: each call runs ``inner``'s method on the GUI thread."""

    def __init__(self, inner: Any, gui: GuiCaller, before: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.gui = gui
        self.before = before or (lambda: None)

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
        self.gui.call(lambda: (self.before(), self.inner.locked(st, error)))

    def confirm_final_try(self, st: Any) -> bool:
        return bool(self.gui.call(lambda: (self.before(), self.inner.confirm_final_try(st))[1]))

    def ask_pin(self, st: Any) -> Any:
        return self.gui.call(lambda: (self.before(), self.inner.ask_pin(st))[1])

    def ask_change(self, st: Any, policy: Any) -> Any:
        return self.gui.call(lambda: self.inner.ask_change(st, policy))

    def ask_unlock(self, st: Any, policy: Any) -> Any:
        return self.gui.call(lambda: self.inner.ask_unlock(st, policy))

    @contextmanager
    def pinpad(self, st: Any) -> Iterator[None]:
        cm = self.gui.call(lambda: self.inner.pinpad(st))
        self.gui.call(cm.__enter__)
        try:
            yield
        finally:
            self.gui.call(lambda: cm.__exit__(None, None, None))


def _hooked_prompter(key: KeyInfo, parent: Any, hooks: testhook.TestHooks) -> Any:
    """TEST HOOK: the real DialogPrompter, whose PIN dialog is filled from the test's pipe."""
    from zhenglian.ui.pin_dialogs import DialogPrompter, PinDialog

    class HookedPrompter(DialogPrompter):
        def ask_pin(self, st: Any) -> Any:
            pin = hooks.read_pin()
            log.warning("TEST HOOK: typing the test's PIN into the PIN dialog")

            def fill(tries: int = 50) -> None:
                dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, PinDialog) and w.isVisible()]
                if not dialogs:
                    if tries:
                        QTimer.singleShot(100, lambda: fill(tries - 1))
                    return
                if pin is None:
                    dialogs[-1].reject()
                else:
                    dialogs[-1].field.setText(pin)
                    dialogs[-1].accept()

            QTimer.singleShot(200, fill)
            return super().ask_pin(st)

    return HookedPrompter(key, parent)


class BridgeHandle:
    """What attach_bridge returns: ``stop()`` on quit; the service and jobs for tests."""

    def __init__(self, service: BridgeService | None, jobs: BridgeJobs | None, stop: threading.Event) -> None:
        self.service = service
        self.jobs = jobs
        self._stop = stop
        self.dialogs: list[Any] = []

    @property
    def port(self) -> int | None:
        return self.service.port if self.service is not None else None

    def stop(self) -> None:
        self._stop.set()
        for dlg in list(self.dialogs):
            dlg.reject()
        if self.jobs is not None:
            self.jobs.stop(wait_s=1.0)
        if self.service is not None:
            self.service.stop()


def attach_bridge(tray_app: Any) -> BridgeHandle:
    """Start the loopback service for the signing web page (call on the GUI thread)."""
    ctx = tray_app.ctx
    hooks = testhook.from_env()
    if hooks is not None:
        hooks.announce()
    stop = threading.Event()
    gui = GuiCaller(stop)
    handle = BridgeHandle(None, None, stop)

    def bring_up() -> None:
        tray_app.window.bring_up()

    def confirm_on_gui(info: SignRequestInfo) -> bool:
        from PySide6.QtWidgets import QDialog

        from zhenglian.ui.bridge_dialogs import ConfirmSignDialog

        bring_up()
        dlg = ConfirmSignDialog(info, tray_app.window)
        if hooks is not None and hooks.confirm is not None:
            answer = hooks.confirm
            log.warning("TEST HOOK: the confirmation for %s is answered %r", info.origin, answer)
            button = dlg.confirm_button if answer == "accept" else dlg.cancel_button
            QTimer.singleShot(300, button.click)
        handle.dialogs.append(dlg)
        try:
            return dlg.exec() == int(QDialog.DialogCode.Accepted)
        finally:
            handle.dialogs.remove(dlg)
            dlg.deleteLater()

    def prompter(key: KeyInfo) -> Any:
        from zhenglian.ui.pin_dialogs import DialogPrompter

        def make() -> Any:
            if hooks is not None and hooks.pin_fd is not None:
                return _hooked_prompter(key, tray_app.window, hooks)
            return DialogPrompter(key, tray_app.window)

        return ThreadPrompter(gui.call(make), gui, before=bring_up)

    def notify(job: Job) -> None:
        if job.step != "finished":
            return
        if job.state == DONE:
            if (job.result or {}).get("status") == "queued":
                text = QCoreApplication.translate("BridgeUi", "Signed, waiting to upload: %1")
            else:
                text = QCoreApplication.translate("BridgeUi", "Signed and uploaded: %1")
            title = QCoreApplication.translate("BridgeUi", "Web signing")
            gui.post(lambda: tray_app.tray.notify(title, text.replace("%1", job.title)))
        elif job.error is not None and job.error.code != "cancelled":
            from zhenglian.ui.i18n import error_text

            message = error_text(job.error, with_hint=False)
            title = QCoreApplication.translate("BridgeUi", "Web signing failed")
            gui.post(lambda: tray_app.tray.notify(title, message, True))

    jobs = BridgeJobs(ctx.settings, ctx.tokens, tray_app.controller.current_keys,
                      lambda info: bool(gui.call(lambda: confirm_on_gui(info))), prompter, on_update=notify)
    service = BridgeService(protocol.Policy(ctx.settings), jobs, port=ctx.settings.bridge_port)
    try:
        service.start()
    except errors.BridgePortsBusy as exc:
        log.warning("bridge not started: %s", exc.message_en())
        from zhenglian.ui.i18n import error_text

        title = QCoreApplication.translate("BridgeUi", "Web signing unavailable")
        tray_app.tray.notify(title, error_text(exc), True)
        return handle
    handle.service, handle.jobs = service, jobs
    return handle
