"""The confirmation a web page's signing request needs: who asks, what, with which seal.

Shown by zhenglian/ui/bridge_ui.py on the GUI thread before the PIN is asked
(or, when the key had to log in first, before anything is signed).  The
requesting site comes first and stands out: the user signs only what they
just started on that site.  Neither button is the default, so a stray Enter
confirms nothing; an unanswered request is cancelled after ``timeout_s``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QVBoxLayout,
    QWidget,
)

from zhenglian.bridge.jobs import SignRequestInfo
from zhenglian.ui import i18n

WARN = "color: #b3261e;"
NOTE = "color: #555555;"
DEFAULT_TIMEOUT_S = 180


def _label(text: str, rich: bool = False, width: int = 320) -> QLabel:
    label = QLabel(text)
    label.setMinimumWidth(width)  # word-wrapped labels otherwise shrink the dialog to a column
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ConfirmSignDialog(QDialog):
    """确认签章 / 取消 for one request; ``exec()`` is Accepted only on 确认签章."""

    def __init__(self, info: SignRequestInfo, parent: QWidget | None = None,
                 timeout_s: int = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(parent)
        self.info = info
        self.setModal(True)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.setWindowTitle(self.tr("Signing request from a web page"))
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)

        head = _label(self.tr("A web page asks zhenglian to seal a document with your key."), width=440)
        head.setStyleSheet("font-weight: bold; font-size: 13pt;")
        layout.addWidget(head)

        form = QFormLayout()
        self.origin_label = _label(f"<b>{html.escape(info.origin)}</b>", rich=True)
        self.origin_label.setObjectName("origin")
        form.addRow(self.tr("Requesting site:"), self.origin_label)
        if info.server != info.origin:
            form.addRow(self.tr("Signing server:"), _label(info.server))
        self.title_label = _label(info.title)
        self.title_label.setObjectName("document")
        form.addRow(self.tr("Document:"), self.title_label)
        if info.filename:
            form.addRow(self.tr("File:"), _label(info.filename))
        if info.business_type:
            form.addRow(self.tr("Business type:"), _label(info.business_type))
        inst = info.institution + (f"（{info.uscc}）" if info.uscc else "")
        self.institution_label = _label(inst)
        self.institution_label.setObjectName("institution")
        form.addRow(self.tr("Institution:"), self.institution_label)
        seal_text = info.seal_name if not info.seal_type or info.seal_type in info.seal_name \
            else f"{info.seal_name}（{info.seal_type}）"
        seal_row = QHBoxLayout()
        self.seal_label = _label(seal_text, width=220)
        self.seal_label.setObjectName("seal")
        seal_row.addWidget(self.seal_label, 1)
        picture = QPixmap()
        if info.seal_png and picture.loadFromData(info.seal_png, "PNG"):
            pic = QLabel()
            pic.setPixmap(picture.scaled(88, 88, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))
            seal_row.addWidget(pic)
        form.addRow(self.tr("Seal:"), seal_row)
        ca = (info.ca_name_zh if i18n.is_chinese() else info.ca_name_en) or self.tr("Unknown CA")
        form.addRow(self.tr("Key:"), _label(f"{ca} · {info.key_serial}"))
        layout.addLayout(form)

        warn = _label(self.tr("Confirm only if you started this signing on that site just now. "
                              "The key's PIN is asked next."), width=440)
        warn.setStyleSheet(WARN)
        layout.addWidget(warn)
        self._remaining = max(int(timeout_s), 1)
        self.countdown = _label("", width=440)
        self.countdown.setStyleSheet(NOTE)
        layout.addWidget(self.countdown)

        box = QDialogButtonBox()
        self.confirm_button = box.addButton(self.tr("Confirm seal"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = box.addButton(self.tr("Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        for b in (self.confirm_button, self.cancel_button):
            b.setAutoDefault(False)
            b.setDefault(False)
        self.confirm_button.setObjectName("confirmSeal")
        self.cancel_button.setObjectName("cancel")
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.cancel_button.setFocus()
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._show_remaining()

    def _show_remaining(self) -> None:
        self.countdown.setText(self.tr("Cancelled automatically in %1 s if not answered.")
                               .replace("%1", str(self._remaining)))

    def _tick(self) -> None:
        self._remaining -= 1
        if self._remaining <= 0:
            self._timer.stop()
            self.reject()
            return
        self._show_remaining()

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.raise_()
        self.activateWindow()

    @classmethod
    def ask(cls, info: SignRequestInfo, parent: QWidget | None = None,
            timeout_s: int = DEFAULT_TIMEOUT_S) -> bool:
        dlg = cls(info, parent, timeout_s)
        ok = dlg.exec() == int(QDialog.DialogCode.Accepted)
        dlg.deleteLater()
        return ok
