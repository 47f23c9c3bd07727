"""The web-page bridge in the tray app: the service, and its dialogs on the GUI thread.

:func:`attach_bridge` is called by ``TrayApp.start()``; it starts the
loopback service (zhenglian.bridge) in its own thread and gives the signing
jobs their callbacks — the confirmation dialog (bridge_dialogs) and the PIN
dialogs (pin_dialogs.DialogPrompter).  Jobs run in worker threads; each
callback runs on the GUI thread through :class:`zhenglian.ui.marshal.GuiCaller`,
whose stop event makes a waiting worker give up, as cancelled, when the app quits.

Test hook (test-only, see zhenglian/bridge/testhook.py): with
``ZHENGLIAN_TEST_HOOKS=1`` the real dialogs are still shown, and then
answered by the hook — the confirmation by its button, the PIN typed from
the test's pipe.  It is announced loudly at start and at each use.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from zhenglian import errors
from zhenglian.bridge import protocol
from zhenglian.bridge.jobs import DONE, BridgeJobs, Job, SignRequestInfo
from zhenglian.bridge.service import BridgeService
from zhenglian.tokens.model import KeyInfo
from zhenglian.ui.marshal import GuiCaller, ThreadedPrompter

log = logging.getLogger(__name__)


def _test_hooks() -> Any:
    """zhenglian.bridge.testhook.TestHooks if asked for, else None.

    Never in a packaged build: build.spec leaves the module out (so it is imported by
    name here, never statically), and it refuses to act when frozen.
    """
    if getattr(sys, "frozen", False):
        return None
    try:
        hooks_module = importlib.import_module("zhenglian.bridge.testhook")
    except ImportError:
        return None
    return hooks_module.from_env()

def _hooked_prompter(key: KeyInfo, parent: Any, hooks: Any) -> Any:
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


# Per job: BridgeJobs runs each job in a thread of its own; the key its prompter was made for is
# noted there, so a refused factory PIN opens the change dialog for that key.
_job_thread = threading.local()


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
    hooks = _test_hooks()
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
        dlg = ConfirmSignDialog(info, tray_app.window)  # info.pin_entered: the key is already logged in
        if hooks is not None and hooks.confirm is not None:
            answer = hooks.confirm
            log.warning("TEST HOOK: the confirmation for %s is answered %r", info.origin, answer)
            if answer == "accept":  # a click, once the button is armed
                dlg.armed.connect(dlg.confirm_button.click)
            else:
                QTimer.singleShot(300, dlg.cancel_button.click)
        handle.dialogs.append(dlg)
        try:
            return dlg.exec() == int(QDialog.DialogCode.Accepted)
        finally:
            handle.dialogs.remove(dlg)
            dlg.deleteLater()

    servers: dict[str, str] = {}  # page origin -> its signing server, for the login PIN's text

    def confirm_login_on_gui(site: str, server: str) -> bool:
        """Before a login PIN for a page: the page is named first, and nothing is signed yet."""
        from PySide6.QtWidgets import QDialog

        from zhenglian.ui.bridge_dialogs import ConfirmLoginDialog

        servers[site] = server
        bring_up()
        box = ConfirmLoginDialog(site, server, tray_app.window)
        if hooks is not None and hooks.confirm is not None:
            log.warning("TEST HOOK: the login confirmation for %s is answered %r", site, hooks.confirm)
            QTimer.singleShot(300, box.continue_button.click if hooks.confirm == "accept" else box.reject)
        handle.dialogs.append(box)
        try:
            return box.exec() == int(QDialog.DialogCode.Accepted)
        finally:
            handle.dialogs.remove(box)
            box.deleteLater()

    def context() -> Any:
        """What the PIN is for, from the running job: the page, and the document once known."""
        from zhenglian.ui.pin_context import PinContext

        job = handle.jobs.table.running() if handle.jobs is not None else None
        if job is None:
            return None
        if job.step == "login":
            return PinContext.login(server=servers.get(job.origin, ""), site=job.origin)
        return PinContext.signing([job.title] if job.title else [], site=job.origin)

    def prompter(key: KeyInfo) -> Any:
        from zhenglian.ui.pin_dialogs import DialogPrompter

        ctx_now = context()
        _job_thread.key = key  # the job's key: the factory PIN's change dialog opens for it

        def make() -> Any:
            if hooks is not None and hooks.pin_fd is not None:
                return _hooked_prompter(key, tray_app.window, hooks)
            return DialogPrompter(key, tray_app.window, manifest=tray_app.ctx.tokens.pin_policy_manifest(key),
                                  context=ctx_now)

        return ThreadedPrompter(gui.call(make), gui, before=bring_up)

    def confirm(info: SignRequestInfo) -> bool:
        return bool(gui.call(lambda: confirm_on_gui(info)))

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
        elif isinstance(job.error, errors.InitialPinInUse) and getattr(_job_thread, "key", None) is not None:
            key = _job_thread.key  # the factory PIN was typed: nothing reached the key; change it now
            gui.post(lambda: tray_app.key_actions.factory_pin_refused(key, job.error))
        elif job.error is not None and job.error.code != "cancelled":
            from zhenglian.ui.i18n import error_text

            message = error_text(job.error, with_hint=False)
            title = QCoreApplication.translate("BridgeUi", "Web signing failed")
            gui.post(lambda: tray_app.tray.notify(title, message, True))

    jobs = BridgeJobs(ctx.settings, ctx.tokens, tray_app.controller.current_keys,
                      confirm, prompter, on_update=notify,
                      confirm_login=lambda site, server: bool(gui.call(lambda: confirm_login_on_gui(site, server))))
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
