"""The keys page: each key, its certificates, PIN state; keys whose driver is missing."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.skf.libkind import skf_architecture_problems
from zhenglian.tokens.snapshot import UnrecognisedKey
from zhenglian.ui.i18n import pick
from zhenglian.ui.plaintext import rich_escape

CARD_STYLE = "QFrame#card { background: palette(base); border: 1px solid palette(mid); border-radius: 8px; }"


class KeyCard(QFrame):
    def __init__(self, key: KeyInfo, view: KeysView) -> None:
        super().__init__()
        self.setObjectName("card")
        self.setStyleSheet(CARD_STYLE)
        self.key = key
        lay = QVBoxLayout(self)
        ca = pick(key.ca_name_zh or "", key.ca_name_en or "") or self.tr("Unknown CA")
        demo = self.tr(" (demo key)") if key.demo else ""
        serial = self.tr("serial {serial}").format(serial=key.serial)
        # The organisation comes from the certificate, the label from the driver: outside text, escaped.
        title = QLabel(f"<b style='font-size:15px'>{rich_escape(key.organization() or key.label)}</b>"
                       f"<br><span style='color:gray'>{rich_escape(f'{ca}{demo} · {serial}')}</span>")
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(title)
        now = datetime.now(UTC)
        cert = key.signing_certificate()
        rows = []
        if cert is not None:
            info = cert.info
            days = info.days_left(now)
            if days < 0:
                validity = (self.tr("expired {n} day ago") if days == -1 else self.tr("expired {n} days ago")).format(n=-days)
                color = "#b91c1c"
            else:
                validity = (self.tr("{n} day left") if days == 1 else self.tr("{n} days left")).format(n=days)
                color = "#b45309" if days <= 30 else "#15803d"
            rows += [
                (self.tr("Unified social credit code"), info.uscc or "—"),
                (self.tr("Issuer"), info.issuer_fields.get("common_name", info.issuer)),
                (self.tr("Valid"), f"{info.not_before:%Y-%m-%d} — {info.not_after:%Y-%m-%d} "
                                   f"<span style='color:{color}'>({validity})</span>"),
                (self.tr("Key"), f"{info.key_type} {info.key_bits}"),
            ]
        else:
            rows.append((self.tr("Certificate"), self.tr("no signing certificate on this key")))
        from zhenglian.appstate import pin_state

        state = pin_state(key)  # flags and the client's count: SoftHSM-like drivers never say LOCKED
        pin_text = {
            "ok": self.tr("normal"),
            "count_low": self.tr("a wrong PIN was entered"),
            "final_try": self.tr("one try left"),
            "locked": self.tr("locked"),
            "to_be_changed": self.tr("must be changed"),
        }[state]
        if key.pin_tries_left is not None and state != "locked":  # the key says exactly (SKF)
            left = key.pin_tries_left
            pin_text += " · " + (self.tr("{n} try left") if left == 1 else self.tr("{n} tries left")).format(n=left)
        rows.append((self.tr("PIN"), pin_text))
        interface = self.tr("SKF (GM/T 0016)") if key.backend == "skf" else self.tr("PKCS#11")
        rows.append((self.tr("Interface"), interface))
        grid = QLabel("<table cellspacing=4>" + "".join(
            f"<tr><td style='color:gray'>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>")
        grid.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(grid)
        buttons = QHBoxLayout()
        choices = [("change_pin", self.tr("Change PIN")), ("renew", self.tr("Renew")), ("seals", self.tr("Seals"))]
        if state == "locked":
            choices.insert(0, ("unlock", self.tr("Unlock with the SO PIN")))
        for name, text in choices:
            b = QPushButton(text)
            b.setObjectName(f"btn_{name}_{key.serial}")
            b.clicked.connect(lambda _=False, n=name: view.keyAction.emit(n, self.key))
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)


class UnrecognisedCard(QFrame):
    def __init__(self, u: UnrecognisedKey, view: KeysView) -> None:
        super().__init__()
        self.setObjectName("card")
        self.setStyleSheet(CARD_STYLE + " QFrame#card { border-color: #f59e0b; }")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"<b>⚠ {rich_escape(pick(u.message_zh(), u.message_en()))}</b>"))
        advice = QLabel(pick(u.advice_zh(), self.tr("Install the CA's driver or start its own client, then plug the key in again.")))
        advice.setWordWrap(True)
        lay.addWidget(advice)
        for problem in skf_architecture_problems(u.manifest):  # a 32-bit-only SKF DLL: say so, not "no driver"
            note = QLabel(pick(problem.message_zh(), self.tr(
                "The key's SKF library is built for 32-bit programs and cannot be used by this 64-bit program. "
                "Ask the CA for a 64-bit driver or its PKCS#11 module.")))
            note.setWordWrap(True)
            lay.addWidget(note)
        row = QHBoxLayout()
        if u.manifest.vendor_client_name_zh:
            start = QPushButton(self.tr("Start {name}").format(name=pick(u.manifest.vendor_client_name_zh, u.manifest.vendor_client_name_en)))
            start.clicked.connect(lambda: view.vendorClient.emit(u.manifest.id))
            row.addWidget(start)
        retry = QPushButton(self.tr("Try again"))
        retry.clicked.connect(view.retry.emit)
        row.addWidget(retry)
        row.addStretch(1)
        lay.addLayout(row)


class KeysView(QWidget):
    keyAction = Signal(str, object)  # action name, KeyInfo
    vendorClient = Signal(str)  # manifest id
    retry = Signal()

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self.scroll)
        self.set_keys([], [])

    def set_keys(self, keys: list[KeyInfo] | tuple[KeyInfo, ...],
                 unrecognised: list[UnrecognisedKey] | tuple[UnrecognisedKey, ...]) -> None:
        inner = QWidget()
        lay = QVBoxLayout(inner)
        for u in unrecognised:
            lay.addWidget(UnrecognisedCard(u, self))
        for key in sorted(keys, key=lambda k: (k.ca_id or "~", k.label, k.serial)):
            lay.addWidget(KeyCard(key, self))
        if not keys and not unrecognised:
            empty = QLabel(self.tr("No key plugged in.\nPlug in your UKey; it is recognised automatically."))
            empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
            empty.setStyleSheet("color: gray; font-size: 15px; padding: 40px")
            lay.addWidget(empty)
        lay.addStretch(1)
        self.scroll.setWidget(inner)
