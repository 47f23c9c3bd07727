"""用印登记 page: every use of the seal, filtered by date, key, seal and outcome, with the chain's status.

Reading and checking the register run off the GUI thread (``workers.run_async``);
``loaded`` and ``verified`` tell when they are done.  "Open signed file" opens
the file only while it still exists with the hash the register recorded.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from zhenglian.ui.i18n import error_text
from zhenglian.ui.workers import run_async

_OK_STYLE = "QLabel { color: #166534; }"
_BAD_STYLE = "QLabel { color: #b91c1c; font-weight: bold; }"


class RegisterView(QWidget):
    loaded = Signal()  # the table shows the current filter's entries
    verified = Signal(object)  # VerifyReport, or the error met while checking
    exported = Signal(object)  # the file written, or the error met

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path
        self.entries: list[Any] = []
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(self.tr("Every use of the seal on this computer: what was stamped, when, "
                                     "with which key, and what came of it. No PIN and no document contents are kept.")))
        row = QHBoxLayout()
        self.use_dates = QCheckBox(self.tr("Dates"))
        self.since = QDateEdit()
        self.until = QDateEdit()
        today = QDate.currentDate()
        for edit, value in ((self.since, today.addDays(-30)), (self.until, today)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(value)
            edit.setEnabled(False)
            edit.dateChanged.connect(lambda _d: self.reload())
        self.use_dates.toggled.connect(self._dates_toggled)
        self.key = QComboBox()
        self.seal = QComboBox()
        self.outcome = QComboBox()
        self.outcome.addItem(self.tr("All outcomes"), None)
        for value, text in self._outcome_texts().items():
            self.outcome.addItem(text, value)
        for combo in (self.key, self.seal, self.outcome):
            combo.activated.connect(lambda _i: self.reload())
        refresh = QPushButton(self.tr("Refresh"))
        refresh.clicked.connect(self.refresh)
        row.addWidget(self.use_dates)
        row.addWidget(self.since)
        row.addWidget(QLabel(self.tr("to")))
        row.addWidget(self.until)
        row.addWidget(self.key, 1)
        row.addWidget(self.seal, 2)
        row.addWidget(self.outcome, 1)
        row.addWidget(refresh)
        lay.addLayout(row)

        self.table = QTableWidget(0, 7)
        self.table.setObjectName("register_table")
        self.table.setHorizontalHeaderLabels([self.tr("No."), self.tr("Time"), self.tr("Outcome"), self.tr("Seal"),
                                              self.tr("Document"), self.tr("Key"), self.tr("Came from")])
        header = self.table.horizontalHeader()
        for col in range(7):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _i: self.open_selected())
        lay.addWidget(self.table, 1)
        self.detail = QLabel()
        self.detail.setObjectName("register_detail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.detail.setMinimumHeight(self.detail.fontMetrics().lineSpacing() * 8 + 20)
        self.detail.setStyleSheet("QLabel#register_detail { border: 1px solid palette(mid); padding: 4px; }")
        lay.addWidget(self.detail)

        bottom = QHBoxLayout()
        self.count = QLabel()
        self.open_btn = QPushButton(self.tr("Open signed file"))
        self.open_btn.setObjectName("register_open")
        self.open_btn.setEnabled(False)
        self.open_btn.clicked.connect(self.open_selected)
        self.export_btn = QPushButton(self.tr("Export…"))
        self.export_btn.setObjectName("register_export")
        self.export_btn.setToolTip(self.tr("A printable PDF report for the seal custodian, or a CSV table, "
                                           "of the entries shown"))
        self.export_btn.clicked.connect(self._ask_export)
        bottom.addWidget(self.count)
        bottom.addStretch(1)
        bottom.addWidget(self.export_btn)
        bottom.addWidget(self.open_btn)
        lay.addLayout(bottom)
        self.chain = QLabel(self.tr("Checking the register…"))
        self.chain.setObjectName("register_chain")
        self.chain.setWordWrap(True)
        self.chain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.chain)
        self.note = QLabel()
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self._fill_choices([], [])

    # --- texts -------------------------------------------------------------------

    def _outcome_texts(self) -> dict[str, str]:
        return {"signed": self.tr("Signed"), "refused": self.tr("Refused"),
                "cancelled": self.tr("Cancelled"), "failed": self.tr("Failed")}

    def _origin_text(self, use: Any) -> str:
        kind = {"task": self.tr("Signing task"), "web": self.tr("Web page"), "local": self.tr("Local file")}
        where = use.task_id or use.web_origin or use.local_path
        return f"{kind.get(use.origin, use.origin)} {where}".strip()

    # --- loading -----------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the entries and check the chain again (the signing path calls this after a use)."""
        self.reload()
        self.check_chain()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    def _filters(self) -> Any:
        from zhenglian.register import Filters

        since = until = None
        if self.use_dates.isChecked():
            since = date.fromisoformat(self.since.date().toString("yyyy-MM-dd"))
            until = date.fromisoformat(self.until.date().toString("yyyy-MM-dd"))
        return Filters(since=since, until=until, key_serial=self.key.currentData(),
                       seal=self.seal.currentData(), outcome=self.outcome.currentData())

    def reload(self) -> None:
        filters, path = self._filters(), self.path

        def work() -> tuple[list[Any], list[str], list[str]]:
            from zhenglian.register import Register

            with Register.open(path) as reg, reg.snapshot():
                return reg.list(filters), reg.distinct("key_serial"), reg.distinct("seal_name")

        run_async(work, self._show_entries, self._load_failed)

    def check_chain(self) -> None:
        path = self.path

        def work() -> Any:
            from zhenglian.register import Register

            with Register.open(path) as reg:
                return reg.verify()

        run_async(work, self._show_chain, self._show_chain)

    def _dates_toggled(self, on: bool) -> None:
        self.since.setEnabled(on)
        self.until.setEnabled(on)
        self.reload()

    def _fill_choices(self, keys: list[str], seals: list[str]) -> None:
        for combo, values, everything in ((self.key, keys, self.tr("All keys")),
                                          (self.seal, seals, self.tr("All seals"))):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(everything, None)
            for v in values:
                combo.addItem(v, v)
            index = combo.findData(current) if current is not None else 0
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)

    def _show_entries(self, result: tuple[list[Any], list[str], list[str]]) -> None:
        entries, keys, seals = result
        self.entries = entries
        self._fill_choices(keys, seals)
        outcomes = self._outcome_texts()
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            u = e.use
            if u is None:
                cells = [str(e.seq), "", self.tr("Damaged entry"), "", "", "", ""]
            else:
                cells = [str(e.seq), u.time_local.replace("T", " ")[:19], outcomes.get(u.outcome, u.outcome),
                         u.seal_name, u.document_name, f"{u.key_ca} {u.key_serial}".strip(), self._origin_text(u)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, e.seq)
                self.table.setItem(row, col, item)
        n = len(entries)
        self.count.setText((self.tr("{n} entry") if n == 1 else self.tr("{n} entries")).format(n=n))
        self._selection_changed()
        self.loaded.emit()

    def _load_failed(self, exc: BaseException) -> None:
        self.entries = []
        self.table.setRowCount(0)
        self.count.setText("")
        self.chain.setStyleSheet(_BAD_STYLE)
        self.chain.setText(error_text(exc))
        self.loaded.emit()

    def _show_chain(self, result: Any) -> None:
        if isinstance(result, BaseException):
            self.chain.setStyleSheet(_BAD_STYLE)
            self.chain.setText(error_text(result))
        elif result.ok:
            self.chain.setStyleSheet(_OK_STYLE)
            self.chain.setText(self.tr("✔ Register intact: %1 entries; head no. %2, hash %3")
                               .replace("%1", str(result.entries)).replace("%2", str(result.head_seq))
                               .replace("%3", result.head_hash[:16] + "…"))
        else:
            first = result.first_problem()
            from zhenglian.ui.i18n import is_chinese

            what = (first.text_zh() if is_chinese() else first.text_en()) if first else \
                self.tr("the database file is damaged")
            self.chain.setStyleSheet(_BAD_STYLE)
            self.chain.setText(self.tr("✘ Register check failed: %1. Keep the file and tell the seal custodian.")
                               .replace("%1", what))
        self.verified.emit(result)

    # --- the selected entry ------------------------------------------------------

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        seq = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return next((e for e in self.entries if e.seq == seq), None)

    def _selection_changed(self) -> None:
        e = self.selected()
        path = Path(e.use.output_path) if e and e.use and e.use.output_path else None
        self.open_btn.setEnabled(bool(e and e.use and e.use.outcome == "signed" and path and path.is_file()))
        self.note.setText("")
        self.detail.setText(self._detail_text(e) if e else "")

    def _detail_text(self, e: Any) -> str:
        u = e.use
        if u is None:
            return self.tr("Entry %1 is damaged; see the chain check below.").replace("%1", str(e.seq))
        places = "; ".join(self.tr("page %1 at (%2, %3) mm").replace("%1", str(p.page))
                           .replace("%2", f"{p.x_mm:g}").replace("%3", f"{p.y_mm:g}") for p in u.placements)
        lines = [
            self.tr("Certificate: %1 (serial %2, USCC %3)").replace("%1", u.cert_subject or "-")
            .replace("%2", u.cert_serial or "-").replace("%3", u.cert_uscc or "-"),
            self.tr("Document: %1 bytes, %2 pages; seal: %3").replace("%1", str(u.document_size))
            .replace("%2", str(u.page_count)).replace("%3", places or "-"),
            self.tr("SHA-256 in: %1").replace("%1", u.input_sha256 or "-"),
            self.tr("SHA-256 signed: %1").replace("%1", u.output_sha256 or "-"),
            self.tr("Computer user: %1; saved to: %2").replace("%1", u.os_user or "-")
            .replace("%2", u.output_path or "-"),
        ]
        if u.error_code:
            lines.append(self.tr("Error code: %1").replace("%1", u.error_code))
        lines.append(self.tr("Entry hash: %1").replace("%1", e.hash))
        return "\n".join(lines)

    def open_selected(self) -> None:
        e = self.selected()
        if not (e and e.use and e.use.outcome == "signed" and e.use.output_path):
            return
        path, expected = Path(e.use.output_path), e.use.output_sha256

        def work() -> bool:
            from zhenglian.register.facts import sha256_file

            return path.is_file() and sha256_file(path) == expected

        def done(same: bool) -> None:
            if same:
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
                self.note.setText("")
            else:
                self.note.setText(self.tr("%1 is no longer the file that was signed (missing or changed since).")
                                  .replace("%1", str(path)))

        run_async(work, done, lambda exc: done(False))

    # --- export --------------------------------------------------------------------

    def _ask_export(self) -> None:
        name = self.tr("seal-register-{date}.pdf").format(date=f"{date.today():%Y%m%d}")
        target, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export the seal register"), str(Path.home() / name),
            self.tr("PDF report (*.pdf);;CSV table (*.csv)"))
        if target:
            self.export_to(Path(target))

    def export_to(self, target: Path) -> None:
        """The entries shown, as a PDF report (``.pdf``) or a CSV table (anything else)."""
        filters, path = self._filters(), self.path

        def work() -> Path:
            from zhenglian.register import Register, export

            with Register.open(path) as reg:
                if target.suffix.lower() == ".pdf":
                    export.export_pdf(reg, filters, target)
                else:
                    export.export_csv(reg, filters, target)
            return target

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                self.note.setText(error_text(result))
            else:
                self.note.setText(self.tr("Saved %1").replace("%1", str(result)))
            self.exported.emit(result)

        self.export_btn.setEnabled(False)
        run_async(work, lambda r: (self.export_btn.setEnabled(True), done(r)),
                  lambda e: (self.export_btn.setEnabled(True), done(e)))
