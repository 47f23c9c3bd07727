"""The lifecycle dialogs: buttons drive the reminder store; Chinese from zhenglian_zh_CN.qm.

With ``ZHENGLIAN_SCREENSHOTS=DIR`` set (and a real display, e.g. under
xvfb-run with QT_QPA_PLATFORM=xcb) the dialogs are also saved as PNGs for
docs/images.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QTranslator  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from test_lifecycle_reminders import Clock, make_cert, make_keyinfo  # noqa: E402

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
    folder = os.environ.get("ZHENGLIAN_SCREENSHOTS")
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
