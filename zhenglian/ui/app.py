"""The tray application: ``zhenglian`` with no arguments.

Start-up is kept short so the tray icon appears quickly: the icon is shown
first, with only Qt, the settings and the translations loaded (the key layer,
the controller and the task board are imported and built in the event loop's
first turn, after the icon); the window's pages are built on first use,
pyHanko is imported only when signing, and the first key scan runs in the
watcher's thread.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from zhenglian import __version__, logsetup
from zhenglian.config import Settings
from zhenglian.instance import InstanceUnavailable
from zhenglian.ui import i18n
from zhenglian.ui.single import SingleInstance
from zhenglian.ui.tray import Tray

if TYPE_CHECKING:  # imported where used: the tray icon is shown before any of them is needed
    from zhenglian.services import Context
    from zhenglian.tokens.watcher import KeyEvent
    from zhenglian.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)


class TrayApp(QObject):
    """Everything the tray application is, without the event loop (tests build this).

    ``tray``: an icon already shown (``run`` shows it before anything else is built).
    """

    def __init__(self, ctx: Context, qapp: QApplication, tray: Tray | None = None) -> None:
        super().__init__()
        from zhenglian.ui.controller import AppController
        from zhenglian.ui.gcguard import GuiGarbageCollector

        self.ctx = ctx
        self.qapp = qapp
        self.gc_guard = GuiGarbageCollector(self)  # Qt objects are only ever freed on the GUI thread
        self.controller = AppController(ctx, self)
        if tray is None:
            tray = Tray(self)
        else:
            tray.setParent(self)
        self.tray = tray
        self._window: MainWindow | None = None
        from zhenglian.ui import marshal
        from zhenglian.ui.task_board import TaskBoard

        marshal.init()  # worker threads show PIN dialogs through it

        from zhenglian.ui.key_actions import KeyActions

        self.key_actions = KeyActions(self)
        self.task_board = TaskBoard(ctx)  # syncs from the start: the tray shows the pending count
        self.task_board.pendingChanged.connect(self.controller.set_pending)
        self.task_board.newTasks.connect(lambda tasks: self.tray.notify(*self.task_board.new_tasks_text(tasks)))
        self.controller.stateChanged.connect(self._on_state)
        self.controller.keyEvent.connect(self._on_key_event)
        self.tray.action.connect(self.on_action)
        self.tray.set_state(self.controller.state)

    @property
    def window(self) -> MainWindow:
        """Built on first use: the tray comes up faster and idles smaller."""
        if self._window is None:
            self._window = self._build_window()
            self._on_state(self.controller.state)
        return self._window

    def _build_window(self) -> MainWindow:
        from zhenglian import apps
        from zhenglian.ui.apps_view import AppsView
        from zhenglian.ui.diagnostics_view import DiagnosticsView
        from zhenglian.ui.keys_view import KeysView
        from zhenglian.ui.mainwindow import MainWindow

        window = MainWindow()
        self.keys_view = KeysView()
        window.add_page("keys", self.keys_view)
        from zhenglian.ui.tasks_view import TasksView

        self.tasks_view = TasksView(self.task_board)
        self.tasks_view.notify.connect(lambda title, text, warn: self.tray.notify(title, text, warn))
        self.tasks_view.factoryPinRefused.connect(self.key_actions.factory_pin_refused)
        self.tasks_view.pinFailed.connect(self.key_actions.pin_failed)
        window.add_page("tasks", self.tasks_view)
        from zhenglian.ui.documents_view import DocumentsView

        self.documents_view = DocumentsView(self)
        window.add_page("verify", self.documents_view)
        window.pdfDropped.connect(self.open_document)
        from zhenglian.ui.register_view import RegisterView

        self.register_view = RegisterView()  # 用印登记 (docs/register.md)
        window.add_page("register", self.register_view)
        self.apps_view = AppsView(apps.apps(self.ctx.settings))
        self.diagnostics_view = DiagnosticsView()
        window.add_page("apps", self.apps_view)
        window.add_page("diagnostics", self.diagnostics_view)
        self.keys_view.retry.connect(self.controller.refresh)
        self.keys_view.keyAction.connect(self.on_key_action)
        self.keys_view.vendorClient.connect(self.start_vendor_client)
        self.diagnostics_view.refreshRequested.connect(self.refresh_diagnostics)
        window.closedToTray.connect(self._on_closed_to_tray)
        return window

    # --- start / stop --------------------------------------------------------

    def start(self) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        else:
            log.info("no system tray: showing the window instead")
            self.window.bring_up()
        self.controller.start()
        self.key_actions.start()
        self.start_bridge()
        self.first_run()

    def first_run(self) -> bool:
        """The very first start: the window comes up (an icon alone is easy to miss) and a
        notification says the app lives in the tray.  True when this was the first start."""
        extra = self.ctx.settings._extra
        if extra.get("first_run_done"):
            return False
        self.window.bring_up()
        self.window.show_page("keys")
        self.tray.notify(self.tr("zhenglian is running"),
                         self.tr("zhenglian lives in the tray (the red seal icon): click it to open this window. "
                                 "Closing the window keeps it running; use Quit in its menu to end it."))
        extra["first_run_done"] = True
        extra["tray_notice_shown"] = True  # said just now: not again on the first close
        try:
            self.ctx.settings.save()
        except OSError as exc:
            log.warning("could not save settings: %s", exc.strerror)
        return True

    def start_bridge(self) -> None:
        """The loopback service the signing web page talks to (zhenglian/ui/bridge_ui.py)."""
        try:
            from zhenglian.ui import bridge_ui
        except ImportError:
            self.bridge = None
            return
        self.bridge = bridge_ui.attach_bridge(self)

    def quit(self) -> None:
        self.gc_guard.stop()
        if getattr(self, "bridge", None) is not None:
            self.bridge.stop()
        self.task_board.stop()
        self.controller.stop()
        self.tray.hide()
        if self._window is not None:
            self._window.quitting = True
            self._window.close()
        self.qapp.quit()

    # --- events --------------------------------------------------------------

    def _attention_texts(self) -> list[str]:
        return [self.tray.attention_text(a) if a.kind != "driver_missing" else i18n.pick(a.detail_zh, a.detail_en)
                for a in self.controller.state.attention]

    def _on_state(self, state: Any) -> None:
        self.tray.set_state(state)
        self.task_board.set_keys(state.keys)
        if state.keys:
            self.key_actions.remember(state.keys)
        if self._window is None:
            return
        snap = self.controller.watcher.snapshot()
        self.keys_view.set_keys(snap.keys, snap.unrecognised)
        self._window.set_state(state, self._attention_texts())

    def _on_key_event(self, event: KeyEvent) -> None:
        self.tray.notify_key_event(event)

    def _on_closed_to_tray(self) -> None:
        extra = self.ctx.settings._extra
        if not extra.get("tray_notice_shown"):
            self.tray.notify(self.tr("zhenglian keeps running"),
                             self.tr("zhenglian is still in the tray. Use Quit in its menu to end it."))
            extra["tray_notice_shown"] = True
            try:
                self.ctx.settings.save()
            except OSError as exc:
                log.warning("could not save settings: %s", exc.strerror)

    def on_action(self, name: str) -> None:
        if name in ("open", "certs"):
            self.window.show_page("keys")
        elif name == "tasks":
            self.window.show_page("tasks")
        elif name == "diagnostics":
            self.refresh_diagnostics()
            self.window.show_page("diagnostics")
        elif name == "change_pin":
            self.key_actions.change_pin()
        elif name == "renew":
            self.key_actions.renew()
        elif name == "settings":
            self.open_settings()
        elif name == "about":
            self.about()
        elif name == "quit":
            self.quit()
        else:
            self.window.show_page("keys")

    def open_document(self, path: Any) -> None:
        """A PDF dropped on the window: check its signatures; it can then be signed here."""
        self.window.show_page("verify")
        self.documents_view.open(path)

    def on_key_action(self, name: str, key: Any) -> None:
        actions = {"change_pin": self.key_actions.change_pin, "renew": self.key_actions.renew,
                   "seals": self.key_actions.show_seals, "unlock": self.key_actions.unlock}
        actions[name](key)

    # --- actions -------------------------------------------------------------

    def refresh_diagnostics(self) -> None:
        from zhenglian import diagnostics
        from zhenglian.ui.diagnostics_view import record_error
        from zhenglian.ui.workers import run_async

        def done(report: dict[str, Any]) -> None:
            self.diagnostics_view.set_report(report)

        def failed(exc: BaseException) -> None:
            text = i18n.error_text(exc)
            record_error(text)
            self.diagnostics_view.set_error(text)

        run_async(lambda: diagnostics.collect(self.ctx), done, failed)

    def open_settings(self) -> None:
        from zhenglian.ui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.ctx.settings, self.window)
        if dlg.exec():
            from zhenglian import apps

            self.apps_view.set_apps(apps.apps(self.ctx.settings))

    def about_text(self) -> str:
        """Version, what it is, and whom to call: each CA's support contacts (drivers/*.toml)."""
        import html

        lines = [self.tr("<b>zhenglian {v}</b><br>Open-source e-seal client for SZCA, NETCA and GDCA keys.<br>"
                         "Licence: Apache-2.0").format(v=__version__)]
        contacts = []
        for m in self.ctx.manifests.cas():
            s = m.support
            parts = []
            if s.hotline:
                parts.append(self.tr("hotline {numbers}").format(numbers=" / ".join(s.hotline)))
            if s.website:
                parts.append(html.escape(s.website))
            if parts:
                contacts.append(f"{html.escape(i18n.pick(m.name_zh, m.name_en))}: " + "; ".join(parts))
        if contacts:
            lines.append("<b>" + self.tr("Support (keys, certificates, PIN unlock):") + "</b><br>" + "<br>".join(contacts))
        return "<br><br>".join(lines)

    def about(self) -> None:
        QMessageBox.about(self.window, self.tr("About zhenglian"), self.about_text())

    def start_vendor_client(self, manifest_id: str) -> None:
        from zhenglian.vendor import start_vendor_client

        m = self.ctx.manifests.by_id(manifest_id)
        if m is None:
            return
        try:
            start_vendor_client(m)
        except Exception as exc:
            QMessageBox.warning(self.window, self.tr("zhenglian"), i18n.error_text(exc))
            return
        QTimer.singleShot(3000, self.controller.refresh)


def _release_memory() -> None:
    """Give the start-up's freed heap back to the system (glibc keeps it otherwise).

    The tray app idles for hours; what it needed once at start-up (parsing
    certificates, seals, the first task list) should not stay resident.
    """
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def run(args: argparse.Namespace) -> int:
    """The tray icon first (Qt, settings, translations, the single-instance guard), then the rest.

    Everything else — the drivers, the key watcher, the task board, the bridge — is built
    in the event loop's first turn, right after the icon is up.  A failure there ends
    the application with the same message and exit code as before the split.
    """
    t0 = time.perf_counter()
    settings = Settings.load()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setApplicationName("zhenglian")
    qapp.setApplicationVersion(__version__)
    single = SingleInstance()
    try:
        if not single.listen():
            print("证联已在运行，已切换到它的窗口 / zhenglian is already running; its window was "
                  "brought up")
            return 0
    except InstanceUnavailable as exc:
        log.warning("running without the single-instance guard: %s", exc)
    i18n.install_translator(qapp, settings.language)
    tray: Tray | None = None
    if QSystemTrayIcon.isSystemTrayAvailable():
        tray = Tray()
        tray.show_initial()
        tray.show()
        _startup_mark()
        log.info("tray icon up after %.0f ms", (time.perf_counter() - t0) * 1000)
    logsetup.open_log()  # held until now (cli.main): logging.handlers is not needed for the icon
    held: list[Any] = []  # the application, kept alive for the event loop
    failed: list[BaseException] = []

    def build() -> None:
        try:
            from zhenglian.services import Context

            ctx = Context.create(getattr(args, "module", []) or [], settings)
            app = TrayApp(ctx, qapp, tray)
            held.append(app)
            single.activated.connect(lambda _msg: app.window.bring_up())
            app.start()
        except BaseException as exc:  # noqa: BLE001 - reported by run() once the loop has stopped
            failed.append(exc)
            if tray is not None:
                tray.hide()
            qapp.exit(1)
            return
        QTimer.singleShot(15000, _settle)  # after the first scan, reminders and sync settle
        log.info("tray application up after %.0f ms", (time.perf_counter() - t0) * 1000)
        if tray is None:
            _startup_mark()
        _startup_mark(".up")

    QTimer.singleShot(0, build)
    try:
        code = qapp.exec()
    finally:
        single.close()
    if failed:
        raise failed[0]
    return code


def _startup_mark(suffix: str = "") -> None:
    """benchmarks/tray_bench.py: when the tray icon was shown (``suffix`` "": the mark file),
    the whole application was up (".up") and the start-up memory was given back
    (".settled"), in wall-clock time."""
    mark = os.environ.get("ZHENGLIAN_STARTUP_MARK")
    if mark:
        Path(mark + suffix).write_text(repr(time.time()), encoding="utf-8")


def _settle() -> None:
    _release_memory()
    _startup_mark(".settled")
