"""PIN dialogs: pure views over a PinStatus and a KeyInfo.

They display what the services computed (tries left, flags, the CA's unlock
route) and hand back what the operator typed as a
:class:`~zhenglian.tokens.secret.PinBuffer` (None on cancel).  They never
call PKCS#11: the token work stays in :mod:`zhenglian.tokens.pin`, run by
the caller in a worker thread.

The PIN lives in the QLineEdit only while it is typed: on accept the text
is moved into a PinBuffer at once and the line edit is cleared; on cancel
it is cleared too.  Password echo mode stops copy and drag out of the field,
and the context menu is off, so the PIN never reaches the clipboard.

Self-contained: each dialog needs only Qt, the token models and the
translation set up by :func:`zhenglian.ui.i18n.install_translator`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from zhenglian import errors
from zhenglian.manifest import PinPolicy
from zhenglian.tokens import pinpolicy
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.pin import PinStatus
from zhenglian.tokens.secret import PinBuffer
from zhenglian.ui import i18n

WARN = "color: #b3261e;"
NOTE = "color: #555555;"


def _caps_lock_on() -> bool | None:
    """Caps Lock state from the OS where it can be asked cheaply; None when unknown."""
    if sys.platform.startswith("win"):
        try:
            import ctypes

            return bool(ctypes.windll.user32.GetKeyState(0x14) & 1)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            return None
    return None


class KeyHeader(QFrame):
    """Which key: the CA, the certificate's organisation, the serial."""

    def __init__(self, key: KeyInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyHeader")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        form = QFormLayout(self)
        ca = (key.ca_name_zh if i18n.is_chinese() else key.ca_name_en) or self.tr("Unknown CA")
        org = key.organization() or key.label
        self.org_label = QLabel(f"<b>{_esc(org)}</b>")
        self.org_label.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(self.tr("Organisation:"), self.org_label)
        form.addRow(self.tr("Issued by:"), QLabel(ca))
        form.addRow(self.tr("Key serial:"), QLabel(key.serial))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PinTexts(QObject):
    """Shared phrases (translation context "PinTexts")."""

    def tries(self, st: PinStatus) -> str:
        if st.locked:
            return self.tr("The SO PIN is locked.") if st.so else self.tr("The PIN is locked.")
        if st.final_try:
            return self.tr("Last try: one more wrong PIN locks the key.")
        if st.exact:
            return self.tr("%1 of %2 tries left").replace("%1", str(st.tries_left)).replace("%2", str(st.max_tries))
        return self.tr("About %1 of %2 tries left").replace("%1", str(st.tries_left)).replace("%2", str(st.max_tries))

    def rule(self, r: pinpolicy.RuleResult, policy: PinPolicy) -> str:
        texts = {
            "min_length": self.tr("At least %1 characters").replace("%1", str(policy.new_min_length)),
            "max_length": self.tr("At most %1 characters").replace("%1", str(policy.max_length)),
            "upper": self.tr("An upper-case letter"),
            "lower": self.tr("A lower-case letter"),
            "digit": self.tr("A digit"),
            "special": self.tr("A special character (such as @#!)"),
            "charset": self.tr("Only letters, digits and common symbols"),
            "not_repeated": self.tr("Not one character repeated"),
            "not_sequence": self.tr("Not a simple sequence (like 12345678)"),
            "not_initial": self.tr("Not the factory PIN"),
            "not_old": self.tr("Different from the current PIN"),
            "repeat": self.tr("Both entries of the new PIN match"),
        }
        return texts.get(r.id, r.zh if i18n.is_chinese() else r.en)


class PinField(QLineEdit):
    """A masked PIN field: no copy, no drag, no context menu, no autocompletion."""

    capsLockChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setDragEnabled(False)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.setMaxLength(64)
        self.setMinimumWidth(260)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        text = event.text()
        if len(text) == 1 and text.isalpha() and text.isascii():
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.capsLockChanged.emit(text.isupper() != shift)
        elif event.key() == Qt.Key.Key_CapsLock:
            state = _caps_lock_on()
            if state is not None:
                self.capsLockChanged.emit(state)
        super().keyPressEvent(event)

    def take(self) -> PinBuffer:
        """Move the text into a PinBuffer and clear the field."""
        text = self.text()
        try:
            return PinBuffer(text)
        finally:
            del text
            self.clear()


def _buttons(dialog: QDialog, ok_text: str, cancel_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox()
    ok = box.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
    cancel = box.addButton(cancel_text, QDialogButtonBox.ButtonRole.RejectRole)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    ok.setDefault(True)
    cancel.setAutoDefault(False)
    return box, ok


class _Modal(QDialog):
    """Base: modal, on top, one PIN dialog at a time."""

    _open: ClassVar[list[QDialog]] = []

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.setMinimumWidth(400)

    def _fit(self) -> None:
        """Size the dialog to its contents (word-wrapped labels otherwise leave gaps)."""
        self.layout().setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)

    def exec(self) -> int:
        if _Modal._open:  # one at a time: bring the open one forward, refuse the second
            _Modal._open[-1].raise_()
            _Modal._open[-1].activateWindow()
            return int(QDialog.DialogCode.Rejected)
        _Modal._open.append(self)
        try:
            return super().exec()
        finally:
            _Modal._open.remove(self)

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.raise_()
        self.activateWindow()


class PinDialog(_Modal):
    """Ask for the user PIN (or, with ``so=True``, the SO PIN) of one key."""

    def __init__(self, key: KeyInfo, status: PinStatus, error: errors.ZhenglianError | None = None,
                 offer_keep: bool = False, parent: QWidget | None = None, context: Any = None) -> None:
        super().__init__(parent)
        self._pin: PinBuffer | None = None
        so = status.so
        from zhenglian.ui import pin_context  # what the PIN is for: documents to seal, or a login

        self.setWindowTitle(self.tr("SO PIN (administrator)") if so else
                            pin_context.window_title(context) or self.tr("Enter PIN"))
        layout = QVBoxLayout(self)
        self.context_band = None if so else pin_context.band(context, self)
        if self.context_band is not None:
            layout.addWidget(self.context_band)
        layout.addWidget(KeyHeader(key, self))
        self.tries_label = QLabel(PinTexts().tries(status))
        self.tries_label.setObjectName("tries")
        if status.tries_left <= 3:
            self.tries_label.setStyleSheet(WARN + "font-weight: bold;")
        layout.addWidget(self.tries_label)
        self.error_label = QLabel(self._error_text(error))
        self.error_label.setObjectName("error")
        self.error_label.setStyleSheet(WARN)
        self.error_label.setWordWrap(True)
        self.error_label.setMinimumWidth(360)
        self.error_label.setVisible(error is not None)
        layout.addWidget(self.error_label)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("SO PIN:") if so else self.tr("PIN:")))
        self.field = PinField(self)
        row.addWidget(self.field, 1)
        layout.addLayout(row)
        self.caps_label = QLabel(self.tr("Caps Lock is on"))
        self.caps_label.setObjectName("capsLock")
        self.caps_label.setStyleSheet(WARN)
        self.caps_label.setVisible(bool(_caps_lock_on()))
        self.field.capsLockChanged.connect(self.caps_label.setVisible)
        layout.addWidget(self.caps_label)
        self.keep_box: QCheckBox | None = None
        if offer_keep:
            self.keep_box = QCheckBox(self.tr("Keep the PIN for this batch (memory only)"))
            layout.addWidget(self.keep_box)
        note = QLabel(self.tr("The PIN is sent only to the key; it is never saved."))
        note.setStyleSheet(NOTE)
        layout.addWidget(note)
        box, self.ok_button = _buttons(self, self.tr("OK"), self.tr("Cancel"))
        self.ok_button.setEnabled(False)
        self.field.textChanged.connect(lambda t: self.ok_button.setEnabled(bool(t)))
        layout.addWidget(box)
        self.field.setFocus()
        self._fit()

    def _error_text(self, error: errors.ZhenglianError | None) -> str:
        if error is None:
            return ""
        if isinstance(error, errors.WrongPin):  # the tries line above already gives the count
            return self.tr("The PIN entered last time was wrong.")
        return i18n.error_text(error, with_hint=False)

    @property
    def keep_pin(self) -> bool:
        return self.keep_box is not None and self.keep_box.isChecked()

    def accept(self) -> None:
        if not self.field.text():
            return
        self._pin = self.field.take()
        super().accept()

    def reject(self) -> None:
        self.field.clear()
        super().reject()

    def take_pin(self) -> PinBuffer | None:
        """The PIN entered (once); the caller wipes it."""
        pin, self._pin = self._pin, None
        return pin

class FinalTryDialog(_Modal):
    """Explicit confirmation before the last try is spent.  Enter/Esc both cancel."""

    def __init__(self, key: KeyInfo, status: PinStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Last try"))
        layout = QVBoxLayout(self)
        layout.addWidget(KeyHeader(key, self))
        title = QLabel(self.tr("Only one try is left."))
        title.setStyleSheet(WARN + "font-weight: bold; font-size: 14pt;")
        layout.addWidget(title)
        who = self.tr("SO PIN") if status.so else self.tr("PIN")
        body = QLabel(self.tr("If this %1 is wrong too, the key locks. Only the CA can unlock it, at its counter and with a paper form.").replace("%1", who))
        body.setWordWrap(True)
        body.setMinimumWidth(380)
        layout.addWidget(body)
        layout.addWidget(QLabel(self.tr("Make sure you have the right PIN before you go on.")))
        box, ok = _buttons(self, self.tr("I am sure, enter the PIN"), self.tr("Cancel"))
        ok.setDefault(False)
        ok.setAutoDefault(False)
        cancel = next(b for b in box.buttons() if b is not ok)
        cancel.setDefault(True)
        cancel.setFocus()
        self.confirm_button = ok
        layout.addWidget(box)
        self._fit()

    @classmethod
    def confirm(cls, key: KeyInfo, status: PinStatus, parent: QWidget | None = None) -> bool:
        dlg = cls(key, status, parent)
        ok = dlg.exec() == int(QDialog.DialogCode.Accepted)
        dlg.deleteLater()
        return ok


class LockedDialog(_Modal):
    """No PIN field at all: what happened and the CA's unlock route."""

    unlockFormRequested = Signal(str)  # key serial; the forms come with a later feature

    def __init__(self, key: KeyInfo, status: PinStatus, error: errors.PinLocked,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Key locked"))
        layout = QVBoxLayout(self)
        layout.addWidget(KeyHeader(key, self))
        if status.so:
            head = self.tr("The SO (administrator) PIN of this key is locked.")
        else:
            head = self.tr("The PIN of this key is locked after too many wrong entries.")
        title = QLabel(head)
        title.setStyleSheet(WARN + "font-weight: bold;")
        title.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(QLabel(self.tr("No PIN can be entered, and signing with this key is not possible.")))
        layout.addWidget(QLabel("<b>" + self.tr("How to unlock (free of charge, only the CA can do it):") + "</b>"))
        route_key = "route_zh" if i18n.is_chinese() else "route_en"
        route = str(error.facts.get(route_key, ""))
        self.route_label = QLabel(route[:1].upper() + route[1:])
        self.route_label.setObjectName("route")
        self.route_label.setWordWrap(True)
        self.route_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.route_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.route_label.setMargin(8)
        self.route_label.setMinimumWidth(480)
        layout.addWidget(self.route_label)
        box = QDialogButtonBox()
        self.form_button = box.addButton(self.tr("Generate unlock application form"),
                                         QDialogButtonBox.ButtonRole.ActionRole)
        close = box.addButton(self.tr("Close"), QDialogButtonBox.ButtonRole.RejectRole)
        close.setDefault(True)
        box.rejected.connect(self.reject)
        self.form_button.clicked.connect(lambda: self.unlockFormRequested.emit(key.serial))
        layout.addWidget(box)
        self._fit()


class ChangePinDialog(_Modal):
    """Change the PIN (current, new, repeat) or, with ``unlock=True``, set one with the SO PIN.

    The checklist below the fields follows the policy live
    (:func:`zhenglian.tokens.pinpolicy.evaluate_new`); OK is enabled only
    when every rule passes.
    """

    def __init__(self, key: KeyInfo, status: PinStatus, policy: PinPolicy, unlock: bool = False,
                 error: errors.ZhenglianError | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.policy = policy
        self.unlock = unlock
        self._result: tuple[PinBuffer, PinBuffer, PinBuffer] | None = None
        self.setWindowTitle(self.tr("Unlock with the SO PIN") if unlock else self.tr("Change PIN"))
        layout = QVBoxLayout(self)
        layout.addWidget(KeyHeader(key, self))
        self.tries_label = QLabel(PinTexts().tries(status))
        if status.tries_left <= 3:
            self.tries_label.setStyleSheet(WARN + "font-weight: bold;")
        layout.addWidget(self.tries_label)
        self.error_label = QLabel(i18n.error_text(error, with_hint=False) if error else "")
        self.error_label.setStyleSheet(WARN)
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(error is not None)
        layout.addWidget(self.error_label)
        form = QFormLayout()
        self.old = PinField(self)
        self.new = PinField(self)
        self.repeat = PinField(self)
        form.addRow(self.tr("SO PIN:") if unlock else self.tr("Current PIN:"), self.old)
        form.addRow(self.tr("New PIN:"), self.new)
        form.addRow(self.tr("New PIN again:"), self.repeat)
        layout.addLayout(form)
        self.caps_label = QLabel(self.tr("Caps Lock is on"))
        self.caps_label.setStyleSheet(WARN)
        self.caps_label.setVisible(bool(_caps_lock_on()))
        for f in (self.old, self.new, self.repeat):
            f.capsLockChanged.connect(self.caps_label.setVisible)
            f.textChanged.connect(self._update)
        layout.addWidget(self.caps_label)
        layout.addWidget(QLabel("<b>" + self.tr("The new PIN needs:") + "</b>"))
        self.checklist: dict[str, QLabel] = {}
        grid = QVBoxLayout()
        grid.setSpacing(2)
        for r in self._rules():
            label = QLabel()
            label.setObjectName(f"rule_{r.id}")
            self.checklist[r.id] = label
            grid.addWidget(label)
        layout.addLayout(grid)
        box, self.ok_button = _buttons(self, self.tr("Unlock") if unlock else self.tr("Change PIN"),
                                       self.tr("Cancel"))
        layout.addWidget(box)
        self._update()
        self.old.setFocus()
        self._fit()

    def _rules(self) -> list[pinpolicy.RuleResult]:
        old = None if self.unlock else self.old.text()
        return pinpolicy.evaluate_new(self.new.text(), self.policy, old, self.repeat.text())

    def _update(self) -> None:
        texts = PinTexts()
        rules = self._rules()
        typed = bool(self.new.text())
        for r in rules:
            label = self.checklist.get(r.id)
            if label is None:
                continue
            mark, color = ("✔", "#1b7f3b") if r.ok and typed else ("✘", "#b3261e") if typed else ("•", "#555555")
            label.setText(f"<span style='color:{color}'>{mark}</span> {_esc(texts.rule(r, self.policy))}")
        self.ok_button.setEnabled(bool(self.old.text()) and typed and all(r.ok for r in rules))

    def accept(self) -> None:
        if not self.ok_button.isEnabled():
            return
        self._result = (self.old.take(), self.new.take(), self.repeat.take())
        super().accept()

    def reject(self) -> None:
        for f in (self.old, self.new, self.repeat):
            f.clear()
        super().reject()

    def take_result(self) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        result, self._result = self._result, None
        return result


class PinPadDialog(_Modal):
    """A key with its own PIN pad: no field, a waiting message with a countdown.

    The caller runs C_Login in a worker thread and calls :meth:`finish` when
    it returns; at zero the dialog closes itself (``timedOut``).
    """

    timedOut = Signal()

    def __init__(self, key: KeyInfo, status: PinStatus, timeout_s: int = 60,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Enter the PIN on the key"))
        self.remaining = timeout_s
        layout = QVBoxLayout(self)
        layout.addWidget(KeyHeader(key, self))
        layout.addWidget(QLabel(PinTexts().tries(status)))
        msg = QLabel(self.tr("Enter the PIN on the key's own PIN pad and confirm it there."))
        msg.setStyleSheet("font-weight: bold;")
        msg.setWordWrap(True)
        msg.setMinimumWidth(380)
        layout.addWidget(msg)
        self.countdown = QLabel()
        self.countdown.setObjectName("countdown")
        layout.addWidget(self.countdown)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._show_remaining()
        self._timer.start()
        self._fit()

    def _show_remaining(self) -> None:
        self.countdown.setText(self.tr("Waiting for the key… %1 s").replace("%1", str(self.remaining)))

    def _tick(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self._timer.stop()
            self.timedOut.emit()
            self.reject()
            return
        self._show_remaining()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - the login cannot be cancelled here
        if event.key() != Qt.Key.Key_Escape:
            super().keyPressEvent(event)

    def finish(self) -> None:
        self._timer.stop()
        self.accept()


class DialogPrompter:
    """A :class:`zhenglian.tokens.pin.PinPrompter` made of these dialogs.

    Call its methods on the GUI thread (the tray app's worker marshals them
    there); ``error`` is shown in the next PIN dialog after a wrong PIN.
    """

    def __init__(self, key: KeyInfo, parent: QWidget | None = None, offer_keep: bool = False,
                 manifest: Any = None, context: Any = None) -> None:
        self.key = key
        self.context = context  # pin_context.PinContext: what the PIN is asked for
        self.parent = parent
        self.offer_keep = offer_keep
        self.manifest = manifest
        self.error: errors.ZhenglianError | None = None
        self._keep = False
        self.lockedDialog: LockedDialog | None = None

    def keep_pin(self) -> bool:
        return self._keep

    def show_error(self, error: errors.ZhenglianError) -> None:
        self.error = error

    def locked(self, st: PinStatus, error: errors.PinLocked) -> None:
        """The locked dialog; its 生成解锁申请表 saves the CA's form, with the dialog itself as parent
        (so the save dialog and its answer come up on top of it, wherever it was shown from)."""
        from zhenglian.ui.lifecycle_dialogs import save_form

        dlg = self.lockedDialog = LockedDialog(self.key, st, error, self.parent)
        dlg.unlockFormRequested.connect(lambda _serial: save_form(dlg, "unlock", self.key, self.manifest))
        dlg.exec()

    def confirm_final_try(self, st: PinStatus) -> bool:
        return FinalTryDialog.confirm(self.key, st, self.parent)

    def ask_pin(self, st: PinStatus) -> PinBuffer | None:
        dlg = PinDialog(self.key, st, self.error, offer_keep=self.offer_keep, parent=self.parent,
                        context=self.context)
        dlg.exec()
        self._keep = dlg.keep_pin
        pin = dlg.take_pin()
        dlg.deleteLater()
        return pin

    def _ask_three(self, st: PinStatus, policy: PinPolicy, unlock: bool) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        dlg = ChangePinDialog(self.key, st, policy, unlock=unlock, error=self.error, parent=self.parent)
        dlg.exec()
        result = dlg.take_result()
        dlg.deleteLater()
        return result

    def ask_change(self, st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        return self._ask_three(st, policy, False)

    def ask_unlock(self, so_st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        return self._ask_three(so_st, policy, True)

    @contextmanager
    def pinpad(self, st: PinStatus) -> Iterator[None]:
        dlg = PinPadDialog(self.key, st, parent=self.parent)
        dlg.show()
        try:
            yield
        finally:
            dlg.finish()
            dlg.deleteLater()
