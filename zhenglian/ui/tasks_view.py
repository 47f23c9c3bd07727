"""The 待签署 page: the institution's tasks, a preview with the seal, Sign → PIN → progress → result.

All server and key work runs in workers (:func:`run_async`); PIN dialogs are
shown on the GUI thread through :class:`~zhenglian.ui.marshal.ThreadedPrompter`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from zhenglian import errors
from zhenglian.tokens.model import KeyInfo
from zhenglian.ui import i18n
from zhenglian.ui.marshal import ThreadedPrompter
from zhenglian.ui.preview import DocumentPreview
from zhenglian.ui.task_board import TaskBoard
from zhenglian.ui.workers import run_async

log = logging.getLogger(__name__)

TABS = ("pending", "signed", "failed")


class _Relay(QObject):
    """Batch progress from the worker thread, as a queued signal."""

    progress = Signal(object)


class TasksView(QWidget):
    notify = Signal(str, str, bool)  # title, text, warning

    def __init__(self, board: TaskBoard) -> None:
        super().__init__()
        self.board = board
        self.ctx = board.ctx
        self.tasks: list[Any] = []  # what the table shows
        self.moved: dict[str, Any] = {}  # task id -> Placement the operator chose
        self.relay = _Relay()
        self._busy = False

        top = QHBoxLayout()
        self.key_box = QComboBox()
        self.key_box.setObjectName("task_key")
        self.key_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # the whole company name
        self.key_box.currentIndexChanged.connect(self._key_chosen)
        self.status = QLabel()
        self.status.setObjectName("task_status")
        self.login_btn = QPushButton(self.tr("Log in"))
        self.login_btn.setObjectName("task_login")
        self.login_btn.clicked.connect(self.login)
        refresh = QPushButton(self.tr("Refresh"))
        refresh.clicked.connect(self.refresh)
        top.addWidget(QLabel(self.tr("Key")))
        top.addWidget(self.key_box)
        top.addWidget(self.status, 1)
        top.addWidget(self.login_btn)
        top.addWidget(refresh)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.tabs = QTabBar()
        for name in (self.tr("To sign"), self.tr("Signed"), self.tr("Failed")):
            self.tabs.addTab(name)
        self.tabs.currentChanged.connect(lambda _i: self.show_tab())
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search title or type…"))
        self.search.textChanged.connect(lambda _t: self._fill_table())
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("task_table")
        self.table.setHorizontalHeaderLabels([self.tr("Document"), self.tr("Type"), self.tr("Seal"), self.tr("Deadline")])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        left.setMinimumWidth(460)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        lv.addWidget(self.tabs)
        lv.addWidget(self.search)
        lv.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.sign_btn = QPushButton(self.tr("Sign selected"))
        self.sign_btn.setObjectName("task_sign")
        self.sign_btn.clicked.connect(self.sign_selected)
        self.sign_all_btn = QPushButton(self.tr("Sign all"))
        self.sign_all_btn.clicked.connect(self.sign_all)
        buttons.addWidget(self.sign_btn)
        buttons.addWidget(self.sign_all_btn)
        buttons.addStretch(1)
        lv.addLayout(buttons)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.preview = DocumentPreview()
        self.preview.placementChanged.connect(self._seal_moved)
        rv.addWidget(self.detail)
        rv.addWidget(self.preview, 1)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        split.setSizes([520, 640])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        board.keysChanged.connect(self._fill_keys)
        board.workspaceChanged.connect(self._workspace_changed)
        board.summaryChanged.connect(self._on_summary)
        board.statusChanged.connect(self._set_status)
        self._fill_keys(board.keys)
        self._workspace_changed(board.workspace)
        self._set_status(board.status or self.tr("Plug in your key to see the documents waiting for your seal."))
        if board.summary is not None:
            self._on_summary(board.summary)

    # --- keys and workspace (kept by the TaskBoard) ------------------------------------

    @property
    def workspace(self) -> Any:
        return self.board.workspace

    @property
    def keys(self) -> list[KeyInfo]:
        return self.board.keys

    @property
    def pending(self) -> list[Any]:
        return self.board.pending

    def _fill_keys(self, keys: list[KeyInfo]) -> None:
        self.key_box.blockSignals(True)
        self.key_box.clear()
        for k in keys:
            self.key_box.addItem(f"{k.organization() or k.label} ({i18n.pick(k.ca_name_zh or '', k.ca_name_en or '')})")
        self.key_box.setCurrentIndex(self.board.current_index())
        self.key_box.blockSignals(False)

    def _workspace_changed(self, _ws: Any) -> None:
        self.key_box.blockSignals(True)
        self.key_box.setCurrentIndex(self.board.current_index())
        self.key_box.blockSignals(False)
        self.tasks, self.moved = list(self.board.pending), {}
        self.clear_preview()  # another key: another server session, other documents
        self._fill_table()

    def _key_chosen(self, index: int) -> None:
        self.board.select(index)

    def stop(self) -> None:
        self.board.stop()

    # --- sync callbacks ------------------------------------------------------------

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _on_summary(self, summary: Any) -> None:
        self.login_btn.setVisible(summary.needs_login)
        if summary.online and self.tabs.currentIndex() == 0:
            self.tasks = self.pending
            self._fill_table()
        self._update_buttons()

    # --- table -----------------------------------------------------------------------

    def show_tab(self) -> None:
        tab = TABS[self.tabs.currentIndex()]
        if tab == "pending":
            self.tasks = self.pending
            self._fill_table()
        elif tab == "failed" and self.workspace is not None:
            self.tasks = [e for e in self.workspace.outbox.failed(self.workspace.origin)]
            self._fill_table()
        elif tab == "signed" and self.workspace is not None and self.workspace.session.logged_in:
            ws = self.workspace
            run_async(lambda: ws.client.tasks("signed").tasks, self._show_signed,
                      lambda exc: self._set_status(i18n.error_text(exc)))
        self._update_buttons()

    def _show_signed(self, tasks: list[Any]) -> None:
        if TABS[self.tabs.currentIndex()] == "signed":
            self.tasks = tasks
            self._fill_table()

    def _row(self, t: Any) -> list[str]:
        if hasattr(t, "business_type"):
            return [t.title, t.business_type, t.seal_type or "", t.deadline or ""]
        return [t.title or t.task_id, "", "", i18n.pick(t.last_message_zh, t.last_message_en)]  # outbox entry

    def _fill_table(self) -> None:
        needle = self.search.text().strip().lower()
        shown = [t for t in self.tasks if not needle or needle in " ".join(self._row(t)).lower()]
        self.table.setRowCount(len(shown))
        for r, t in enumerate(shown):
            for c, text in enumerate(self._row(t)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, t)
                self.table.setItem(r, c, item)
        self._update_buttons()

    def selected(self) -> list[Any]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _update_buttons(self) -> None:
        on_pending = TABS[self.tabs.currentIndex()] == "pending"
        ready = self.workspace is not None and not self._busy
        self.sign_btn.setEnabled(ready and on_pending and bool(self.selected()))
        self.sign_all_btn.setEnabled(ready and on_pending and bool(self.pending))

    # --- preview ---------------------------------------------------------------------

    def clear_preview(self) -> None:
        self.current_preview = None
        self._preview_for = None
        self.preview.clear()
        self.detail.clear()

    def _selection_changed(self) -> None:
        self._update_buttons()
        sel = self.selected()
        if len(sel) != 1 or not hasattr(sel[0], "placement") or self.workspace is None:
            return
        task = sel[0]
        ws = self.workspace
        moved = self.moved.get(task.id)
        self._preview_for = (ws, task.id)
        self.detail.setText(self.tr("Loading {title}…").format(title=task.title))
        run_async(lambda: ws.preview(task, moved), lambda pv: self._show_preview(pv, ws),
                  lambda exc: self._preview_failed(exc, ws, task.id))

    def _preview_failed(self, exc: BaseException, ws: Any, task_id: str) -> None:
        if getattr(self, "_preview_for", None) == (ws, task_id):
            self.detail.setText(i18n.error_text(exc))

    def _show_preview(self, pv: Any, ws: Any = None) -> None:
        if ws is not None and getattr(self, "_preview_for", None) != (ws, pv.task.id):
            return  # the operator chose another document or key meanwhile: this one is stale
        self.current_preview = pv
        self.preview.load(pv.document)
        t = pv.task
        where = t.placement.anchor_text or self.tr("page {p}").format(p=t.placement.page)
        seal = self.tr("seal: {name}").format(name=pv.seal_name or "—")
        lines = [f"<b>{t.title}</b>", f"{t.business_type} · {seal} · {where}"]
        if t.placement.cross_page:
            lines.append(self.tr("with a cross-page seal"))
        if pv.movable:
            lines.append(self.tr("You may drag the seal to another place on this page."))
        if pv.problem is not None:
            lines.append(f"<span style='color:#b91c1c'>{i18n.error_text(pv.problem)}</span>")
        self.detail.setText("<br>".join(lines))
        self.preview.set_spots(pv.seal_png, pv.spots, pv.movable)

    def _seal_moved(self, page: int, x: float, y: float) -> None:
        pv = getattr(self, "current_preview", None)
        if pv is None or not pv.movable:
            return
        import dataclasses

        self.moved[pv.task.id] = dataclasses.replace(pv.task.placement, page=page + 1, x_mm=round(x, 1),
                                                     y_mm=round(y, 1))

    # --- login and signing -------------------------------------------------------------

    def _prompter(self) -> ThreadedPrompter:
        from zhenglian.ui.pin_dialogs import DialogPrompter

        return ThreadedPrompter(DialogPrompter(self.workspace.key, self.window(),
                                               manifest=self.workspace.handle.manifest))

    def login(self) -> None:
        if self.workspace is None:
            return
        ws, prompter = self.workspace, self._prompter()
        run_async(lambda: ws.login(prompter), lambda _r: self.refresh(), self._show_error)

    def refresh(self) -> None:
        self.board.refresh()

    def sign_selected(self) -> None:
        self.sign([t.id for t in self.selected() if hasattr(t, "placement")])

    def sign_all(self) -> None:
        self.sign([t.id for t in self.pending])

    def sign(self, ids: list[str]) -> None:
        if not ids or self.workspace is None or self._busy:
            return
        self._busy = True
        self._update_buttons()
        ws, prompter = self.workspace, self._prompter()
        cancel = threading.Event()
        dlg = QProgressDialog(self.tr("Signing…"), self.tr("Stop after this document"), 0, len(ids), self.window())
        dlg.setWindowTitle(self.tr("Signing"))
        dlg.setMinimumDuration(0)
        dlg.canceled.connect(cancel.set)
        self.progress_dialog = dlg

        def on_progress(p: Any) -> None:
            self.relay.progress.emit(p)

        def show_progress(p: Any) -> None:
            dlg.setValue(p.signed)
            dlg.setLabelText(self.tr("Signed {s} of {n}, uploaded {u}: {title}").format(
                s=p.signed, n=p.total, u=p.uploaded, title=p.title))

        self.relay.progress.connect(show_progress)
        moved = dict(self.moved)

        def done(result: Any) -> None:
            self.relay.progress.disconnect(show_progress)
            dlg.reset()
            self._busy = False
            self.moved.clear()
            self.clear_preview()  # the documents shown were signed (or failed): not what waits now
            self._update_buttons()
            text = i18n.pick(result.summary_zh(), result.summary_en())
            self.notify.emit(self.tr("Signing finished") if result.ok else self.tr("Signing needs attention"), text,
                             not result.ok)
            QMessageBox.information(self.window(), self.tr("Signing"), text) if not result.ok else None
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.relay.progress.disconnect(show_progress)
            dlg.reset()
            self._busy = False
            self._update_buttons()
            if not isinstance(exc, (errors.PinCancelled, errors.PinLocked, errors.FinalTryNotConfirmed)):
                self._show_error(exc)

        run_async(lambda: ws.sign(ids, prompter, progress=on_progress, cancel=cancel, placements=moved), done, failed)

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, (errors.PinCancelled, errors.PinLocked)):
            return  # cancelled by the operator, or the locked dialog said it all
        from zhenglian.ui.diagnostics_view import record_error

        text = i18n.error_text(exc) if isinstance(exc, errors.ZhenglianError) else errors.describe(exc)
        record_error(text)
        QMessageBox.warning(self.window(), self.tr("zhenglian"), text)
