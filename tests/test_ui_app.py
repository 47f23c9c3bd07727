"""The tray application (pytest-qt, offscreen)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from helpers.ui import close_app  # noqa: E402

from zhenglian.config import Settings  # noqa: E402
from zhenglian.services import Context  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tray_app(qtbot, qapp, demo_keys, monkeypatch):
    from zhenglian.ui.app import TrayApp

    monkeypatch.setattr(qapp, "quit", lambda: None)  # the test owns the event loop
    app = TrayApp(Context.create(), qapp)
    qtbot.addWidget(app.window)
    yield app
    close_app(app)


def _poll(app) -> None:
    """One watcher round, delivered like the watcher thread does."""
    for ev in app.controller.watcher.poll_once():
        app.controller._fromWatcher.emit(ev)
    app.controller._recompute()


def _poll_until(app, qtbot, cond, timeout: float = 5.0) -> None:
    """Poll until ``cond``: a round is skipped while a worker holds the module (by design)."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "state did not change"
        qtbot.wait(100)
        _poll(app)


def test_tray_state_follows_insert_and_removal(tray_app, make_key, softhsm_conf, qtbot) -> None:
    from zhenglian.reference import softhsm

    _poll(tray_app)
    state = tray_app.controller.state
    assert state.kind == "attention"  # GDCA-DEMO expires within 30 days
    assert any(a.kind == "cert_expiring" for a in state.attention)
    assert "东莞市虎门样例贸易有限公司" in tray_app.tray.icon.toolTip()
    n = len(state.keys)

    prov = make_key(label="UI-INSERT")
    events = []
    tray_app.controller.keyEvent.connect(events.append)
    _poll_until(tray_app, qtbot, lambda: len(tray_app.controller.state.keys) == n + 1)
    assert [e.kind for e in events] == ["inserted"] and not events[0].initial
    from zhenglian.ui.keys_view import KeyCard

    assert any(c.key.label == "UI-INSERT" for c in tray_app.keys_view.findChildren(KeyCard))
    assert prov.spec.organization in tray_app.tray.icon.toolTip()

    softhsm.delete_token(softhsm_conf, "UI-INSERT")
    _poll_until(tray_app, qtbot, lambda: len(tray_app.controller.state.keys) == n)
    assert events[-1].kind == "removed"


def test_pending_badge_and_state_kinds(tray_app) -> None:
    from zhenglian import appstate

    assert appstate.compute([], [], 0).kind == "no_key"
    _poll(tray_app)
    keys = [k for k in tray_app.controller.current_keys() if k.label == "SZCA-DEMO"]
    assert appstate.compute(keys, [], 0).kind == "ready"
    assert appstate.compute(keys, [], 3).kind == "pending"
    tray_app.controller.set_pending(5)
    assert tray_app.controller.state.pending == 5
    assert tray_app.tray.actions["tasks"].text().endswith("(5)")
    assert "5" in tray_app.tray.icon.toolTip()


def test_menu_actions(tray_app, qtbot, monkeypatch, qapp) -> None:
    from PySide6.QtWidgets import QMessageBox

    from zhenglian.ui import i18n

    i18n.install_translator(qapp, "en_US")  # the English source texts, whatever an earlier test left installed
    _poll(tray_app)
    tray_app.tray.actions["diagnostics"].trigger()
    assert tray_app.window.stack.currentWidget() is tray_app.diagnostics_view
    qtbot.waitUntil(lambda: "SZCA-DEMO" in tray_app.diagnostics_view.text.toPlainText(), timeout=10000)
    tray_app.diagnostics_view.copy()
    from PySide6.QtGui import QGuiApplication

    assert "Drivers:" in QGuiApplication.clipboard().text()

    tray_app.tray.actions["open"].trigger()
    assert tray_app.window.stack.currentWidget() is tray_app.keys_view
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda *a: shown.append(a[2]))
    tray_app.tray.actions["about"].trigger()
    assert shown and "0.1.0" in shown[0]
    stopped = []
    monkeypatch.setattr(tray_app.controller, "stop", lambda: stopped.append(True))
    tray_app.tray.actions["quit"].trigger()
    assert stopped and tray_app.window.quitting


def test_close_keeps_running_in_tray_and_notices_once(tray_app, qtbot) -> None:
    tray_app.ctx.settings._extra.pop("tray_notice_shown", None)  # earlier windows were closed too
    notices = []
    tray_app.tray.notify = lambda title, text, warning=False: notices.append(title)
    tray_app.window.show()
    tray_app.window.close()
    assert not tray_app.window.isVisible()
    tray_app.window.show()
    tray_app.window.close()
    assert len(notices) == 1
    assert Settings.load()._extra.get("tray_notice_shown") is True


def test_settings_persist(qtbot, tmp_path, monkeypatch) -> None:
    from zhenglian.ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    s = Settings.load()
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    dlg.server.setText("not a url with spaces")
    dlg.accept()
    assert "http" in dlg.error.text()
    dlg.server.setText("https://[sign.example.org")  # an unmatched bracket: told, not a traceback
    dlg.error.clear()
    dlg.accept()
    assert "http" in dlg.error.text()
    dlg.server.setText("http://sign.example.org")  # plain http to another machine: refused when saved
    dlg.error.clear()
    dlg.accept()
    assert "https://" in dlg.error.text() and Settings.load().server_url != "http://sign.example.org"
    dlg.server.setText("https://sign.example.org")
    dlg.language.setCurrentIndex(1)
    dlg.key_poll.setValue(700)
    dlg.autostart.setChecked(True)
    dlg.modules.addItem("/opt/netca/lib/libnetca_crypto.so")
    assert all(dlg.log_level.itemText(i) != dlg.log_level.itemData(i) for i in range(dlg.log_level.count()))
    dlg.log_level.setCurrentIndex(dlg.log_level.findData("DEBUG"))  # shown in words, saved as the level
    dlg.accept()
    again = Settings.load()
    assert again.log_level == "DEBUG"
    assert again.server_url == "https://sign.example.org"
    assert again.language == "en_US"
    assert again.key_poll_ms == 700
    assert again.extra_modules == ["/opt/netca/lib/libnetca_crypto.so"]
    assert again.autostart is True
    desktop = tmp_path / "xdg" / "autostart" / "zhenglian.desktop"
    assert "Exec=" in desktop.read_text()
    dlg2 = SettingsDialog(again)
    qtbot.addWidget(dlg2)
    assert dlg2.log_level.currentData() == "DEBUG"
    dlg2.autostart.setChecked(False)
    dlg2.accept()
    assert not desktop.exists()
    again.server_url = ""
    again.language = "zh_CN"
    again.extra_modules = []
    again.key_poll_ms = 500
    again.log_level = "INFO"
    again.save()


def test_settings_rows_are_not_cut_off_in_english(qtbot, qapp, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QCheckBox

    from zhenglian.ui import i18n
    from zhenglian.ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    i18n.install_translator(qapp, "en_US")
    try:
        dlg = SettingsDialog(Settings.load())
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitExposed(dlg)
        boxes = dlg.findChildren(QCheckBox)
        assert boxes and any("seal register" in b.text() for b in boxes)
        for box in boxes:
            assert box.width() >= box.sizeHint().width(), (box.text(), box.width(), box.sizeHint().width())
    finally:
        i18n.install_translator(qapp, "zh_CN")


def test_second_launch_brings_up_the_first(qtbot, qapp) -> None:
    from zhenglian.ui.single import SingleInstance

    single = SingleInstance()
    assert single.listen()
    threads: list[bool] = []
    single.activated.connect(lambda _m: threads.append(threading.current_thread()
                                                       is threading.main_thread()))
    proc = subprocess.Popen([sys.executable, "-m", "zhenglian"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with qtbot.waitSignal(single.activated, timeout=15000) as blocker:
            pass
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert blocker.args == ["show"]
        assert threads == [True], "activated must reach its slots on the GUI thread"
        assert "已在运行" in out
    finally:
        if proc.poll() is None:  # it did not find us and became a tray app of its own
            proc.kill()
            proc.wait(10)
        single.close()


def test_slow_key_does_not_block_the_event_loop(qtbot, qapp, tmp_path, demo_keys, monkeypatch) -> None:
    """A driver stuck in C_GetTokenInfo (held until the test releases it): the window still
    answers events meanwhile, and the key appears once the driver answers."""
    from PySide6.QtCore import QTimer

    from zhenglian.reference import softhsm
    from zhenglian.ui.app import TrayApp

    build = subprocess.run(["bash", str(ROOT / "tests/pkcs11_lockproxy/build.sh"), str(tmp_path)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    target = tmp_path / "libsofthsm2-slow-target.so"
    shutil.copy(softhsm.module_path(), target)
    hold = tmp_path / "hold"
    hold.mkdir()
    monkeypatch.setenv("LOCKPROXY_TARGET", str(target))
    monkeypatch.setenv("LOCKPROXY_HOLD_DIR", str(hold))
    monkeypatch.setenv("LOCKPROXY_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(qapp, "quit", lambda: None)
    slow = str(tmp_path / "liblockproxy.so")
    ctx = Context.create([slow])
    app = TrayApp(ctx, qapp)
    qtbot.addWidget(app.window)
    answered: list[bool] = []
    app.controller.start()
    try:
        qtbot.waitUntil((hold / "entered").exists, timeout=20000)  # the driver is now stuck
        QTimer.singleShot(0, lambda: answered.append(True))
        app.window.show_page("keys")
        qtbot.waitUntil(lambda: bool(answered), timeout=20000)  # ... and the GUI thread is not
        assert not (hold / "release").exists()
        assert not any(k.module_path == slow for k in app.controller.current_keys())
        (hold / "release").touch()
        qtbot.waitUntil(lambda: any(k.module_path == slow for k in app.controller.current_keys()), timeout=20000)
    finally:
        (hold / "release").touch()
        close_app(app)


def test_run_shows_the_tray_icon_before_it_builds_the_rest(qapp, monkeypatch, tmp_path: Path) -> None:
    """The icon first; drivers, watcher and the rest in the event loop's first turn.

    A failure there still ends ``run`` with the error (the command line reports it as before).
    """
    import argparse

    from zhenglian import services
    from zhenglian.ui import app as appmod

    order: list[str] = []
    shown = appmod.Tray.show

    def show(self) -> None:  # type: ignore[no-untyped-def]
        order.append("icon")
        shown(self)

    class Stop(Exception):
        pass

    def create(cls, *a, **k):  # type: ignore[no-untyped-def]
        order.append("drivers")
        raise Stop()

    monkeypatch.setattr(appmod.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    monkeypatch.setattr(appmod.Tray, "show", show)
    monkeypatch.setattr(services.Context, "create", classmethod(create))
    monkeypatch.setattr(appmod.i18n, "install_translator", lambda *a, **k: None)  # the shared QApplication
    # The log file opens once the icon is up (records held until then); not in this test process.
    monkeypatch.setattr(appmod.logsetup, "open_log", lambda: order.append("log"))
    monkeypatch.setenv("ZHENGLIAN_STARTUP_MARK", str(tmp_path / "mark"))
    try:
        with pytest.raises(Stop):
            appmod.run(argparse.Namespace(module=[]))
    finally:
        qapp.setQuitOnLastWindowClosed(True)
    assert order == ["icon", "log", "drivers"]
    assert (tmp_path / "mark").is_file()  # written when the icon was shown
    assert not (tmp_path / "mark.up").exists()  # the rest never came up


def test_prerendered_tray_icons_match_their_svgs(qapp) -> None:
    """The PNGs the tray starts with are what the SVG renders to now (an SVG changed without
    re-running scripts/icons.py fails here), and an icon without a badge is made from them."""
    from PySide6.QtGui import QImage

    from zhenglian.ui import icons

    names = sorted(set(icons.TRAY_ICON.values()))
    assert names == ["tray-attention.svg", "tray-nokey.svg", "tray-ready.svg"]
    for name in names:
        for size in icons.SIZES:
            png = QImage(str(icons.png_path(name, size)))
            assert not png.isNull(), f"missing {icons.png_path(name, size)}: run scripts/icons.py"
            fmt = png.format()
            assert png == icons.render(name, size).toImage().convertToFormat(fmt), (name, size)
        ic = icons.icon(name)
        assert sorted(s.width() for s in ic.availableSizes()) == sorted(icons.SIZES)
        assert ic.pixmap(22, 22).toImage().convertToFormat(QImage.Format.Format_ARGB32) == \
            QImage(str(icons.png_path(name, 22))).convertToFormat(QImage.Format.Format_ARGB32)
    badged = icons.icon("tray-ready.svg", 3)  # painted: differs from the plain icon
    assert badged.pixmap(22, 22).toImage() != icons.icon("tray-ready.svg").pixmap(22, 22).toImage()


def _last_line_offscreen(code: str, **env: str) -> str:
    """``code`` run in a fresh interpreter on Qt's offscreen platform: the last line it printed
    (what a process imported is only seen in a process of its own)."""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, QT_QPA_PLATFORM="offscreen", **env),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


def test_the_first_tray_icon_loads_neither_qtsvg_nor_the_key_layer() -> None:
    """What runs before the icon is shown (ui/app.run): the tray's module, its first icon and its
    menu pull in neither QtSvg nor the key layer, pkcs11, http.server or multiprocessing, and
    do not build PySide6's ``Qt`` namespace (its enums cost ≈ 30 ms on first use)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from zhenglian.ui.app import run\n"
        "from zhenglian.ui.tray import Tray\n"
        "from zhenglian.ui.single import SingleInstance\n"
        "t = Tray(); t.show_initial()\n"
        "assert not t.icon.icon().isNull()\n"
        "bad = [m for m in ('PySide6.QtSvg', 'zhenglian.tokens', 'pkcs11', 'http.server', 'multiprocessing',\n"
        "                   'logging.handlers') if m in sys.modules]\n"
        "import PySide6.QtCore\n"
        "bad += ['Qt namespace'] if 'Qt' in PySide6.QtCore.__dict__ else []\n"
        "print(bad)\n"
    )
    assert _last_line_offscreen(code) == "[]"


def test_the_idle_app_builds_neither_the_qt_namespace_nor_the_reminder_dialogs(tmp_path: Path) -> None:
    """What the tray app keeps at idle (issue 19): building it (the GUI caller worker threads
    prompt through, the key actions) and an hourly reminder check with nothing due leave
    PySide6's ``Qt`` namespace (≈ 1 MB of enums) and the reminder dialogs' module unloaded; reading
    a key's seal names does not load ``uuid`` (only making a seal needs it)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "qapp = QApplication([])\n"
        "from zhenglian.services import Context\n"
        "from zhenglian.ui.app import TrayApp\n"
        "app = TrayApp(Context.create(), qapp)\n"
        "assert app.key_actions.check_reminders() == []\n"
        "import PySide6.QtCore, zhenglian.seals.ses  # the seal names of a key plugged in\n"
        "print(['Qt namespace'] * ('Qt' in PySide6.QtCore.__dict__)\n"
        "      + [m for m in ('zhenglian.ui.lifecycle_dialogs', 'uuid') if m in sys.modules])\n"
    )
    assert _last_line_offscreen(code, ZHENGLIAN_HOME=str(tmp_path / "home"),
                                ZHENGLIAN_USB_SYSFS=str(tmp_path / "no-usb")) == "[]"


def test_no_arguments_start_the_tray_with_what_the_parser_would_give(monkeypatch) -> None:
    """``zhenglian`` alone skips building the parser (before the icon); the tray gets the same args."""
    from zhenglian.cli import main as climain

    got: list[object] = []
    monkeypatch.setattr(climain, "_start_gui", lambda args: got.append(args) or 0)
    assert climain.main([]) == 0
    assert vars(got[0]) == vars(climain.build_parser(climain.NO_COMMAND).parse_args([]))
    assert climain.main(["--module", "/x/lib.so"]) == 0  # with words: parsed as before
    assert vars(got[1]) == {"module": ["/x/lib.so"], "command": None}


def test_modules_imported_after_qt_are_not_read_as_source(tmp_path: Path, monkeypatch) -> None:
    """PySide6's import hook read every later module's source into linecache (≈ 10 MB of an
    idle tray); zhenglian.ui turns that off, as a packaged build (no sources) has it."""
    import linecache

    import zhenglian.ui  # noqa: F401

    module = tmp_path / "zl_after_qt_probe.py"
    module.write_text("from PySide6 import QtCore\nVALUE = 42\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    linecache.clearcache()
    assert __import__("zl_after_qt_probe").VALUE == 42  # an import statement's way in (the hook's)
    assert str(module) not in linecache.cache
