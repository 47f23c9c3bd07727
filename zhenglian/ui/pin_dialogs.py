"""PIN dialogs: pure views over a PinStatus and a KeyInfo.

They display what the services computed (tries left, flags, the CA's unlock
route) and hand back what the operator typed as a
:class:`~zhenglian.tokens.secret.PinBuffer` (None on cancel).  They never
call PKCS#11: the token work stays in :mod:`zhenglian.tokens.pin`, run by
the caller in a worker thread.

The PIN never lives in Qt or in a Python ``str``: :class:`PinField` encodes
each key press into a wipeable buffer and shows fillers; on accept the PIN is
moved into a PinBuffer at once and the buffer wiped, on cancel or close it is
wiped too.  Copy, cut, paste, drag, undo and the context menu are off, so the
PIN never reaches the clipboard.  ``scripts/pin_memory_check.py`` measures it.

Self-contained: each dialog needs only Qt, the token models and the
translation set up by :func:`zhenglian.ui.i18n.install_translator`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent
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
        if st.counted_by_key:
            return self.tr("%1 of %2 tries left").replace("%1", str(st.tries_left)).replace("%2", str(st.max_tries))
        if st.exact:  # our own count: wrong tries made elsewhere are not in it
            return (self.tr("At most %1 of %2 tries left")
                    .replace("%1", str(st.tries_left)).replace("%2", str(st.max_tries)))
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
    """A masked PIN field that never holds the PIN as text (issue 15.7).

    Qt keeps a QLineEdit's text in a QString (and its undo stack), and reading it
    back makes a Python ``str``: neither can be wiped, so a PIN typed there stays in
    memory after use.  So the typed characters never reach the QLineEdit: each key
    press is encoded into a fixed-size ``bytearray`` here (UTF-32, one slot per
    character, edited in place, never reallocated), and the line edit shows only
    as many filler characters, so cursor, selection and the password dots behave
    as usual.  :meth:`take` hands the PIN over as a PinBuffer and wipes the rest;
    :meth:`wipe` zeroes it (reject, close).

    What would put text into the field behind our back is off: paste (Ctrl+V,
    middle click, drop), undo/redo, the input method, the context menu, copy and
    drag.  Text set from code (``setText``: tests, the test hook) is absorbed into
    the buffer the same way.
    """

    capsLockChanged = Signal(bool)

    FILLER = "\ue000"  # a private-use character: never typed, shown as a dot in password mode
    MAX_CHARS = 64
    _NAVIGATION = frozenset({
        Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End,
        Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_CapsLock,
    })
    _PASS_ON = frozenset({  # the dialog's keys: Enter, Escape, Tab
        Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab,
    })

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chars = bytearray(4 * self.MAX_CHARS)  # UTF-32-LE slots, fixed size
        self._count = 0
        self._syncing = False
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.setMaxLength(self.MAX_CHARS)
        self.setMinimumWidth(260)
        self.textChanged.connect(self._absorb)

    # --- the buffer -------------------------------------------------------------

    def length(self) -> int:
        """How many characters are typed (the PIN itself is never returned as text)."""
        return self._count

    def _code(self, i: int) -> int:
        return int.from_bytes(self._chars[4 * i:4 * i + 4], "little")

    def _put(self, i: int, cp: int) -> None:
        for k in range(4):
            self._chars[4 * i + k] = (cp >> (8 * k)) & 0xFF

    def _delete(self, start: int, end: int) -> None:
        """Remove characters [start, end), shifting the rest left in place."""
        n = end - start
        if n <= 0:
            return
        for i in range(4 * start, 4 * (self._count - n)):
            self._chars[i] = self._chars[i + 4 * n]
        for i in range(4 * (self._count - n), 4 * self._count):
            self._chars[i] = 0
        self._count -= n

    def _insert(self, at: int, cp: int) -> bool:
        if self._count >= self.MAX_CHARS:
            return False
        for i in range(4 * self._count - 1, 4 * at - 1, -1):  # bytes [4*at, 4*count) move right by one slot
            self._chars[i + 4] = self._chars[i]
        self._put(at, cp)
        self._count += 1
        return True

    def _show(self, cursor: int) -> None:
        self._syncing = True
        try:
            # setText clears the undo/redo history too: nothing of an earlier state remains.
            self.setText(self.FILLER * self._count)
            self.setModified(False)
            self.setCursorPosition(cursor)
        finally:
            self._syncing = False

    def _absorb(self, text: str) -> None:
        """Text put in by code (or by Qt through a path not blocked): move it into the buffer."""
        if self._syncing or (len(text) == self._count and text.count(self.FILLER) == len(text)):
            return
        foreign = [c for c in text if c != self.FILLER]
        self._wipe_buffer()
        if len(foreign) == len(text):  # a whole new value (setText from code)
            for c in text[: self.MAX_CHARS]:
                self._insert(self._count, ord(c))
        # else: characters mixed into ours by some edit we did not see: start again, empty.
        del foreign
        self._show(self._count)

    def chars(self) -> list[str]:
        """The characters typed, one by one (for the rule checklist), never one ``str``."""
        return [chr(self._code(i)) for i in range(self._count)]

    def take(self) -> PinBuffer:
        """Move the PIN into a PinBuffer (UTF-8) and wipe the field."""
        size = sum(len(chr(self._code(i)).encode("utf-8")) for i in range(self._count))
        raw = bytearray(size)
        pos = 0
        for i in range(self._count):
            for b in chr(self._code(i)).encode("utf-8"):
                raw[pos] = b
                pos += 1
        try:
            return PinBuffer(raw)
        finally:
            for i in range(len(raw)):
                raw[i] = 0
            self.wipe()

    def _wipe_buffer(self) -> None:
        for i in range(len(self._chars)):
            self._chars[i] = 0
        self._count = 0

    def wipe(self) -> None:
        """Zero the buffer and empty the field (and its undo history)."""
        self._wipe_buffer()
        self._show(0)

    # --- editing ------------------------------------------------------------------

    def _selection(self) -> tuple[int, int] | None:
        if not self.hasSelectedText():
            return None
        start = self.selectionStart()
        return start, start + len(self.selectedText())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        text = event.text()
        mods = event.modifiers()
        if len(text) == 1 and text.isalpha() and text.isascii():
            shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
            self.capsLockChanged.emit(text.isupper() != shift)
        elif key == Qt.Key.Key_CapsLock:
            state = _caps_lock_on()
            if state is not None:
                self.capsLockChanged.emit(state)
        if key in self._PASS_ON or key in self._NAVIGATION or event.matches(QKeySequence.StandardKey.SelectAll):
            super().keyPressEvent(event)  # moves the cursor or selection, or goes to the dialog
            return
        sel = self._selection()
        cursor = self.cursorPosition()
        plain = mods & ~Qt.KeyboardModifier.KeypadModifier
        # Backspace (Shift+Backspace too) and Delete; not Alt+Backspace (undo), Shift+Delete (cut),
        # Ctrl+Backspace/Delete (a word): those are ignored below.
        erase = (key == Qt.Key.Key_Backspace and plain in (Qt.KeyboardModifier.NoModifier,
                                                           Qt.KeyboardModifier.ShiftModifier)) or \
                (key == Qt.Key.Key_Delete and plain == Qt.KeyboardModifier.NoModifier)
        if erase:
            if sel is not None:
                self._delete(*sel)
                cursor = sel[0]
            elif key == Qt.Key.Key_Backspace and cursor > 0:
                self._delete(cursor - 1, cursor)
                cursor -= 1
            elif key == Qt.Key.Key_Delete and cursor < self._count:
                self._delete(cursor, cursor + 1)
            self._show(cursor)
            event.accept()
            return
        typed = len(text) == 1 and text.isprintable() and not (
            mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier))
        if typed and text != self.FILLER:
            if sel is not None:
                self._delete(*sel)
                cursor = sel[0]
            if self._insert(cursor, ord(text)):
                cursor += 1
            self._show(cursor)
        # Anything else (paste, cut, undo, redo, word deletion...) would edit Qt's copy: ignored.
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - no middle-click paste (X11)
        if event.button() == Qt.MouseButton.MiddleButton:
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def clear(self) -> None:  # QLineEdit.clear, made to wipe the buffer too
        self.wipe()


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
        if not self.field.length():
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
        # Characters one by one (PinField.chars): the PINs never become one str.
        old = None if self.unlock else self.old.chars()
        return pinpolicy.evaluate_new(self.new.chars(), self.policy, old, self.repeat.chars())

    def _update(self) -> None:
        texts = PinTexts()
        rules = self._rules()
        typed = bool(self.new.length())
        for r in rules:
            label = self.checklist.get(r.id)
            if label is None:
                continue
            mark, color = ("✔", "#1b7f3b") if r.ok and typed else ("✘", "#b3261e") if typed else ("•", "#555555")
            label.setText(f"<span style='color:{color}'>{mark}</span> {_esc(texts.rule(r, self.policy))}")
        self.ok_button.setEnabled(bool(self.old.length()) and typed and all(r.ok for r in rules))

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
