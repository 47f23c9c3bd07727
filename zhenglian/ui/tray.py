"""The tray icon: state at a glance, the menu, and notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from zhenglian.ui import icons

if TYPE_CHECKING:  # the tray icon comes up before the key layer is imported
    from zhenglian.appstate import Attention, TrayState
    from zhenglian.tokens.watcher import KeyEvent


class Tray(QObject):
    """Emits ``action`` with a name: open, tasks, certs, change_pin, renew, diagnostics, settings, about, quit."""

    action = Signal(str)

    MENU = ("open", "tasks", "certs", "change_pin", "renew", "diagnostics", "settings", "about", None, "quit")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.actions: dict[str, QAction] = {}
        for name in self.MENU:
            if name is None:
                self.menu.addSeparator()
                continue
            act = QAction(self.menu)
            act.triggered.connect(lambda _=False, n=name: self.action.emit(n))
            self.menu.addAction(act)
            self.actions[name] = act
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.state: TrayState | None = None
        self.retranslate()

    def tr_menu(self, name: str, n: int = 0) -> str:
        texts = {
            "open": self.tr("Open zhenglian"),
            "tasks": self.tr("Documents to sign ({n})").format(n=n),
            "certs": self.tr("Certificate details"),
            "change_pin": self.tr("Change PIN"),
            "renew": self.tr("Renew certificate"),
            "diagnostics": self.tr("Diagnostics"),
            "settings": self.tr("Settings"),
            "about": self.tr("About"),
            "quit": self.tr("Quit"),
        }
        return texts[name]

    def retranslate(self) -> None:
        n = self.state.pending if self.state else 0
        for name, act in self.actions.items():
            act.setText(self.tr_menu(name, n))
        if self.state:
            self.icon.setToolTip(self.tooltip(self.state))

    def show_initial(self) -> None:
        """The icon before the first key scan: as for no key, named, with its menu."""
        self.icon.setIcon(icons.icon(icons.TRAY_ICON["no_key"]))
        self.icon.setToolTip(self.tr("zhenglian"))
        for name in ("certs", "change_pin", "renew"):
            self.actions[name].setEnabled(False)

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.action.emit("open")

    # --- state ---------------------------------------------------------------

    def attention_text(self, a: Attention) -> str:
        who = a.organization or ""
        if a.kind == "pin_locked":
            return self.tr("PIN locked: {who}").format(who=who)
        if a.kind == "cert_expired":
            return self.tr("Certificate expired: {who}").format(who=who)
        if a.kind == "cert_expiring":
            return self.tr("Certificate expires in {n} days: {who}").format(n=a.days_left, who=who)
        return self.tr("Key plugged in but its driver is missing")

    def tooltip(self, state: TrayState) -> str:
        lines = [self.tr("zhenglian")]
        if not state.keys:
            lines.append(self.tr("No key plugged in"))
        for key in state.keys:
            lines.append(f"{key.ca_name_zh or '?'} · {key.organization() or key.label}")
        if state.pending:
            lines.append(self.tr("{n} documents to sign").format(n=state.pending))
        lines += [self.attention_text(a) for a in state.attention]
        return "\n".join(lines)

    def set_state(self, state: TrayState) -> None:
        self.state = state
        self.icon.setIcon(icons.icon(icons.TRAY_ICON[state.kind], state.pending))
        self.icon.setToolTip(self.tooltip(state))
        self.actions["tasks"].setText(self.tr_menu("tasks", state.pending))
        has_key = bool(state.keys)
        for name in ("certs", "change_pin", "renew"):
            self.actions[name].setEnabled(has_key)

    # --- notifications -------------------------------------------------------

    def notify(self, title: str, text: str, warning: bool = False) -> None:
        # Imported here: ui.plaintext names PySide6's Qt namespace, ≈ 30 ms before the first icon.
        from zhenglian.ui.plaintext import notification_safe

        kind = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
        if self.icon.isVisible() and self.icon.supportsMessages():
            self.icon.showMessage(notification_safe(title), notification_safe(text), kind, 8000)

    def notify_key_event(self, ev: KeyEvent) -> None:
        if ev.initial and ev.kind == "inserted":
            return  # keys already there at start-up are not news
        if ev.key is not None:
            who = f"{ev.key.ca_name_zh or ''} · {ev.key.organization() or ev.key.label}"
            if ev.kind == "inserted":
                self.notify(self.tr("Key plugged in"), who)
            elif ev.kind == "removed":
                self.notify(self.tr("Key removed"), who)
        elif ev.unrecognised is not None and ev.kind == "unrecognised":
            self.notify(self.tr("Key not recognised"), ev.unrecognised.message_zh(), warning=True)
