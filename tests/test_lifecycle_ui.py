"""The lifecycle dialogs: buttons drive the reminder store; Chinese from zhenglian_zh_CN.qm.

With ``ZHENGLIAN_SCREENSHOTS=DIR`` set (and a real display, e.g. under
xvfb-run with QT_QPA_PLATFORM=xcb) the dialogs are also saved as PNGs for
docs/images.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")

from helpers.lifecycle import Clock, make_cert, make_keyinfo  # noqa: E402
from PySide6.QtCore import QTranslator  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from zhenglian import manifest, paths  # noqa: E402
from zhenglian.lifecycle.store import CertificateStore  # noqa: E402
from zhenglian.reference.provision import DEMO_KEYS  # noqa: E402

UTC = dt.UTC
DAY = dt.timedelta(days=1)
ORG = "东莞市莞城示范制造有限公司"
DEMO_USCC = DEMO_KEYS[0].uscc


@pytest.fixture
def chinese(qapp: QApplication):  # type: ignore[no-untyped-def]
    translator = QTranslator()
    assert translator.load(str(paths.resources_dir() / "i18n" / "zhenglian_zh_CN.qm"))
    qapp.installTranslator(translator)
    yield translator
    qapp.removeTranslator(translator)


def _store(tmp_path: Path, now: dt.datetime, not_after: dt.datetime) -> CertificateStore:
    store = CertificateStore(tmp_path / "certs.json", clock=Clock(now))
    info = make_cert(not_after, ORG, uscc=DEMO_KEYS[0].uscc)
    key = make_keyinfo("8A1F0C22", info)
    store.remember(key, seal_names={info.sha256: [f"{ORG}合同专用章"]})
    return store


def _shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("ZHENGLIAN_SHOTS") or os.environ.get("ZHENGLIAN_SCREENSHOTS")  # as shoot()
    if folder:
        widget.adjustSize()
        widget.show()
        QApplication.processEvents()
        widget.grab().save(str(Path(folder) / name))


def test_reminder_prompt_renew_now_and_remind_later(qtbot, chinese, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.ui.lifecycle_dialogs import ReminderDialog, notification_text

    now = dt.datetime.now(UTC)
    store = _store(tmp_path, now, now + 15 * DAY - dt.timedelta(hours=1))
    (reminder,) = store.due()
    netca = manifest.load_all().by_id("netca")
    dialog = ReminderDialog(reminder, netca, store)
    qtbot.addWidget(dialog)
    assert dialog.renew_button.text() == "立即续期" and dialog.later_button.text() == "稍后提醒"
    title, message = notification_text(reminder)
    assert "15 天后到期" in title and ORG in message
    _shot(dialog, "lifecycle-reminder.png")
    with qtbot.waitSignal(dialog.remindLaterRequested) as later:
        dialog.later_button.click()
    assert later.args == [reminder.sha256]
    assert store.due() == []  # snoozed
    store.clock.now = now + DAY  # type: ignore[attr-defined]
    (again,) = store.due()
    assert again.repeat
    dialog2 = ReminderDialog(again, netca, store)
    qtbot.addWidget(dialog2)
    with qtbot.waitSignal(dialog2.renewRequested):
        dialog2.renew_button.click()
    assert dialog2.choice == "renew" and store.due() == []


def test_expired_prompt_explains_the_paper_route(qtbot, chinese, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    from zhenglian.ui.lifecycle_dialogs import ExpiredDialog, LifecycleBanner

    now = dt.datetime.now(UTC)
    store = _store(tmp_path, now, now - 3 * DAY)
    (reminder,) = store.due()
    assert reminder.kind == "expired"
    netca = manifest.load_all().by_id("netca")
    dialog = ExpiredDialog(reminder.cert, netca, store)
    qtbot.addWidget(dialog)
    text = "\n".join(label.text() for label in dialog.findChildren(QLabel))
    assert dialog.close_button.text() == "关闭"
    for fact in (DEMO_USCC, "更新续期", "200 元/年/个", "400-830-1330", "张芸芸", "通联大厦", "电子印章随之失效"):
        assert fact in text, fact
    assert store.due() == []  # the prompt counts as shown
    _shot(dialog, "lifecycle-expired.png")
    with qtbot.waitSignal(dialog.formsRequested) as sig:
        dialog.form_button.click()
    assert sig.args == ["renew"]
    (banner,) = store.banners()
    strip = LifecycleBanner(banner)
    strip.setMinimumWidth(760)
    qtbot.addWidget(strip)
    _shot(strip, "lifecycle-banner.png")


# --- issue 15.11: an unanswered expiry prompt never blocks the app ------------------------


def _due_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(UTC)
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


def test_a_key_plugged_in_while_prompts_are_up_is_prompted_after_them(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The check a new key asks for while earlier prompts are open is not dropped: it runs when
    the last of them closes, and that key's reminder comes up then (not at the hourly check)."""
    from PySide6.QtWidgets import QMainWindow

    from zhenglian.ui.key_actions import KeyActions

    window = QMainWindow()
    qtbot.addWidget(window)
    app = SimpleNamespace(ctx=SimpleNamespace(manifests=SimpleNamespace(by_id=lambda _id: None)),
                          window=window, tray=SimpleNamespace(notify=lambda t, m, warning=False: None))
    actions = KeyActions(app)
    store = actions._store = _due_store(tmp_path)
    # A chain nobody interrupts ends with nothing asked again.
    one = CertificateStore(tmp_path / "one.json")
    solo = make_cert(dt.datetime.now(UTC) + 10 * DAY, "东莞市单个有限公司")
    one.remember(make_keyinfo("8A1F0C98", solo), seal_names={solo.sha256: ["公章"]})
    actions._store = one
    assert len(actions.check_reminders()) == 1
    qtbot.waitUntil(lambda: len(actions._open_prompts) == 1)
    actions._open_prompts[0].reject()
    qtbot.waitUntil(lambda: not actions._prompting and not actions._open_prompts)
    actions._store = store
    assert len(actions.check_reminders()) == 2
    qtbot.waitUntil(lambda: len(actions._open_prompts) == 1)
    # Meanwhile a key is plugged in: its certificate is remembered and a check asked for.
    late = make_cert(dt.datetime.now(UTC) + 12 * DAY, "东莞市后插有限公司")
    store.remember(make_keyinfo("8A1F0C99", late), seal_names={late.sha256: ["公章"]})
    assert actions.check_reminders() == []  # the chain is still up
    shown: list[str] = []
    for _ in range(3):
        qtbot.waitUntil(lambda: len(actions._open_prompts) == 1)
        dlg = actions._open_prompts[0]
        shown.append(dlg.cert.sha256 if hasattr(dlg, "cert") else dlg.reminder.sha256)
        dlg.reject()
        qtbot.waitUntil(lambda d=dlg: d not in actions._open_prompts)
    assert shown[-1] == late.sha256 and len(set(shown)) == 3
    qtbot.waitUntil(lambda: not actions._prompting)
    assert not actions._open_prompts and store.due() == []



def test_keys_not_remembered_for_a_file_error_are_tried_again_with_the_next_key_event(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A data directory that refused the write once does not leave the plugged-in key unremembered
    (and never reminded) until another key comes or goes: the next listing tries again."""
    from PySide6.QtWidgets import QMainWindow

    from zhenglian.ui.key_actions import KeyActions

    window = QMainWindow()
    qtbot.addWidget(window)
    from zhenglian import errors

    def no_seal_names(key):  # type: ignore[no-untyped-def]
        raise errors.TokenRemoved(serial=key.serial)  # seal names unread; the certificate is still remembered

    app = SimpleNamespace(ctx=SimpleNamespace(tokens=SimpleNamespace(module_for=no_seal_names),
                                              manifests=SimpleNamespace(by_id=lambda _id: None)),
                          window=window, tray=SimpleNamespace(notify=lambda t, m, warning=False: None))
    actions = KeyActions(app)
    store = actions._store = CertificateStore(tmp_path / "certs.json")
    info = make_cert(dt.datetime.now(UTC) + 200 * DAY, "东莞市重试有限公司")
    keys = [make_keyinfo("8A1F0CA0", info)]
    real_update, calls = store._update, []

    def update_once_failing(change):  # type: ignore[no-untyped-def]
        calls.append(change)
        if len(calls) == 1:
            raise PermissionError("data directory read-only for a moment")
        real_update(change)

    store._update = update_once_failing
    actions.remember(keys)
    qtbot.waitUntil(lambda: len(calls) == 1 and actions._remembered == frozenset(), timeout=30000)
    assert store.all() == []
    actions.remember(keys)  # the next state the watcher sends, same keys
    qtbot.waitUntil(lambda: [c.sha256 for c in store.all()] == [info.sha256], timeout=30000)
