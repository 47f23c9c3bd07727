"""The 验证 page: check the signatures of any PDF, and sign a PDF of your own.

A PDF dropped on the window (or opened here) is verified at once; "Sign this
document" stamps the key's seal where the operator drags it and signs, with
the output written next to the input under a new name (never over it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from zhenglian import errors
from zhenglian.ui import i18n
from zhenglian.ui.marshal import ThreadedPrompter
from zhenglian.ui.preview import DocumentPreview
from zhenglian.ui.workers import run_async

log = logging.getLogger(__name__)

STATUS_COLOR = {"valid": "#15803d", "untrusted": "#b45309", "modified": "#b91c1c", "invalid": "#b91c1c"}


def report_texts() -> tuple[dict[str, str], dict[str, str]]:
    """Operator words for each :class:`~zhenglian.pdf.verify.SignatureState` and each
    :class:`~zhenglian.pdf.verify.Reason` (why it is not valid) — INVALID is never shown as "untrusted"."""
    q = QCoreApplication
    words = {
        "valid": q.translate("DocumentsView", "valid"),
        "untrusted": q.translate("DocumentsView", "valid, but the signer's CA is not trusted"),
        "modified": q.translate("DocumentsView", "changed after signing"),
        "invalid": q.translate("DocumentsView", "INVALID"),
    }
    reasons = {
        "tampered": q.translate("DocumentsView", "the signed content was altered"),
        "bad_signature": q.translate("DocumentsView", "the signature does not match the signer's certificate"),
        "weak_algorithm": q.translate("DocumentsView", "it uses an algorithm too weak to rely on (such as SHA-1)"),
        "revoked": q.translate("DocumentsView", "the signer's certificate is revoked"),
        "incomplete_coverage": q.translate("DocumentsView", "the signature does not cover the whole document"),
        "unreadable": q.translate("DocumentsView", "the signature cannot be read"),
        "disallowed_changes": q.translate("DocumentsView",
                                          "the document was changed in a way this signature does not allow"),
        "no_trusted_root": q.translate("DocumentsView", "the certificate does not lead to a trusted root certificate"),
        "certificate_expired": q.translate("DocumentsView", "the signer's certificate has expired"),
        "certificate_not_yet_valid": q.translate("DocumentsView", "the signer's certificate is not yet valid"),
        "chain_problem": q.translate("DocumentsView", "the certificate chain could not be checked"),
    }
    return words, reasons


def is_pdf_drop(event: QDragEnterEvent | QDropEvent) -> Path | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
    return paths[0] if len(paths) == 1 and paths[0].suffix.lower() == ".pdf" else None


class DocumentsView(QWidget):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self.ctx = app.ctx
        self.path: Path | None = None
        self.password: str | None = None
        self._opening = 0  # which open() is current: an older one's report is dropped
        self.seal: Any = None
        self.seal_key: Any = None
        self.spot = (1, 150.0, 240.0)  # page, x mm, y mm of the seal's centre
        top = QHBoxLayout()
        open_btn = QPushButton(self.tr("Open PDF…"))
        open_btn.clicked.connect(self.choose_file)
        self.file_label = QLabel(self.tr("Drop a PDF here, or open one, to check its signatures."))
        self.sign_btn = QPushButton(self.tr("Sign this document…"))
        self.sign_btn.setObjectName("local_sign")
        self.sign_btn.setEnabled(False)
        self.sign_btn.clicked.connect(self.prepare_signing)
        top.addWidget(open_btn)
        top.addWidget(self.file_label, 1)
        top.addWidget(self.sign_btn)
        self.report = QTextBrowser()
        self.report.setObjectName("verify_report")
        self.preview = DocumentPreview()
        self.preview.placementChanged.connect(lambda page, x, y: setattr(self, "spot", (page + 1, x, y)))
        self.preview.loaded.connect(self._pages_drawn)
        self.sign_bar = QWidget()
        bar = QHBoxLayout(self.sign_bar)
        self.sign_hint = QLabel(self.tr("Drag the seal where it belongs, then sign."))
        self.out_field = QLineEdit()
        do_sign = QPushButton(self.tr("Sign and save"))
        do_sign.setObjectName("local_sign_go")
        do_sign.clicked.connect(self.sign)
        bar.addWidget(self.sign_hint, 1)
        bar.addWidget(QLabel(self.tr("Save as")))
        bar.addWidget(self.out_field, 1)
        bar.addWidget(do_sign)
        self.sign_bar.hide()
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.preview, 1)
        rv.addWidget(self.sign_bar)
        split = QSplitter()
        split.addWidget(self.report)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    # --- open (drops on the window arrive through MainWindow.pdfDropped) ------------------

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open PDF"), "", self.tr("PDF documents (*.pdf)"))
        if path:
            self.open(Path(path))

    def open(self, path: Path, password: str | None = None) -> None:
        from zhenglian.pdf.trust import trust_roots

        self.path, self.password = path, password
        self._opening = ticket = self._opening + 1
        self.sign_bar.hide()
        self.file_label.setText(str(path))
        self.report.setHtml(self.tr("Checking…"))
        self.sign_btn.setEnabled(False)
        self.preview.clear()  # the pages shown are another document's: a load still under way is dropped
        roots = trust_roots(demo=self.ctx.settings.demo)

        def work() -> Any:
            from zhenglian.pdf.preload import pdf_stack

            pdf_stack()  # one first import of pyHanko, whichever worker comes first
            from zhenglian.pdf.verify import verify_pdf

            reports = verify_pdf(path, roots, password=password)
            try:  # for the preview, read here too: not on the window's thread, and a file gone meanwhile says so
                data = path.read_bytes()
            except OSError:
                raise errors.DocumentNotFound(path=str(path)) from None
            return reports, data

        def shown(result: tuple[list[Any], bytes]) -> None:
            if ticket == self._opening:
                self._show_report(*result)

        def failed(exc: BaseException) -> None:
            if ticket == self._opening:
                self._open_failed(exc)

        run_async(work, shown, failed)

    def _open_failed(self, exc: BaseException) -> None:
        if isinstance(exc, errors.DocumentEncrypted) and self.path is not None:
            path, ticket = self.path, self._opening
            text, ok = QInputDialog.getText(self, self.tr("Password"), self.tr("This PDF is encrypted. Its password:"),
                                            QLineEdit.EchoMode.Password)
            if ticket != self._opening:
                return  # another document was opened while the dialog was up: that one is shown
            if ok and text:
                self.open(path, text)
                return
        self.report.setHtml(f"<p style='color:#b91c1c'>{i18n.error_text(exc)}</p>")

    def _pages_drawn(self) -> None:
        """The document opened last is drawn: the seal can be placed on its pages (the last, at first)."""
        self.sign_btn.setEnabled(self.path is not None)

    def _show_report(self, reports: list[Any], data: bytes) -> None:
        assert self.path is not None
        self.preview.load(data, self.password, name=str(self.path))  # signing is offered once it is drawn
        self.preview.fit()  # the whole page once drawn, as on the tasks page
        if not reports:
            self.report.setHtml(self.tr("<p>This document has no signature.</p>"))
            return
        words, reasons = report_texts()
        parts = []
        for i, r in enumerate(reports, 1):
            when = r.timestamp or r.signing_time
            rows = [
                (self.tr("Seal"), r.seal_name or "—"),
                (self.tr("Organisation"), r.organization or r.signer or "—"),
                (self.tr("Unified social credit code"), r.uscc or "—"),
                (self.tr("Signed at"), f"{when:%Y-%m-%d %H:%M}" if when else "—"),
                (self.tr("Timestamp"), self.tr("yes") if r.timestamp else self.tr("no")),
                (self.tr("Changed after signing"), self.tr("no") if not r.changed_after_signing
                 else (r.modification_level or "?")),
            ]
            why = r.state_reason
            if why is not None:
                rows.insert(0, (self.tr("Why"), reasons.get(why.value, why.value)))
            table = "".join(f"<tr><td style='color:gray'>{k}</td><td>{v}</td></tr>" for k, v in rows)
            head = self.tr("Signature {n}:").format(n=i)  # outside the f-string: lupdate finds it
            parts.append(f"<h3>{head} "
                         f"<span style='color:{STATUS_COLOR[r.status]}'>{words[r.status]}</span></h3>"
                         f"<table>{table}</table>")
        self.report.setHtml("".join(parts))

    # --- local signing -----------------------------------------------------------------

    def prepare_signing(self) -> None:
        from zhenglian.pdf import sealchoice

        key = self.app.key_actions.choose_key()
        if key is None or self.path is None:
            return
        self.seal_key = key
        ctx = self.ctx
        ticket = self._opening

        def chosen(seal: Any) -> None:
            if ticket != self._opening:
                return  # another document was opened meanwhile: the operator starts again there
            self.seal = seal
            pages = self.preview.thumbs.count()
            self.spot = (pages, 150.0, 240.0)
            self.preview.set_seal(seal.png, (seal.width_mm, seal.height_mm), pages - 1, 150.0, 240.0, True)
            self.out_field.setText(str(self.path.with_name(self.tr("{stem}-sealed.pdf").format(stem=self.path.stem))))
            self.sign_bar.show()

        run_async(lambda: sealchoice.choose_seal(ctx, key, None), chosen, self._error)

    def sign(self) -> None:
        from zhenglian.pdf import placement as pl
        from zhenglian.pdf.localsign import LocalSigning, sign_files
        from zhenglian.ui.pin_dialogs import DialogPrompter

        if self.path is None or self.seal is None or self.seal_key is None:
            return
        out = Path(self.out_field.text()).expanduser()
        if out.resolve() == self.path.resolve():
            QMessageBox.warning(self, self.tr("zhenglian"), self.tr("Choose another file name: the original stays untouched."))
            return
        h = self.ctx.tokens.handle(self.seal_key)
        prompter = ThreadedPrompter(DialogPrompter(h.key, self.window(), manifest=h.manifest))
        page, x, y = self.spot
        job = LocalSigning([(self.path, out)], [pl.AtPosition(page, x, y)], self.seal, password=self.password,
                           timestamp_url=self.ctx.settings.timestamp_url or None)

        def work() -> Any:
            from zhenglian.pdf.preload import pdf_stack

            pdf_stack()
            return sign_files(h, prompter, job)

        def done(_result: Any) -> None:
            self.app.tray.notify(self.tr("Document signed"), str(out))
            self.open(out)

        self.sign_bar.hide()
        run_async(work, done, self._error)

    def _error(self, exc: BaseException) -> None:
        if isinstance(exc, (errors.PinCancelled, errors.FinalTryNotConfirmed, errors.PinLocked)):
            return
        if isinstance(exc, errors.InitialPinInUse) and self.seal_key is not None:
            self.app.key_actions.factory_pin_refused(self.seal_key, exc)  # the change dialog, at once
            return
        QMessageBox.warning(self, self.tr("zhenglian"), i18n.error_text(exc))


