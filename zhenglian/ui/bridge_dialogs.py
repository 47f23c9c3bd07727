"""The confirmation a web page's signing request needs: who asks, what, with which seal.

Shown by zhenglian/ui/bridge_ui.py on the GUI thread before the PIN is asked
(or, when the key had to log in first, before anything is signed).  The
requesting site comes first and stands out: the user signs only what they
just started on that site.  An unanswered request is cancelled after
``timeout_s``.  When the key must log in to the server first, ConfirmLoginDialog
asks before the login PIN, under the same rules (DeliberateDialog).

Only a deliberate click signs (issue 15.1):

- no button is ever the default, and Enter/Return do nothing: a PIN typed and
  Return pressed once too often must not sign.  (A QDialogButtonBox makes its
  first AcceptRole button the default whenever it is shown, whatever was set
  before, so the buttons sit in a plain row; ``showEvent`` clears the default
  flags again in case a style or Qt version re-arms them.)
- 确认签章 is disabled for :data:`ARM_MS` after the dialog appears (a QTimer
  started on the first show; ``armed`` is emitted when it is enabled), so a
  click or key already on its way when the dialog popped up lands on nothing;
- the text says exactly what comes next: the PIN is asked after the
  confirmation, or — when it was already entered for this request (the key
  logged in to the server first) — confirming signs at once.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from zhenglian.bridge.jobs import SignRequestInfo
from zhenglian.ui import i18n

WARN = "color: #b3261e;"
NOTE = "color: #555555;"
DEFAULT_TIMEOUT_S = 180
ARM_MS = 1000  # 确认签章 is enabled this long after the dialog is shown
ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _label(text: str, rich: bool = False, width: int = 320) -> QLabel:
    label = QLabel(text)
    label.setMinimumWidth(width)  # word-wrapped labels otherwise shrink the dialog to a column
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class DeliberateDialog(QDialog):
    """A question from a web page that only a click answers, cancelled when unanswered.

    No button is ever the default and Enter/Return do nothing, whatever has the
    focus (see the module's docstring); after ``timeout_s`` without an answer
    the dialog rejects itself, counting down in :attr:`countdown` (which the
    subclass places), so that a forgotten question does not hold the job.
    """

    def __init__(self, parent: QWidget | None = None, timeout_s: int = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self._remaining = max(int(timeout_s), 1)
        self.countdown = _label("", width=440)
        self.countdown.setStyleSheet(NOTE)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._show_remaining()

    def _show_remaining(self) -> None:
        # translate(), not self.tr(): PySide's tr() looks the string up under the subclass's name.
        self.countdown.setText(QCoreApplication.translate("DeliberateDialog", "Cancelled automatically in %1 s "
                                                          "if not answered.").replace("%1", str(self._remaining)))

    def _tick(self) -> None:
        self._remaining -= 1
        if self._remaining <= 0:
            self._timer.stop()
            self.reject()
            return
        self._show_remaining()

    def _add_answers(self, layout: QVBoxLayout, go_text: str, cancel_text: str) -> tuple[QPushButton, QPushButton]:
        """The answer row under ``layout``: (go, cancel), the focus on cancel; the dialog takes the layout's size.

        A plain row, not a QDialogButtonBox (which makes its accept button the default on show).
        """
        row = QHBoxLayout()
        row.addStretch(1)
        go = QPushButton(go_text, self)
        cancel = QPushButton(cancel_text, self)
        go.clicked.connect(self.accept)
        cancel.clicked.connect(self.reject)
        row.addWidget(go)
        row.addWidget(cancel)
        self._no_default()
        layout.addLayout(row)
        cancel.setFocus()
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        return go, cancel

    def _no_default(self) -> None:
        for b in self.findChildren(QPushButton):
            b.setAutoDefault(False)
            b.setDefault(False)

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in ENTER_KEYS:
            event.accept()  # Enter never answers this dialog, whatever has the focus
            return
        super().keyPressEvent(event)

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._no_default()
        self.raise_()
        self.activateWindow()


class ConfirmLoginDialog(DeliberateDialog):
    """Before the login PIN for a web page's request: the page named first; nothing is signed yet.

    继续 / 取消; ``exec()`` is Accepted only on a click on 继续 (:attr:`continue_button`).
    """

    def __init__(self, site: str, server: str, parent: QWidget | None = None,
                 timeout_s: int = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(parent, timeout_s)
        self.setObjectName("confirmLogin")
        self.setWindowTitle(QCoreApplication.translate("BridgeUi", "Signing request from a web page"))
        layout = QVBoxLayout(self)
        self.text_label = _label(QCoreApplication.translate(
            "BridgeUi", "The web page %1 asks to seal a document with your key.\n\n"
                        "First the key logs in to the signing server %2 (the PIN is "
                        "asked next); then the document is shown for you to confirm. "
                        "Nothing is signed yet.").replace("%1", site).replace("%2", server), width=440)
        layout.addWidget(self.text_label)
        layout.addWidget(self.countdown)
        self.continue_button, self.cancel_button = self._add_answers(
            layout, QCoreApplication.translate("BridgeUi", "Continue"), QCoreApplication.translate("BridgeUi", "Cancel"))


class ConfirmSignDialog(DeliberateDialog):
    """确认签章 / 取消 for one request; ``exec()`` is Accepted only on a click on 确认签章.

    ``pin_entered``: the key is already logged in for this request (its PIN, entered to
    log in to the server, is kept for the signing: it is not asked again after the
    confirmation); None takes ``info.pin_entered``, which the jobs layer sets from the
    job's PIN cache — the same fact the signing step acts on.
    """

    armed = Signal()

    def __init__(self, info: SignRequestInfo, parent: QWidget | None = None,
                 timeout_s: int = DEFAULT_TIMEOUT_S, pin_entered: bool | None = None) -> None:
        super().__init__(parent, timeout_s)
        self.info = info
        self.pin_entered = bool(getattr(info, "pin_entered", False)) if pin_entered is None else pin_entered
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

        warn = _label(self.tr("Confirm only if you started this signing on that site just now."), width=440)
        warn.setStyleSheet(WARN)
        layout.addWidget(warn)
        if self.pin_entered:
            next_text = self.tr("The key is already logged in for this request (its PIN was entered a moment "
                                "ago): Confirm seal signs the document at once, the PIN is not asked again.")
        else:
            next_text = self.tr("Confirm seal does not sign yet: the key's PIN is asked next.")
        self.next_label = _label(next_text, width=440)
        self.next_label.setObjectName("nextStep")
        layout.addWidget(self.next_label)
        layout.addWidget(self.countdown)

        self.confirm_button, self.cancel_button = self._add_answers(layout, self.tr("Confirm seal"), self.tr("Cancel"))
        self.confirm_button.setObjectName("confirmSeal")
        self.cancel_button.setObjectName("cancel")
        self.confirm_button.setEnabled(False)  # armed ARM_MS after the dialog is shown

        self._arm_timer = QTimer(self)
        self._arm_timer.setSingleShot(True)
        self._arm_timer.setInterval(ARM_MS)
        self._arm_timer.timeout.connect(self._arm)

    def _arm(self) -> None:
        if self.isVisible():
            self.confirm_button.setEnabled(True)
            self.armed.emit()

    @property
    def is_armed(self) -> bool:
        return self.confirm_button.isEnabled()

    def done(self, result: int) -> None:
        self._arm_timer.stop()
        self.confirm_button.setEnabled(False)
        super().done(result)

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.is_armed and not self._arm_timer.isActive():
            self._arm_timer.start()

    @classmethod
    def ask(cls, info: SignRequestInfo, parent: QWidget | None = None,
            timeout_s: int = DEFAULT_TIMEOUT_S) -> bool:
        dlg = cls(info, parent, timeout_s)
        ok = dlg.exec() == int(QDialog.DialogCode.Accepted)
        dlg.deleteLater()
        return ok
