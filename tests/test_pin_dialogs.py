"""The PIN dialogs (pytest-qt, offscreen): views, translations, and the lockout flow through them.

The flow tests drive the same PIN core as the CLI, with
:class:`zhenglian.ui.pin_dialogs.DialogPrompter` as the front end: each
dialog is answered by a timer that finds the open modal dialog and types
into it, as an operator would.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("PySide6")
from helpers.pins import GOOD, NEW, SO, WRONG, find, netca_spec  # noqa: E402
from PySide6.QtCore import QCoreApplication, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QApplication,
    QCheckBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from zhenglian import errors  # noqa: E402
from zhenglian.keys.handle import KeyHandle
from zhenglian.manifest import PinPolicy  # noqa: E402
from zhenglian.tokens import pin  # noqa: E402
from zhenglian.tokens.flags import CKF_USER_PIN_COUNT_LOW, TokenFlags  # noqa: E402
from zhenglian.tokens.model import KeyInfo  # noqa: E402
from zhenglian.ui import i18n  # noqa: E402
from zhenglian.ui.pin_dialogs import (  # noqa: E402
    ChangePinDialog,
    DialogPrompter,
    FinalTryDialog,
    LockedDialog,
    PinDialog,
    PinPadDialog,
)

MY_CONTEXTS = {"ChangePinDialog", "FinalTryDialog", "KeyHeader", "LockedDialog", "PinDialog", "PinPadDialog",
               "PinTexts"}


@pytest.fixture(autouse=True)
def chinese(qapp: QApplication) -> Iterator[None]:
    i18n.install_translator(qapp, "zh_CN")
    yield
    i18n.install_translator(qapp, "zh_CN")


def fake_key(serial: str = "0123456789abcdef") -> KeyInfo:
    return KeyInfo("/x/lib.so", ("netca",), 0, "NETCA-DEMO", serial, "NETCA", "UKey", TokenFlags(0),
                   "netca", "网证通", "NETCA", "issuer", False)


def status(failures: int = 0, flags: int = 0, so: bool = False) -> pin.PinStatus:
    return pin.PinStatus("0123456789abcdef", so, TokenFlags(flags), failures, 10, None)


def locked_error() -> errors.PinLocked:
    return errors.PinLocked(route_zh="到网证通东莞办事处办理；热线：400-830-1330", route_en="NETCA Dongguan; hotline 400-830-1330")


def when_open(cls: type, fn: Callable[[QWidget], None], seen: list | None = None) -> None:
    """Run ``fn`` on the next modal dialog of type ``cls`` once it is shown."""

    def check() -> None:
        w = QApplication.activeModalWidget()
        if isinstance(w, cls) and w.isVisible():
            if seen is not None:
                seen.append(type(w).__name__)
            fn(w)
        else:
            QTimer.singleShot(10, check)

    QTimer.singleShot(0, check)


def type_pin(qtbot, dlg: PinDialog, text: str) -> None:
    qtbot.keyClicks(dlg.field, text)
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)


# --- views ------------------------------------------------------------------------

def test_pin_dialog_returns_a_buffer_and_clears_the_field(qtbot, shoot) -> None:
    dlg = PinDialog(fake_key(), status(3))
    qtbot.addWidget(dlg)
    assert "东莞市" not in dlg.windowTitle()
    texts = " ".join(w.text() for w in dlg.findChildren(QLabel))
    assert "网证通" in texts and "0123456789abcdef" in texts and "还可尝试 7 次（共 10 次）" in texts
    assert dlg.field.echoMode() == QLineEdit.EchoMode.Password
    assert dlg.field.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu
    assert not dlg.ok_button.isEnabled()
    def typed(d: PinDialog) -> None:
        qtbot.keyClicks(d.field, GOOD)
        shoot(d, "pin-entry.png")  # what the operator sees before pressing Enter
        qtbot.keyClick(d.field, Qt.Key.Key_Return)

    when_open(PinDialog, typed)
    assert dlg.exec() == PinDialog.DialogCode.Accepted
    assert dlg.field.text() == ""  # no str left in the widget
    got = dlg.take_pin()
    assert got is not None and got.equals(pin.PinBuffer(GOOD))
    assert dlg.take_pin() is None  # handed over once


def test_pin_dialog_escape_cancels_with_none(qtbot) -> None:
    dlg = PinDialog(fake_key(), status())
    qtbot.addWidget(dlg)

    def esc(d: PinDialog) -> None:
        qtbot.keyClicks(d.field, "abc")
        qtbot.keyClick(d.field, Qt.Key.Key_Escape)

    when_open(PinDialog, esc)
    assert dlg.exec() == PinDialog.DialogCode.Rejected
    assert dlg.take_pin() is None and dlg.field.text() == ""


def test_caps_lock_warning(qtbot) -> None:
    dlg = PinDialog(fake_key(), status())
    qtbot.addWidget(dlg)
    dlg.show()
    assert not dlg.caps_label.isVisible()
    qtbot.keyClicks(dlg.field, "A")  # upper case without Shift: Caps Lock is on
    assert dlg.caps_label.isVisible()
    assert "大写锁定" in dlg.caps_label.text()
    qtbot.keyClicks(dlg.field, "a")
    assert not dlg.caps_label.isVisible()


def test_one_pin_dialog_at_a_time(qtbot) -> None:
    first = PinDialog(fake_key(), status())
    qtbot.addWidget(first)
    results: list[int] = []

    def second(_: QWidget) -> None:
        other = PinDialog(fake_key(), status())
        qtbot.addWidget(other)
        results.append(other.exec())  # refused at once while the first is open
        first.reject()

    when_open(PinDialog, second)
    first.exec()
    assert results == [PinDialog.DialogCode.Rejected]


def test_final_try_dialog_defaults_to_cancel(qtbot, shoot) -> None:
    st = status(9)
    assert st.final_try
    when_open(FinalTryDialog, lambda d: (shoot(d, "pin-final-try.png"), qtbot.keyClick(d, Qt.Key.Key_Return)))
    assert FinalTryDialog.confirm(fake_key(), st) is False  # Enter does not spend the last try
    when_open(FinalTryDialog, lambda d: d.confirm_button.click())
    assert FinalTryDialog.confirm(fake_key(), st) is True


def test_locked_dialog_has_no_pin_field_and_offers_the_form(qtbot, shoot) -> None:
    dlg = LockedDialog(fake_key(), status(10), locked_error())
    qtbot.addWidget(dlg)
    dlg.show()
    shoot(dlg, "pin-locked.png")
    assert dlg.findChildren(QLineEdit) == []
    assert "400-830-1330" in dlg.route_label.text() and "网证通" in dlg.route_label.text()
    with qtbot.waitSignal(dlg.unlockFormRequested) as sig:
        dlg.form_button.click()
    assert sig.args == ["0123456789abcdef"]


def test_change_dialog_live_checklist(qtbot) -> None:
    policy = PinPolicy(initial="12345678", min_length=6, max_length=16)
    dlg = ChangePinDialog(fake_key(), status(), policy)
    qtbot.addWidget(dlg)
    assert not dlg.ok_button.isEnabled()
    qtbot.keyClicks(dlg.old, GOOD)
    qtbot.keyClicks(dlg.new, "12345678")
    marks = {rid: label.text() for rid, label in dlg.checklist.items()}
    for rid in ("upper", "lower", "special", "not_sequence", "not_initial"):
        assert "✘" in marks[rid], rid
    assert "✔" in marks["digit"] and "✔" in marks["min_length"]
    assert not dlg.ok_button.isEnabled()
    dlg.new.clear()
    qtbot.keyClicks(dlg.new, NEW)
    qtbot.keyClicks(dlg.repeat, NEW)
    assert all("✔" in label.text() for label in dlg.checklist.values())
    assert dlg.ok_button.isEnabled()
    dlg.ok_button.click()
    old, new, repeat = dlg.take_result()
    assert old.equals(pin.PinBuffer(GOOD)) and new.equals(repeat)
    assert (dlg.old.text(), dlg.new.text(), dlg.repeat.text()) == ("", "", "")


def test_pinpad_dialog_counts_down_without_a_field(qtbot, shoot) -> None:
    dlg = PinPadDialog(fake_key(), status(), timeout_s=2)
    qtbot.addWidget(dlg)
    assert dlg.findChildren(QLineEdit) == []
    assert "2 秒" in dlg.countdown.text()
    with qtbot.waitSignal(dlg.timedOut, timeout=4000):
        dlg.show()
        shoot(dlg, "pin-pinpad.png")
    assert not dlg.isVisible()


# --- translations --------------------------------------------------------------------

def visible_texts(w: QWidget) -> list[str]:
    """Every UI string of a dialog (titles, labels, buttons), data labels excluded."""
    out = [w.windowTitle()]
    for child in w.findChildren(QWidget):
        if child.parent() is not None and child.parent().objectName() == "keyHeader" and isinstance(child, QLabel) \
                and child.buddy() is None and not child.text().endswith(("：", ":")):
            continue  # the key's own data (organisation, CA name, serial)
        if child.objectName() == "route":
            continue  # the CA's route comes from its manifest, in the UI's language
        if isinstance(child, (QLabel, QAbstractButton, QCheckBox)):
            text = re.sub(r"<[^>]+>", "", child.text()).replace("✔", "").replace("✘", "").replace("•", "").strip()
            if text:
                out.append(text)
    return out


def all_dialogs() -> list[QWidget]:
    policy = PinPolicy(initial="12345678")
    return [
        PinDialog(fake_key(), status(2), offer_keep=True),
        PinDialog(fake_key(), status(0, so=True)),
        PinDialog(fake_key(), status(0, CKF_USER_PIN_COUNT_LOW)),
        FinalTryDialog(fake_key(), status(9)),
        FinalTryDialog(fake_key(), status(9, so=True)),
        LockedDialog(fake_key(), status(10), locked_error()),
        LockedDialog(fake_key(), status(10, so=True), errors.SoPinLocked(route_zh="x", route_en="x")),
        ChangePinDialog(fake_key(), status(), policy),
        ChangePinDialog(fake_key(), status(0, so=True), policy, unlock=True),
        PinPadDialog(fake_key(), status()),
        PinDialog(fake_key(), status(10)),
    ]


def english_sources() -> set[str]:
    tree = ET.parse(i18n.i18n_dir() / "zhenglian_zh_CN.ts")
    out = set()
    for ctx in tree.getroot():
        if ctx.find("name").text in MY_CONTEXTS:
            for m in ctx.findall("message"):
                out.add(m.find("source").text)
    return out


def test_every_dialog_string_is_translated_to_chinese_and_english_is_the_source(qapp, qtbot) -> None:
    sources = english_sources()
    assert len(sources) > 40
    # Every message of our contexts has a finished Chinese translation in the .ts ...
    tree = ET.parse(i18n.i18n_dir() / "zhenglian_zh_CN.ts")
    for ctx in tree.getroot():
        if ctx.find("name").text in MY_CONTEXTS:
            for m in ctx.findall("message"):
                tr = m.find("translation")
                assert tr.get("type") is None and tr.text, m.find("source").text
                # ... and the compiled .qm gives it, different from the English source.
                got = QCoreApplication.translate(ctx.find("name").text, m.find("source").text)
                assert got != m.find("source").text and re.search(r"[\u4e00-\u9fff]", got), got

    def collect() -> list[str]:
        texts = []
        for d in all_dialogs():
            qtbot.addWidget(d)
            texts += visible_texts(d)
        return texts

    zh = collect()
    assert len(zh) > 50
    for text in zh:
        assert text not in sources, f"untranslated: {text!r}"
        assert re.search(r"[\u4e00-\u9fff]", text), f"no Chinese in {text!r}"

    i18n.install_translator(qapp, "en_US")
    en = collect()
    for text in en:
        assert not re.search(r"[\u4e00-\u9fff]", text), f"Chinese left in English UI: {text!r}"
    assert "Enter PIN" in en and "At most 8 of 10 tries left" in en and "About 9 of 10 tries left" in en


def test_install_translator_languages(qapp) -> None:
    assert i18n.normalise("zh-CN") == "zh_CN" and i18n.normalise("en_GB.UTF-8") == "en_US"
    assert i18n.normalise(None) == "zh_CN" and i18n.normalise("fr") == "zh_CN"
    assert i18n.install_translator(qapp, "zh_CN")
    assert QCoreApplication.translate("PinDialog", "Enter PIN") == "输入 PIN"
    assert i18n.install_translator(qapp, "en_US") == []
    assert QCoreApplication.translate("PinDialog", "Enter PIN") == "Enter PIN"
    assert i18n.error_text(errors.WrongPin(tries_left=3)) == "Wrong PIN, 3 tries left"
    i18n.install_translator(qapp, "zh_CN")
    assert i18n.error_text(errors.WrongPin(tries_left=3)) == "PIN 错误，还可尝试 3 次"


def test_qts_own_file_dialog_is_chinese_where_qtbase_has_no_words(qapp, qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QFileDialog, QLabel

    i18n.install_translator(qapp, "zh_CN")
    dialog = QFileDialog(None, "", "/", "PDF (*.pdf)")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)  # Qt draws it (Linux without a GTK/KDE theme)
    qtbot.addWidget(dialog)
    labels = [label.text() for label in dialog.findChildren(QLabel) if label.text()]
    assert "查找范围(&L)：" in labels and "文件类型(&T)：" in labels, labels
    assert not [t for t in labels if re.search(r"[A-Za-z]{3,}", t)], labels
    assert QCoreApplication.translate("QAbstractFileIconProvider", "Folder") == "文件夹"


def test_an_unexpected_error_reads_as_one_plain_sentence_in_the_screens_language(qapp, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    try:
        with caplog.at_level(logging.ERROR):
            i18n.install_translator(qapp, "en_US")
            en = i18n.error_text(ConnectionResetError("peer said 123456"))
            i18n.install_translator(qapp, "zh_CN")
            zh = i18n.error_text(ConnectionResetError("peer said 123456"))
    finally:
        i18n.install_translator(qapp, "zh_CN")
    assert en.startswith("The operation did not finish") and "Diagnostics" in en
    assert not re.search(r"[\u4e00-\u9fff]", en), en
    assert zh.startswith("操作未完成") and "诊断信息" in zh and not re.search(r"[A-Za-z]{3,}", zh), zh
    for text in (en, zh):  # no class name, no text of the exception on screen
        assert "ConnectionResetError" not in text and "123456" not in text
    assert "ConnectionResetError" in caplog.text and "123456" not in caplog.text


# --- the lockout flow through the dialogs, on the proxy and on SoftHSM ----------------------

@pytest.fixture(params=["proxy", "softhsm"])
def mgr(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_manager")


def test_lockout_flow_through_the_dialogs(mgr, make_key, qtbot, tmp_path) -> None:
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    prompter = DialogPrompter(key, manifest=manifest)
    seen: list[str] = []

    def answer_pin(text: str, expect: str) -> None:
        def fn(d: PinDialog) -> None:
            assert expect in d.tries_label.text(), d.tries_label.text()
            if prompter.error is not None:
                assert d.error_label.isVisible() and "PIN 错误" in d.error_label.text()
            type_pin(qtbot, d, text)
        when_open(PinDialog, fn, seen)

    for i in range(1, 10):
        answer_pin(WRONG, f"还可尝试 {11 - i} 次")
        with pytest.raises(errors.WrongPin) as exc:
            pin.interactive_verify(KeyHandle(module, key, manifest), prompter)
        assert exc.value.facts["tries_left"] == 10 - i
        prompter.show_error(exc.value)

    # Final try: Esc on the confirmation, no PIN dialog at all.
    seen.clear()
    when_open(FinalTryDialog, lambda d: qtbot.keyClick(d, Qt.Key.Key_Escape), seen)
    with pytest.raises(errors.FinalTryNotConfirmed):
        pin.interactive_verify(KeyHandle(module, key, manifest), prompter)
    assert seen == ["FinalTryDialog"]
    # Confirmed, then the tenth wrong PIN locks.
    when_open(FinalTryDialog, lambda d: (d.confirm_button.click(), answer_pin(WRONG, "最后一次机会")))
    with pytest.raises(errors.PinLocked):
        pin.interactive_verify(KeyHandle(module, key, manifest), prompter)

    # Locked: only the locked dialog, with the route; no PIN field.
    seen.clear()
    forms: list[str] = []

    form_pdf = tmp_path / "解锁申请表.pdf"
    saved: list[str] = []

    def on_locked(d: LockedDialog) -> None:
        assert d.findChildren(QLineEdit) == []
        assert "400-830-1330" in d.route_label.text() and "东城西路92号" in d.route_label.text()
        d.unlockFormRequested.connect(forms.append)
        # The form's save dialog and its answer come up on top of the locked dialog (its parent).
        when_open(QFileDialog, lambda f: (saved.append(f.parent() is d), f.selectFile(str(form_pdf)), f.accept()))
        when_open(QMessageBox, lambda m: (saved.append(m.parent() is d), m.accept()))
        d.form_button.click()
        d.reject()

    when_open(LockedDialog, on_locked, seen)
    with pytest.raises(errors.PinLocked):
        pin.interactive_verify(KeyHandle(module, key, manifest), prompter)
    assert seen == ["LockedDialog"] and forms == [serial]
    assert saved == [True, True] and form_pdf.read_bytes().startswith(b"%PDF")

    # SO unlock through the change dialog in unlock mode.
    def on_unlock(d: ChangePinDialog) -> None:
        assert d.unlock and d.windowTitle() == "用管理员 PIN 解锁"
        qtbot.keyClicks(d.old, SO)
        qtbot.keyClicks(d.new, NEW)
        qtbot.keyClicks(d.repeat, NEW)
        assert d.ok_button.isEnabled()
        d.ok_button.click()

    when_open(ChangePinDialog, on_unlock)
    pin.interactive_unlock(KeyHandle(module, key, manifest), prompter)

    prompter.show_error(None)
    answer_pin(NEW, "还可尝试 10 次")
    assert pin.interactive_verify(KeyHandle(module, key, manifest), prompter) is False

    # Change the PIN back through the dialog; a wrong current PIN counts as a try.
    def on_change(current: str) -> Callable[[ChangePinDialog], None]:
        def fn(d: ChangePinDialog) -> None:
            qtbot.keyClicks(d.old, current)
            qtbot.keyClicks(d.new, GOOD)
            qtbot.keyClicks(d.repeat, GOOD)
            d.ok_button.click()
        return fn

    when_open(ChangePinDialog, on_change(WRONG))
    with pytest.raises(errors.WrongPin):
        pin.interactive_change(KeyHandle(module, key, manifest), prompter)
    assert pin.status(KeyHandle(module, key, manifest)).tries_left == 9
    when_open(ChangePinDialog, on_change(NEW))
    pin.interactive_change(KeyHandle(module, key, manifest), prompter)
    assert pin.status(KeyHandle(module, key, manifest)).tries_left == 10
