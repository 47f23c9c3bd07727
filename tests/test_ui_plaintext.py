"""Outside text in Qt widgets is shown as its characters, never rendered as markup (issue 15, item 9)."""

from __future__ import annotations

HOSTILE = "<img src='http://evil.example/x.png'><a href='http://evil.example'>点这里</a>&amp;"


def test_rich_escape_shows_markup_as_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QLabel

    from zhenglian.ui.plaintext import plain_label, rich_escape

    doc = QTextDocument()
    doc.setHtml(f"<b>{rich_escape(HOSTILE)}</b>")
    assert doc.toPlainText() == HOSTILE  # what the operator reads is exactly the server's text
    label = plain_label(QLabel(HOSTILE))
    qtbot.addWidget(label)
    assert label.textFormat() == Qt.TextFormat.PlainText


def test_message_box_shows_plain_text(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from zhenglian.ui import plaintext

    seen = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: seen.append((self.textFormat(), self.text())) or 0)
    plaintext.message(None, QMessageBox.Icon.Warning, "t", HOSTILE)
    assert seen == [(Qt.TextFormat.PlainText, HOSTILE)]


def test_banner_escapes_names_from_certificates(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QTextDocument

    from zhenglian.appstate import TrayState
    from zhenglian.ui.mainwindow import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.set_state(TrayState(kind="attention"), [f"证书即将过期：{HOSTILE}"])
    doc = QTextDocument()
    doc.setHtml(w.banner.text())
    assert doc.toPlainText() == f"⚠ 证书即将过期：{HOSTILE}"


def test_tray_notifications_carry_no_markup(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from zhenglian.ui import plaintext

    monkeypatch.setattr(sys, "platform", "linux")
    assert plaintext.notification_safe("<a href='x'>续费</a> A&B") == "＜a href='x'＞续费＜/a＞ A＆B"
    monkeypatch.setattr(sys, "platform", "win32")  # Windows balloons are plain text: left as they are
    assert plaintext.notification_safe("A&B <x>") == "A&B <x>"
