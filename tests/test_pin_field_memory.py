"""Issue 15.7: the PIN is never a str in the PIN dialogs, and is wiped on accept, cancel and close."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from zhenglian.manifest import PinPolicy  # noqa: E402
from zhenglian.tokens import pin, pinpolicy  # noqa: E402
from zhenglian.tokens.flags import TokenFlags  # noqa: E402
from zhenglian.tokens.model import KeyInfo  # noqa: E402
from zhenglian.tokens.secret import PinBuffer  # noqa: E402
from zhenglian.ui.pin_dialogs import ChangePinDialog, PinDialog, PinField  # noqa: E402

PIN = "Zx9#kQ2!"


def key() -> KeyInfo:
    return KeyInfo("/x/lib.so", ("netca",), 0, "NETCA-DEMO", "0123456789abcdef", "NETCA", "UKey", TokenFlags(0),
                   "netca", "网证通", "NETCA", "issuer", False)


def status() -> pin.PinStatus:
    return pin.PinStatus("0123456789abcdef", False, TokenFlags(0), 0, 10, None)


def only_filler(field: PinField) -> bool:
    return set(field.text()) <= {PinField.FILLER}


def zeroed(field: PinField) -> bool:
    return not any(field._chars) and field.length() == 0


def test_typed_characters_never_reach_the_line_edit(qtbot) -> None:  # type: ignore[no-untyped-def]
    field = PinField()
    qtbot.addWidget(field)
    qtbot.keyClicks(field, PIN)
    assert field.length() == len(PIN) and only_filler(field) and PIN not in field.text()
    assert "".join(field.chars()) == PIN
    buf = field.take()
    assert buf.equals(PinBuffer(PIN)) and zeroed(field) and field.text() == ""
    buf.wipe()


def test_editing_works_on_the_buffer(qtbot) -> None:  # type: ignore[no-untyped-def]
    field = PinField()
    qtbot.addWidget(field)
    qtbot.keyClicks(field, "abcd")
    qtbot.keyClick(field, Qt.Key.Key_Backspace)  # abc
    qtbot.keyClick(field, Qt.Key.Key_Left)
    qtbot.keyClick(field, Qt.Key.Key_Left)  # a|bc
    qtbot.keyClicks(field, "X")  # aX|bc
    qtbot.keyClick(field, Qt.Key.Key_Delete)  # aX|c
    assert "".join(field.chars()) == "aXc" and field.cursorPosition() == 2 and only_filler(field)
    qtbot.keyClick(field, Qt.Key.Key_Home)
    qtbot.keyClick(field, Qt.Key.Key_End, Qt.KeyboardModifier.ShiftModifier)  # select all
    # QTest types Latin-1 only: a CJK character as a platform key event would come
    QApplication.sendEvent(field, QKeyEvent(QEvent.Type.KeyPress, 0, Qt.KeyboardModifier.NoModifier, "中"))
    assert field.chars() == ["中"]
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    assert zeroed(field)


def test_paste_undo_and_overflow_do_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    field = PinField()
    qtbot.addWidget(field)
    QGuiApplication.clipboard().setText("pasted-secret")
    qtbot.keyClicks(field, "ab")
    for seq in (QKeySequence.StandardKey.Paste, QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Cut):
        for combo in QKeySequence.keyBindings(seq):
            qtbot.keyClick(field, combo[0].key(), combo[0].keyboardModifiers())
    qtbot.mouseClick(field, Qt.MouseButton.MiddleButton)
    assert "".join(field.chars()) == "ab" and only_filler(field)
    qtbot.keyClicks(field, "x" * 100)
    assert field.length() == PinField.MAX_CHARS


def test_text_set_from_code_is_absorbed(qtbot) -> None:  # type: ignore[no-untyped-def]
    field = PinField()
    qtbot.addWidget(field)
    field.setText(PIN)  # the test hook and tests fill the field this way
    assert only_filler(field) and "".join(field.chars()) == PIN
    field.clear()
    assert zeroed(field)


def test_pin_dialog_wipes_on_accept_cancel_and_close(qtbot) -> None:  # type: ignore[no-untyped-def]
    for end in ("accept", "reject", "close"):
        dlg = PinDialog(key(), status())
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.keyClicks(dlg.field, PIN)
        assert dlg.ok_button.isEnabled()
        getattr(dlg, end)()
        assert zeroed(dlg.field) and dlg.field.text() == ""
        got = dlg.take_pin()
        if end == "accept":
            assert got is not None and got.equals(PinBuffer(PIN))
            got.wipe()
        else:
            assert got is None


def test_change_dialog_checks_rules_on_characters_and_wipes(qtbot) -> None:  # type: ignore[no-untyped-def]
    policy = PinPolicy(initial="12345678")
    dlg = ChangePinDialog(key(), status(), policy)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.keyClicks(dlg.old, "12345678")
    qtbot.keyClicks(dlg.new, "12345678")
    qtbot.keyClicks(dlg.repeat, "12345678")
    assert not dlg.ok_button.isEnabled()  # the factory PIN, a sequence: refused live
    for f in (dlg.new, dlg.repeat):
        f.selectAll()
        qtbot.keyClicks(f, PIN)
    assert dlg.ok_button.isEnabled()
    dlg.accept()
    old, new, repeat = dlg.take_result()  # type: ignore[misc]
    assert old.equals(PinBuffer("12345678")) and new.equals(PinBuffer(PIN)) and repeat.equals(new)
    assert all(zeroed(f) for f in (dlg.old, dlg.new, dlg.repeat))
    for b in (old, new, repeat):
        b.wipe()


def test_policy_rules_take_characters_not_a_str() -> None:
    policy = PinPolicy(initial="12345678")
    by_id = {r.id: r.ok for r in pinpolicy.evaluate_new(list("12345678"), policy, list("old"), list("12345678"))}
    assert by_id["not_initial"] is False and by_id["not_sequence"] is False and by_id["repeat"] is True
    assert PinBuffer("ab中").chars() == ["a", "b", "中"]
    with pytest.raises(Exception):  # noqa: B017 - PinPolicyViolation
        pinpolicy.check_entry(PinBuffer("中中中中"), policy)
    pinpolicy.check_new(PinBuffer(PIN), policy, PinBuffer("12345678"), PinBuffer(PIN))


def test_no_copy_of_the_pin_is_left_in_memory_after_a_change() -> None:
    """scripts/pin_memory_check.py, once: the real dialogs in a child, then its memory searched."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/PID/mem")
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "scripts/pin_memory_check.py", "--at", "1", "--json"], cwd=root,
                       env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "PermissionError" in r.stderr:
        pytest.skip("no permission to read another process's memory here")
    assert r.returncode == 0, r.stderr[-2000:]
    (counts,) = json.loads(r.stdout)
    assert counts["scanned_mb"] > 5
    assert {k: v for k, v in counts.items() if k.endswith(("utf8", "utf16"))} == \
        {"old_utf8": 0, "old_utf16": 0, "new_utf8": 0, "new_utf16": 0}
