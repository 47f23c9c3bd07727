"""Issue 15.11: a count that is the client's own is "at most"; an expiry prompt never blocks the app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from pkcs11.constants import TokenFlag

from zhenglian.tokens import pin
from zhenglian.tokens.flags import TokenFlags


def st(flags: int = 0, failures: int = 0, reports: str | None = None) -> pin.PinStatus:
    return pin.PinStatus("S", False, TokenFlags(flags), failures, 10, reports)


def test_our_own_count_is_stated_as_an_upper_bound() -> None:
    # Two wrong tries made here; the key (like most) reports no count: wrong tries made
    # in the vendor's client are not in ours, so 8 is the most there can be.
    s = st(failures=2)
    assert not s.counted_by_key
    assert "最多还可尝试 8 次" in s.describe_zh()
    assert "at most 8 of 10 tries left" in s.describe_en()
    assert "最多" in st().describe_zh(), "even with no wrong try counted here"


def test_the_keys_own_word_is_stated_plainly() -> None:
    final = st(int(TokenFlag.USER_PIN_FINAL_TRY))
    assert final.counted_by_key
    assert "最多" not in final.describe_zh() and "还可尝试 1 次" in final.describe_zh()
    assert "at most" not in final.describe_en()
    assert st(int(TokenFlag.USER_PIN_LOCKED)).describe_zh() == "PIN 已锁定"


def test_the_pin_dialog_line_says_at_most(qapp) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.ui import i18n
    from zhenglian.ui.pin_dialogs import PinTexts

    texts = PinTexts()
    try:
        i18n.install_translator(qapp, "en_US")
        assert texts.tries(st(failures=2)) == "At most 8 of 10 tries left"
        assert texts.tries(st(int(TokenFlag.USER_PIN_COUNT_LOW))).startswith("About")
        i18n.install_translator(qapp, "zh_CN")
        assert texts.tries(st(failures=2)) == "最多还可尝试 8 次（共 10 次）"
        assert texts.tries(st(int(TokenFlag.USER_PIN_FINAL_TRY))).startswith("最后一次")
    finally:
        i18n.install_translator(qapp, "zh_CN")


# --- expiry prompts ---------------------------------------------------------------


def _due_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from test_lifecycle_reminders import Clock, make_cert, make_keyinfo

    from zhenglian.lifecycle.store import CertificateStore

    now = dt.datetime.now(dt.UTC)
    store = CertificateStore(tmp_path / "certs.json", clock=Clock(now))
    for serial, days in (("8A1F0C22", -3), ("8A1F0C23", 10)):
        info = make_cert(now + dt.timedelta(days=days), "东莞市示范有限公司")
        store.remember(make_keyinfo(serial, info), seal_names={info.sha256: ["合同专用章"]})
    return store


def test_expiry_prompts_are_non_modal_and_shown_one_after_another(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication, QMainWindow

    from zhenglian.ui.key_actions import KeyActions
    from zhenglian.ui.lifecycle_dialogs import ExpiredDialog, ReminderDialog

    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    notes: list[str] = []
    app = SimpleNamespace(ctx=SimpleNamespace(manifests=SimpleNamespace(by_id=lambda _id: None)),
                          window=window, tray=SimpleNamespace(notify=lambda t, m, warning=False: notes.append(t)))
    actions = KeyActions(app)
    actions._store = _due_store(tmp_path)
    due = actions.check_reminders()
    assert len(due) == 2
    # The first prompt is up, and it blocks nothing: the main window still takes input.
    qtbot.waitUntil(lambda: len(actions._open_prompts) == 1 and actions._open_prompts[0].isVisible())
    first = actions._open_prompts[0]
    assert not first.isModal() and QApplication.activeModalWidget() is None
    assert actions.check_reminders() == [], "no second round while prompts are open"
    window.raise_()  # the prompt is now behind the main window: still nothing blocked
    assert QApplication.activeModalWidget() is None
    first.reject()
    qtbot.waitUntil(lambda: len(actions._open_prompts) == 1 and actions._open_prompts[0] is not first)
    second = actions._open_prompts[0]
    assert {type(first), type(second)} == {ExpiredDialog, ReminderDialog}
    assert not second.isModal()
    second.reject()
    qtbot.waitUntil(lambda: not actions._open_prompts)
    assert not actions._prompting and len(notes) == 2

