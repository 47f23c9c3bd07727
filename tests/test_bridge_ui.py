"""The bridge in the tray app (pytest-qt, offscreen): dialog, GUI marshalling, start/stop, test hook."""

from __future__ import annotations

import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

pytest.importorskip("PySide6")
from helpers.server import free_port  # noqa: E402
from PySide6.QtCore import QCoreApplication, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QPushButton, QWidget  # noqa: E402

from zhenglian import errors  # noqa: E402
from zhenglian.bridge import testhook  # noqa: E402
from zhenglian.bridge.jobs import SignRequestInfo  # noqa: E402
from zhenglian.config import Settings  # noqa: E402
from zhenglian.reference.provision import DEMO_KEYS  # noqa: E402
from zhenglian.tokens import pin  # noqa: E402
from zhenglian.tokens.flags import TokenFlags  # noqa: E402
from zhenglian.ui import i18n  # noqa: E402
from zhenglian.ui.bridge_dialogs import ConfirmSignDialog  # noqa: E402

MY_CONTEXTS = {"ConfirmSignDialog", "DeliberateDialog", "BridgeUi"}
ROOT = Path(__file__).resolve().parent.parent
SZCA = DEMO_KEYS[1]


@pytest.fixture(autouse=True)
def chinese(qapp: QApplication) -> Iterator[None]:
    i18n.install_translator(qapp, "zh_CN")
    yield
    i18n.install_translator(qapp, "zh_CN")


def seal_png() -> bytes:
    from zhenglian.seals import render

    return render.render_seal_png(SZCA.organization, "合同专用章", diameter_mm=42.0)


def info(**changes: Any) -> SignRequestInfo:
    base = dict(origin="https://sign.example.org", server="https://sign.example.org", task_id="0a73efd625cc48c2",
                title="个人住房公积金贷款合同 #1", filename="贷款合同-001.pdf", business_type="公积金贷款",
                deadline="2026-12-10", institution=SZCA.organization, uscc=SZCA.uscc,
                seal_name=f"{SZCA.organization}合同专用章", seal_type="合同专用章", seal_png=seal_png(),
                key_label=SZCA.label, key_serial="8d1c2e6f0a3b4c5d", ca_name_zh="深圳CA（演示）",
                ca_name_en="SZCA (demo)")
    base.update(changes)
    return SignRequestInfo(**base)


def texts(widget: QWidget) -> list[str]:
    return [w.text() for w in widget.findChildren(QLabel) if w.text()] + \
           [b.text() for b in (widget.confirm_button, widget.cancel_button)]


def test_confirmation_names_site_document_institution_and_seal(qtbot, shoot) -> None:  # type: ignore[no-untyped-def]
    dlg = ConfirmSignDialog(info(server="https://api.sign.example.org"))
    qtbot.addWidget(dlg)
    shown = "\n".join(texts(dlg))
    for fact in ("https://sign.example.org", "https://api.sign.example.org", "个人住房公积金贷款合同 #1",
                 "贷款合同-001.pdf", SZCA.organization, SZCA.uscc, "合同专用章", "深圳CA（演示）"):
        assert fact in shown, fact
    assert dlg.confirm_button.text() == "确认签章" and dlg.cancel_button.text() == "取消"
    assert not dlg.confirm_button.isDefault() and not dlg.confirm_button.autoDefault()  # Enter confirms nothing
    assert "<b>https://sign.example.org</b>" in dlg.origin_label.text()
    # HTML in what the server sent is shown as text, never interpreted.
    evil = ConfirmSignDialog(info(title="<b>x</b><img src=y>", origin="https://a.example"))
    qtbot.addWidget(evil)
    assert evil.title_label.text() == "<b>x</b><img src=y>" and evil.title_label.textFormat().name == "PlainText"
    dlg.show()
    qtbot.waitExposed(dlg)
    shoot(dlg, "bridge-confirm.png")


def click_when_armed(dlg: ConfirmSignDialog) -> None:
    """A deliberate click on 确认签章, once the dialog has armed it."""
    if dlg.is_armed:
        dlg.confirm_button.click()
    else:
        dlg.armed.connect(dlg.confirm_button.click)


def press_enter(qtbot, dlg: ConfirmSignDialog) -> None:  # type: ignore[no-untyped-def]
    for target in (dlg, dlg.focusWidget() or dlg, dlg.confirm_button, dlg.cancel_button):
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            qtbot.keyClick(target, key)


def test_enter_never_signs_only_a_click_on_the_armed_button_does(qtbot) -> None:
    dlg = ConfirmSignDialog(info())
    qtbot.addWidget(dlg)
    accepted: list[bool] = []
    dlg.accepted.connect(lambda: accepted.append(True))
    dlg.show()
    qtbot.waitExposed(dlg)
    # No default button even after show (a QDialogButtonBox would re-arm one here).
    assert not any(b.isDefault() or b.autoDefault() for b in dlg.findChildren(QPushButton))
    assert not dlg.confirm_button.isEnabled(), "not armed at once"
    press_enter(qtbot, dlg)  # e.g. the Return that ended the PIN entry, pressed once too often
    qtbot.mouseClick(dlg.confirm_button, Qt.MouseButton.LeftButton)  # a click already on its way
    assert accepted == [] and dlg.isVisible()
    with qtbot.waitSignal(dlg.armed, timeout=5000):
        pass
    assert dlg.confirm_button.isEnabled()
    assert not any(b.isDefault() for b in dlg.findChildren(QPushButton))
    dlg.confirm_button.setFocus()
    press_enter(qtbot, dlg)  # Enter on the armed, focused button: still nothing
    assert accepted == [] and dlg.isVisible()
    qtbot.mouseClick(dlg.confirm_button, Qt.MouseButton.LeftButton)
    assert accepted == [True] and dlg.result() == int(QDialog.DialogCode.Accepted)


def test_enter_in_exec_leaves_the_request_unanswered_until_the_click(qtbot) -> None:
    """The real flow: exec() (as bridge_ui does), Return presses, then the deliberate click."""
    dlg = ConfirmSignDialog(info())
    qtbot.addWidget(dlg)
    seen: list[str] = []

    dlg.accepted.connect(lambda: seen.append("accepted"))

    def returns() -> None:
        press_enter(qtbot, dlg)
        seen.append("open" if dlg.isVisible() else "closed")
        click_when_armed(dlg)

    QTimer.singleShot(0, returns)
    assert dlg.exec() == int(QDialog.DialogCode.Accepted)
    assert seen == ["open", "accepted"]


def test_the_dialog_says_whether_the_pin_comes_next(qtbot, shoot) -> None:  # type: ignore[no-untyped-def]
    ask = ConfirmSignDialog(info(), pin_entered=False)
    done = ConfirmSignDialog(info(pin_entered=True))  # as the jobs layer says it: the key is logged in
    for d in (ask, done):
        qtbot.addWidget(d)
    assert "接下来" in ask.next_label.text() and "PIN" in ask.next_label.text()
    assert "已登录" not in ask.next_label.text()
    assert "UKey 已登录" in done.next_label.text() and "不会再次询问" in done.next_label.text()
    assert "接下来" not in done.next_label.text()  # no PIN prompt promised that will not come
    done.show()
    qtbot.waitExposed(done)
    shoot(done, "bridge-confirm-logged-in.png")
    i18n.install_translator(QApplication.instance(), "en_US")
    en = ConfirmSignDialog(info(), pin_entered=True)
    qtbot.addWidget(en)
    assert "not asked again" in en.next_label.text()


def test_confirmation_cancels_itself_when_unanswered(qtbot) -> None:
    dlg = ConfirmSignDialog(info(), timeout_s=1)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.rejected, timeout=5000):
        dlg.show()
    assert dlg.result() == 0


def test_login_confirmation_has_no_default_and_enter_does_not_continue(qtbot) -> None:
    """The first question from a page (before the login PIN): only a click on 继续 continues."""
    from zhenglian.ui.bridge_dialogs import ConfirmLoginDialog

    dlg = ConfirmLoginDialog("https://sign.example.org", "https://server.example.org")
    qtbot.addWidget(dlg)
    seen: list[str] = []
    dlg.accepted.connect(lambda: seen.append("accepted"))

    def returns() -> None:
        assert not any(b.isDefault() or b.autoDefault() for b in dlg.findChildren(QPushButton))
        for target in (dlg, dlg.focusWidget() or dlg, dlg.continue_button, dlg.cancel_button):
            for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                qtbot.keyClick(target, key)
        seen.append("open" if dlg.isVisible() else "closed")
        dlg.continue_button.click()

    QTimer.singleShot(0, returns)
    assert dlg.exec() == int(QDialog.DialogCode.Accepted)
    assert seen == ["open", "accepted"]
    assert "https://sign.example.org" in dlg.text_label.text()
    assert dlg.text_label.textFormat() == Qt.TextFormat.PlainText  # the page's name is never markup


def test_login_confirmation_cancels_itself_when_unanswered(qtbot) -> None:
    from zhenglian.ui.bridge_dialogs import ConfirmLoginDialog, ConfirmSignDialog

    dlg = ConfirmLoginDialog("https://sign.example.org", "https://server.example.org", timeout_s=1)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.rejected, timeout=5000):
        dlg.show()
    assert dlg.result() == 0
    # the same time as the signing confirmation when none is given
    login = ConfirmLoginDialog("https://sign.example.org", "https://server.example.org")
    sign = ConfirmSignDialog(info())
    for d in (login, sign):
        qtbot.addWidget(d)
    assert login.countdown.text() == sign.countdown.text() != ""


def test_unanswered_login_confirmation_from_the_page_is_cancelled(qtbot, tray, monkeypatch) -> None:
    """Through attach_bridge: a box nobody answers ends as a cancel, so the job is freed."""
    from zhenglian.ui import bridge_dialogs
    from zhenglian.ui.bridge_ui import attach_bridge

    init = bridge_dialogs.ConfirmLoginDialog.__init__
    monkeypatch.setattr(bridge_dialogs.ConfirmLoginDialog, "__init__",
                        lambda self, site, server, parent=None, timeout_s=0: init(self, site, server, parent, 1))
    handle = attach_bridge(tray)
    try:
        t, box = in_worker(lambda: handle.jobs.confirm_login("https://sign.example.org", "https://server.example.org"))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert box == {"result": False}
    finally:
        handle.stop()


def test_my_strings_are_translated(qapp) -> None:
    tree = ET.parse(i18n.i18n_dir() / "zhenglian_zh_CN.ts")
    found = set()
    for ctx in tree.getroot():
        name = ctx.find("name").text
        if name in MY_CONTEXTS:
            found.add(name)
            for m in ctx.findall("message"):
                tr = m.find("translation")
                assert tr.get("type") is None and tr.text, m.find("source").text
                got = QCoreApplication.translate(name, m.find("source").text)
                assert got != m.find("source").text and re.search(r"[\u4e00-\u9fff：]", got), got
    assert found == MY_CONTEXTS


# --- the tray side: attach_bridge with a stand-in tray app ---------------------------

class FakeWindow(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.brought_up = 0

    def bring_up(self) -> None:
        self.brought_up += 1


@pytest.fixture
def tray(qtbot, demo_keys, monkeypatch):  # type: ignore[no-untyped-def]
    from zhenglian.services import Context

    for name in (testhook.ENV, testhook.ENV_CONFIRM, testhook.ENV_PIN_FD):
        monkeypatch.delenv(name, raising=False)
    ctx = Context.create()
    ctx.settings = Settings(bridge_port=free_port(), allowed_origins=["https://sign.example.org"])
    window = FakeWindow()
    qtbot.addWidget(window)
    notes: list[tuple[str, str]] = []
    keys = [ctx.tokens.find_key(SZCA.label)]
    app = SimpleNamespace(ctx=ctx, window=window, controller=SimpleNamespace(current_keys=lambda: keys),
                          tray=SimpleNamespace(notify=lambda title, text, warning=False: notes.append((title, text))),
                          notes=notes, keys=keys)
    return app


def in_worker(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def open_dialog(kind: type) -> Any:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    return found[-1] if found else None


def test_attach_starts_serves_and_stops(qtbot, tray) -> None:
    from zhenglian.ui.bridge_ui import attach_bridge

    handle = attach_bridge(tray)
    port = handle.port
    try:
        assert port == tray.ctx.settings.bridge_port
        r = httpx.get(f"http://127.0.0.1:{handle.port}/v1/status", headers={"Origin": "https://sign.example.org"})
        assert r.status_code == 200 and r.json()["key_present"] is True
        assert "keys" not in r.json() and SZCA.organization not in r.text  # only THAT a key is there
    finally:
        handle.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=2)


def answer_when_open(kind: type, action: Any) -> QTimer:
    """Like an operator: when a dialog of ``kind`` is open, act on it (a timer: dialogs run nested loops)."""
    timer = QTimer()
    timer.setInterval(50)

    def tick() -> None:
        dlg = open_dialog(kind)
        if dlg is not None:
            timer.stop()
            action(dlg)

    timer.timeout.connect(tick)
    timer.start()
    return timer


def test_confirmation_and_pin_run_on_the_gui_thread(qtbot, tray) -> None:
    from zhenglian.ui.bridge_ui import attach_bridge
    from zhenglian.ui.pin_dialogs import PinDialog

    handle = attach_bridge(tray)
    try:
        jobs = handle.jobs
        # Confirmation asked from a worker thread: the dialog opens on the GUI thread, the answer comes back.
        timer = answer_when_open(ConfirmSignDialog, click_when_armed)
        t, box = in_worker(lambda: jobs.confirm(info()))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert box == {"result": True} and tray.window.brought_up >= 1
        timer = answer_when_open(ConfirmSignDialog, lambda d: d.cancel_button.click())
        t, box = in_worker(lambda: jobs.confirm(info()))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert box == {"result": False}

        # The PIN prompter: the real PIN dialog, typed into, handed back as a PinBuffer.
        def type_pin(dlg: Any) -> None:
            dlg.field.setText(SZCA.user_pin)
            dlg.accept()

        prompter = jobs.prompter(tray.keys[0])
        st = pin.PinStatus("x", False, TokenFlags(0), 0, 10, None)
        timer = answer_when_open(PinDialog, type_pin)
        t, box = in_worker(lambda: prompter.ask_pin(st))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        got = box["result"]
        assert got.equals(type(got)(SZCA.user_pin))
        got.wipe()
        # Quitting while a confirmation is open: the dialog closes, the worker stops waiting.
        timer = answer_when_open(ConfirmSignDialog, lambda d: handle.stop())
        t, box = in_worker(lambda: jobs.confirm(info()))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert isinstance(box.get("error"), errors.SignDeclined) or box.get("result") is False
        assert open_dialog(ConfirmSignDialog) is None
        del timer
    finally:
        handle.stop()


def test_the_confirmation_says_the_key_is_already_logged_in(qtbot, tray) -> None:
    """The jobs layer says whether the key is already logged in for the request (its PIN kept for
    the signing); the tray's confirmation says so and promises no PIN prompt that will not come."""
    from zhenglian.ui.bridge_ui import attach_bridge

    handle = attach_bridge(tray)
    said: list[tuple[bool, str]] = []

    def note_and_cancel(d: ConfirmSignDialog) -> None:
        said.append((d.pin_entered, d.next_label.text()))
        d.cancel_button.click()

    try:
        jobs = handle.jobs
        timers = [answer_when_open(ConfirmSignDialog, note_and_cancel)]
        t, box = in_worker(lambda: jobs.confirm(info(pin_entered=True)))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        timers.append(answer_when_open(ConfirmSignDialog, note_and_cancel))
        t, box = in_worker(lambda: jobs.confirm(info()))  # a stored server login: the PIN comes next
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert [p for p, _ in said] == [True, False]
        assert "已登录" in said[0][1] and "不会再次询问" in said[0][1] and "接下来" not in said[0][1]
        assert "接下来" in said[1][1] and "已登录" not in said[1][1]
        del timers
    finally:
        handle.stop()


def test_ports_taken_is_told_not_fatal(qtbot, tray, monkeypatch) -> None:
    from zhenglian.bridge import protocol
    from zhenglian.bridge.service import BridgeService
    from zhenglian.ui.bridge_ui import attach_bridge

    blocker = BridgeService(protocol.Policy(tray.ctx.settings), SimpleNamespace(keys=lambda: []),
                            ports=[tray.ctx.settings.bridge_port])
    blocker.start()
    monkeypatch.setattr(protocol, "FALLBACK_PORTS", ())
    try:
        handle = attach_bridge(tray)
        assert handle.port is None and handle.service is None
        assert tray.notes and "21881" not in tray.notes[0][1] and str(tray.ctx.settings.bridge_port) in tray.notes[0][1]
        handle.stop()  # harmless
    finally:
        blocker.stop()


def test_test_hook_is_off_unless_asked_and_reads_the_pipe() -> None:
    assert testhook.from_env({}) is None
    assert testhook.from_env({testhook.ENV: "yes", testhook.ENV_CONFIRM: "accept"}) is None
    hooks = testhook.from_env({testhook.ENV: "1", testhook.ENV_CONFIRM: "maybe"})
    assert hooks is not None and hooks.confirm is None and hooks.pin_fd is None
    r, w = os.pipe()
    try:
        os.write(w, b"first\nsecond\n")
        hooks = testhook.from_env({testhook.ENV: "1", testhook.ENV_CONFIRM: "accept", testhook.ENV_PIN_FD: str(r)})
        assert hooks.confirm == "accept"
        assert hooks.read_pin() == "first" and hooks.read_pin() == "second"
        assert hooks.read_pin(timeout_s=0.2) is None  # nothing more: no hang
    finally:
        os.close(r)
        os.close(w)


def test_page_is_named_first_and_the_pin_dialogs_name_it_too(qtbot, tray, qapp) -> None:
    """From the web page: the first dialog names the page (before any PIN); the login PIN dialog and
    the signing PIN dialog name it too, and they look different (issue 16)."""
    from zhenglian.ui.bridge_dialogs import ConfirmLoginDialog
    from zhenglian.ui.bridge_ui import attach_bridge
    from zhenglian.ui.pin_dialogs import PinDialog

    i18n.install_translator(qapp, "zh_CN")
    handle = attach_bridge(tray)
    try:
        jobs = handle.jobs
        seen: list[str] = []

        def answer(box: Any) -> None:
            seen.append(box.text_label.text())
            box.continue_button.click()

        timer = answer_when_open(ConfirmLoginDialog, answer)
        t, box = in_worker(lambda: jobs.confirm_login("https://sign.example.org", "https://server.example.org"))
        qtbot.waitUntil(lambda: not t.is_alive(), timeout=10000)
        assert box == {"result": True}
        assert "https://sign.example.org" in seen[0] and "尚未签署任何文件" in seen[0]

        job = jobs.table.create("https://sign.example.org", "T-1")
        bands: list[tuple[str, str]] = []

        def look(dlg: Any) -> None:
            bands.append((dlg.windowTitle(), dlg.context_band.text()))
            dlg.reject()

        st = pin.PinStatus("x", False, TokenFlags(0), 0, 10, None)
        for step, title in (("login", ""), ("pin", "个人住房公积金贷款合同 #1")):
            job.step, job.title = step, title
            prompter = jobs.prompter(tray.keys[0])
            timer = answer_when_open(PinDialog, look)
            t, box = in_worker(lambda p=prompter: p.ask_pin(st))
            qtbot.waitUntil(lambda t=t: not t.is_alive(), timeout=10000)
        (login_title, login_band), (sign_title, sign_band) = bands
        assert "https://sign.example.org" in login_band and "https://server.example.org" in login_band
        assert "https://sign.example.org" in sign_band and "个人住房公积金贷款合同 #1" in sign_band
        assert login_title != sign_title and "盖章" in sign_title
        del timer
    finally:
        handle.stop()


def test_factory_pin_from_the_page_opens_the_change_dialog_for_that_key(qtbot, tray) -> None:
    """A job refused because the factory PIN was typed: the tray leads to the PIN change for the job's
    key (as the task view does), instead of a failure balloon."""
    from types import SimpleNamespace

    from zhenglian.bridge.jobs import FAILED, Job
    from zhenglian.ui.bridge_ui import attach_bridge

    calls: list[tuple[Any, Any]] = []
    tray.key_actions = SimpleNamespace(factory_pin_refused=lambda key, exc: calls.append((key, exc)))
    handle = attach_bridge(tray)
    try:
        job = Job(id="j1", origin="https://sign.example.org", task_id="t1")
        job.state, job.step, job.error = FAILED, "finished", errors.InitialPinInUse()

        def in_the_job() -> None:
            handle.jobs.prompter(tray.keys[0])  # the job's PIN prompter, for its key
            handle.jobs.on_update(job)

        t, box = in_worker(in_the_job)
        qtbot.waitUntil(lambda: not t.is_alive() and bool(calls), timeout=10000)
        assert "error" not in box
        (key, exc), = calls
        assert key is tray.keys[0] and isinstance(exc, errors.InitialPinInUse)
        assert tray.notes == []  # no failure balloon: the change dialog is the answer
    finally:
        handle.stop()
