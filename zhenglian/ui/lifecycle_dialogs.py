"""Certificate lifecycle in the GUI: the expiry reminder, the expired prompt, the banner.

The schedule lives in :mod:`zhenglian.lifecycle.store` (Qt-free); the tray
app asks it what is due, shows :func:`notification_text` as a tray message
and a :class:`LifecycleBanner` in the window, then one of these prompts:

- :class:`ReminderDialog` — "expires in N days": 立即续期 (Renew now) emits
  :attr:`ReminderDialog.renewRequested`; 稍后提醒 (Remind me later) — and
  closing the window — snoozes the reminder (one day, or until the next
  threshold if that comes first);
- :class:`ExpiredDialog` — the paper route (form, fee, where to send or
  bring it, hotline) and that the seal expired with the certificate; its
  button emits :attr:`ExpiredDialog.formsRequested` with the service
  ("renew"), which :func:`save_form` handles.

:func:`save_form` (ask where to save, then write the CA's form) is also what
the locked-PIN dialog's "生成解锁申请表" button calls, with kind "unlock".
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from zhenglian.lifecycle.service import PaperRoute, paper_route
from zhenglian.lifecycle.store import Banner, CertificateStore, RememberedCert, Reminder
from zhenglian.manifest import Manifest
from zhenglian.ui import i18n

translate = QCoreApplication.translate  # lupdate finds translate("LifecycleText", "…") calls


def _date(cert: RememberedCert) -> str:
    return cert.not_after.astimezone().strftime("%Y-%m-%d")


def _ca_name(manifest: Manifest | None) -> str:
    if manifest is None:
        return translate("LifecycleText", "the CA that issued it")
    return i18n.pick(manifest.name_zh, manifest.name_en)


def notification_text(reminder: Reminder) -> tuple[str, str]:
    """Title and message for the tray notification of a reminder."""
    cert = reminder.cert
    if reminder.kind == "expired":
        return (translate("LifecycleText", "Certificate expired"),
                translate("LifecycleText", "The certificate of {org} expired on {date}; its seal expired with it.")
                .format(org=cert.display(), date=_date(cert)))
    return (translate("LifecycleText", "Certificate expires in {days} days").format(days=reminder.days_left),
            translate("LifecycleText", "The certificate of {org} expires on {date}. Renew it online while it is valid.")
            .format(org=cert.display(), date=_date(cert)))


def banner_text(banner: Banner) -> str:
    cert = banner.cert
    if banner.kind == "expired":
        return translate("LifecycleText", "The certificate of {org} expired on {date}: its seal cannot be used. "
                  "Renewal now needs the CA's paper form.").format(org=cert.display(), date=_date(cert))
    return translate("LifecycleText", "The certificate of {org} expires in {days} days ({date}); its seal expires with it.").format(
        org=cert.display(), days=banner.days_left, date=_date(cert))


def paper_route_html(route: PaperRoute) -> str:
    """The paper route as a list, in the UI language (addresses stay as the CA writes them)."""
    lo, hi = route.years
    items = [translate("LifecycleText", "Fill in the CA's certificate application form (机构数字证书申请表), tick 更新续期 (renewal) "
                "and choose {lo}–{hi} years. Add the seal application form (电子印章申请表) and copies of "
                "the business licence and of the operator's ID card, all stamped, and send the key "
                "back with the papers.").format(lo=lo, hi=hi)]
    if route.fee_cert_per_year:
        items.append(translate("LifecycleText", "Fee: {cert} CNY a year for the certificate and {seal} CNY a year for each seal "
                        "({seals} seal(s): {total} CNY for 3 years).").format(
            cert=route.fee_cert_per_year, seal=route.fee_seal_per_year, seals=route.seals,
            total=route.fee_for(3)))
    else:
        items.append(translate("LifecycleText", "Ask the CA for the fee."))
    if route.mail_to_zh:
        items.append(translate("LifecycleText", "By post: {address}").format(address=route.mail_to_zh))
    if route.counter_zh:
        hours = i18n.pick(route.hours_zh, route.hours_en)
        items.append(translate("LifecycleText", "At the counter: {address}").format(address=route.counter_zh)
                     + (f" — {hours}" if hours else ""))
    contact = []
    if route.hotline:
        contact.append(translate("LifecycleText", "Hotline: {phones}").format(phones=" / ".join(route.hotline)))
    if route.qq:
        contact.append(f"QQ {route.qq}")
    if route.website:
        contact.append(route.website)
    if contact:
        items.append("; ".join(contact))
    return "<ul>" + "".join(f"<li>{_escape(i)}</li>" for i in items) + "</ul>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _icon_label(parent: QWidget, pixmap: QStyle.StandardPixmap) -> QLabel:
    label = QLabel(parent)
    label.setPixmap(parent.style().standardIcon(pixmap).pixmap(48, 48))
    label.setAlignment(Qt.AlignmentFlag.AlignTop)
    return label


def _details(cert: RememberedCert, manifest: Manifest | None) -> str:
    rows = [
        (translate("LifecycleText", "Organisation"), cert.display()),
        (translate("LifecycleText", "USCC"), cert.uscc or "—"),
        (translate("LifecycleText", "Issued by"), _ca_name(manifest)),
        (translate("LifecycleText", "Valid until"), _date(cert)),
        (translate("LifecycleText", "Key serial"), cert.key_serial),
    ]
    if cert.seal_names:
        rows.append((translate("LifecycleText", "Seals"), "、".join(cert.seal_names)))
    return "<table cellspacing='2'>" + "".join(
        f"<tr><td style='color:#555;padding-right:12px'>{_escape(k)}</td><td>{_escape(v)}</td></tr>"
        for k, v in rows) + "</table>"


def present(dialog: QDialog) -> QDialog:
    """Show an expiry prompt without blocking the rest of the app.

    The prompts come from a timer, at a moment the operator did not choose: a modal
    one that ends up behind the main window (another window was active, the main
    window was raised later) would block all input to it with nothing visible to
    answer.  So they are non-modal, raised and activated; the caller learns the
    answer from ``finished`` and the dialog's signals.
    """
    dialog.setWindowModality(Qt.WindowModality.NonModal)
    dialog.setModal(False)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


class ReminderDialog(QDialog):
    """"Your certificate expires in N days" with 立即续期 / 稍后提醒."""

    renewRequested = Signal(str)  # noqa: N815 - Qt naming; the certificate's SHA-256
    remindLaterRequested = Signal(str)  # noqa: N815

    def __init__(self, reminder: Reminder, manifest: Manifest | None = None,
                 store: CertificateStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reminder = reminder
        self.store = store
        self.choice: str | None = None
        cert = reminder.cert
        self.setWindowTitle(self.tr("Certificate expires soon"))
        headline = QLabel(self.tr("The certificate expires in {days} days").format(days=reminder.days_left))
        headline.setStyleSheet("font-size: 15pt; font-weight: bold;")
        body = QLabel(self.tr(
            "The seal bound to this certificate stops working when the certificate expires, on {date}. "
            "While it is valid, the certificate can be renewed online here, with the key plugged in: "
            "the new validity runs on from the old expiry. Once it has expired, renewal needs the CA's "
            "paper form and fee.").format(date=_date(cert)))
        body.setWordWrap(True)
        details = QLabel(_details(cert, manifest))
        text = QVBoxLayout()
        text.addWidget(headline)
        text.addWidget(body)
        text.addWidget(details)
        top = QHBoxLayout()
        top.addWidget(_icon_label(self, QStyle.StandardPixmap.SP_MessageBoxWarning))
        top.addLayout(text, 1)
        self.renew_button = QPushButton(self.tr("Renew now"))
        self.later_button = QPushButton(self.tr("Remind me later"))
        self.renew_button.setDefault(True)
        buttons = QDialogButtonBox()
        buttons.addButton(self.renew_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.later_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.renew_button.clicked.connect(self._renew)
        self.later_button.clicked.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(buttons)
        self.setMinimumWidth(520)

    def _renew(self) -> None:
        self.choice = "renew"
        if self.store is not None:
            self.store.mark_shown(self.reminder)
        self.renewRequested.emit(self.reminder.sha256)
        self.accept()

    def reject(self) -> None:
        """稍后提醒, Esc and closing the window all mean "later"."""
        if self.choice is None:
            self.choice = "later"
            if self.store is not None:
                self.store.snooze(self.reminder)
            self.remindLaterRequested.emit(self.reminder.sha256)
        super().reject()


class ExpiredDialog(QDialog):
    """The certificate has expired: what the seal means now, and the paper route."""

    formsRequested = Signal(str)  # noqa: N815 - the service: "renew"

    def __init__(self, cert: RememberedCert, manifest: Manifest | None = None,
                 store: CertificateStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cert = cert
        self.setWindowTitle(self.tr("Certificate expired"))
        if store is not None:
            store.mark_shown(cert.sha256)
        headline = QLabel(self.tr("The certificate expired on {date}").format(date=_date(cert)))
        headline.setStyleSheet("font-size: 15pt; font-weight: bold; color: #b00020;")
        body = QLabel(self.tr(
            "The seal bound to it expired with it: documents can no longer be signed with this key. "
            "An expired certificate cannot be renewed online; {ca} renews it on paper:").format(
            ca=_ca_name(manifest)))
        body.setWordWrap(True)
        route = QLabel(paper_route_html(paper_route(manifest, max(len(cert.seal_names), 1))))
        route.setWordWrap(True)
        route.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details = QLabel(_details(cert, manifest))
        text = QVBoxLayout()
        for w in (headline, body, route, details):
            text.addWidget(w)
        top = QHBoxLayout()
        top.addWidget(_icon_label(self, QStyle.StandardPixmap.SP_MessageBoxCritical))
        top.addLayout(text, 1)
        self.form_button = QPushButton(self.tr("Make the renewal form (PDF)…"))
        self.form_button.setDefault(True)
        self.form_button.clicked.connect(lambda: self.formsRequested.emit("renew"))
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        buttons = QDialogButtonBox()
        buttons.addButton(self.form_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(buttons)
        self.setMinimumWidth(560)


class LifecycleBanner(QFrame):
    """A strip at the top of the main window while a certificate is near or past expiry."""

    renewRequested = Signal(str)  # noqa: N815 - SHA-256
    detailsRequested = Signal(str)  # noqa: N815

    def __init__(self, banner: Banner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = banner
        expired = banner.kind == "expired"
        self.setObjectName("lifecycleBanner")
        self.setStyleSheet(
            "#lifecycleBanner { background: %s; border: 1px solid %s; border-radius: 4px; }"
            % (("#fdecea", "#e0a3a3") if expired else ("#fff4e0", "#e6c27a")))
        label = QLabel(banner_text(banner))
        label.setWordWrap(True)
        button = QPushButton(self.tr("What to do") if expired else self.tr("Renew now"))
        sha = banner.cert.sha256
        button.clicked.connect(lambda: (self.detailsRequested if expired else self.renewRequested).emit(sha))
        lay = QHBoxLayout(self)
        lay.addWidget(label, 1)
        lay.addWidget(button)


def save_form(parent: QWidget | None, kind: str, source: Any, manifest: Manifest | None,
              seal_names: list[str] | None = None) -> str | None:
    """Ask where to save, write the CA's form for ``kind``; the path written, or None if cancelled.

    ``source`` is a plugged-in KeyInfo or a RememberedCert.  Errors are shown
    in a message box (in the UI language), never raised.
    """
    from zhenglian import errors
    from zhenglian.lifecycle import forms
    from zhenglian.lifecycle.service import SERVICES

    names = {
        "renew": translate("LifecycleText", "renewal form"), "unlock": translate("LifecycleText", "unlock form"), "reissue": translate("LifecycleText", "reissue form"),
        "change": translate("LifecycleText", "change form"), "revoke": translate("LifecycleText", "revocation form"),
    }
    zh, _ = SERVICES[kind]
    path, _filter = QFileDialog.getSaveFileName(
        parent, translate("LifecycleText", "Save the CA's {form}").format(form=names[kind]), f"{zh}申请表.pdf", translate("LifecycleText", "PDF files (*.pdf)"))
    if not path:
        return None
    try:
        forms.generate(kind, source, manifest, path, seal_names=seal_names)
    except errors.ZhenglianError as exc:
        QMessageBox.warning(parent, translate("LifecycleText", "Could not make the form"), i18n.error_text(exc))
        return None
    QMessageBox.information(parent, translate("LifecycleText", "Form saved"),
                            translate("LifecycleText", "Saved to {path}. Print it, fill in the blanks, sign and stamp it, and hand it "
                               "to the CA.").format(path=path))
    return path
