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
from zhenglian.ui.plaintext import message, plain_label, rich_escape
from zhenglian.ui.preview import DocumentPreview
from zhenglian.ui.task_board import TaskBoard
from zhenglian.ui.workers import run_async

log = logging.getLogger(__name__)

TABS = ("pending", "signed", "failed")

# Rows the table holds at most. A server's listing may hold ~100k tasks (16 MiB of JSON): a
# QTableWidget of them all freezes the tray for seconds and costs hundreds of MB. The rest stay
# reachable: the line under the table counts them, search narrows the list, the pending ones move
# up as the shown ones are signed, and 全部签署 signs every pending task (its PIN dialog says how many).
ROW_CAP = 500


class _Relay(QObject):
    """Batch progress from the worker thread, as a queued signal."""

    progress = Signal(object)


class TasksView(QWidget):
    notify = Signal(str, str, bool)  # title, text, warning
    factoryPinRefused = Signal(object, object)  # KeyInfo, error: the factory PIN was typed, change it first
    pinFailed = Signal(object, object, object)  # KeyInfo, DialogPrompter, error: a wrong PIN or the lock

    def __init__(self, board: TaskBoard) -> None:
        super().__init__()
        self.board = board
        self.ctx = board.ctx
        self.tasks: list[Any] = []  # what the table shows
        self._matching: list[Any] = []  # of those, what the search finds (all, when none is typed)
        self.moved: dict[str, Any] = {}  # task id -> Placement the operator chose
        self.relay = _Relay()
        self._busy = False

        top = QHBoxLayout()
        self.key_box = QComboBox()
        self.key_box.setObjectName("task_key")
        self.key_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # the whole company name
        self.key_box.currentIndexChanged.connect(self._key_chosen)
        self.status = plain_label(QLabel())
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
        self.more = QLabel()  # how many documents the capped table leaves out, and how to reach them
        self.more.setObjectName("task_more")
        self.more.setWordWrap(True)
        self.more.hide()
        lv.addWidget(self.more)
        buttons = QHBoxLayout()
        self.sign_btn = QPushButton(self.tr("Sign selected"))
        self.sign_btn.setObjectName("task_sign")
        self.sign_btn.clicked.connect(self.sign_selected)
        self.sign_all_btn = QPushButton(self.tr("Sign all"))
        self.sign_all_btn.clicked.connect(self.sign_all)
        self.open_btn = QPushButton(self.tr("Open signed file"))
        self.open_btn.setObjectName("task_open_signed")
        self.open_btn.clicked.connect(self.open_signed)
        self.save_btn = QPushButton(self.tr("Save signed file as…"))
        self.save_btn.setObjectName("task_save_signed")
        self.save_btn.clicked.connect(self.save_signed)
        for b in (self.sign_btn, self.sign_all_btn, self.open_btn, self.save_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lv.addLayout(buttons)
        self.result = QLabel()  # the last batch's outcome: stays until the next one
        self.result.setObjectName("task_result")
        self.result.setWordWrap(True)
        self.result.hide()
        lv.addWidget(self.result)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.detail = QLabel()  # rich text: every server value in it is escaped (plaintext.rich_escape)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
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
        self.show_tab()

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
        self.moved = {}
        self.clear_preview()  # another key: another server session, other documents
        self.login_btn.setVisible(self.board.summary is not None and self.board.summary.needs_login)
        self.show_tab()

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

    def _headers(self, tab: str) -> list[str]:
        if tab == "signed":
            return [self.tr("Document"), self.tr("Type"), self.tr("Seal"), self.tr("Signed at")]
        if tab == "failed":
            return [self.tr("Document"), self.tr("Type"), self.tr("Seal"), self.tr("Reason")]
        return [self.tr("Document"), self.tr("Type"), self.tr("Seal"), self.tr("Deadline")]

    def show_tab(self) -> None:
        tab = TABS[self.tabs.currentIndex()]
        self.table.setHorizontalHeaderLabels(self._headers(tab))
        for b in (self.sign_btn, self.sign_all_btn):
            b.setVisible(tab == "pending")
        for b in (self.open_btn, self.save_btn):
            b.setVisible(tab == "signed")
        if tab == "pending":
            self.tasks = self.pending
            self._fill_table()
        elif tab == "failed":
            self.tasks = self.board.failed_tasks()
            self._fill_table()
        elif tab == "signed":
            self.tasks = []
            self._fill_table()
            if self.workspace is not None and self.workspace.session.logged_in:
                ws = self.workspace
                run_async(lambda: _newest_first(ws.client.tasks("signed").tasks), self._show_signed,
                          lambda exc: self._set_status(i18n.error_text(exc)))
        self._update_buttons()

    def _show_signed(self, tasks: list[Any]) -> None:
        if TABS[self.tabs.currentIndex()] == "signed":
            self.tasks = tasks
            self._fill_table()

    def _row(self, t: Any) -> list[str]:
        if hasattr(t, "business_type"):
            last = _when(t.signed_at) if t.status == "signed" else (t.deadline or "")
            return [t.title, t.business_type, t.seal_type or "", last]
        # a batch failure or a file the server refused: why, in the operator's language
        return [t.title or t.task_id, "", "", i18n.pick(t.last_message_zh, t.last_message_en)]

    def _fill_table(self) -> None:
        """At most ROW_CAP rows of the tasks matching the search; the line under the table tells the rest."""
        needle = self.search.text().strip().lower()
        matching = [t for t in self.tasks if needle in _haystack(t)] if needle else self.tasks
        self._matching = matching
        shown = matching[:ROW_CAP]
        self.table.setRowCount(len(shown))
        for r, t in enumerate(shown):
            for c, text in enumerate(self._row(t)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, t)
                self.table.setItem(r, c, item)
        self._show_more(len(shown), len(matching))
        self._update_buttons()

    def _searching(self) -> bool:
        return bool(self.search.text().strip())

    def _show_more(self, shown: int, total: int) -> None:
        # 全部签署 signs what the page lists: every pending task, or every one the search found.
        self.sign_all_btn.setText(self.tr("Sign all found (%n)", "", total) if self._searching() else self.tr("Sign all"))
        if shown >= total:
            self.more.hide()
            return
        if TABS[self.tabs.currentIndex()] == "pending" and self._searching():
            text = self.tr("Showing the first {shown} of the {total} documents found. Sign these to see the next "
                           "ones, or narrow the search. “Sign all found” signs all {total}.")
        elif TABS[self.tabs.currentIndex()] == "pending":
            text = self.tr("Showing the first {shown} of {total} documents. Sign these to see the next ones, or "
                           "search by title or type. “Sign all” signs all {all} waiting.")
        else:
            text = self.tr("Showing the first {shown} of {total} documents; search by title or type to find "
                           "the others.")
        self.more.setText(text.format(shown=shown, total=total, all=len(self.tasks)))
        self.more.show()

    def selected(self) -> list[Any]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _update_buttons(self) -> None:
        tab = TABS[self.tabs.currentIndex()]
        ready = self.workspace is not None and not self._busy
        self.sign_btn.setEnabled(ready and tab == "pending" and bool(self.selected()))
        listed = self._matching if self._searching() else self.pending
        self.sign_all_btn.setEnabled(ready and tab == "pending" and bool(self.pending) and bool(listed))
        one_signed = len(self.selected()) == 1 and getattr(self.selected()[0], "signed_sha256", None)
        self.open_btn.setEnabled(ready and tab == "signed" and bool(one_signed))
        self.save_btn.setEnabled(ready and tab == "signed" and bool(one_signed))

    # --- signed files ---------------------------------------------------------------

    def _fetch_signed(self, then: Any) -> None:
        sel = self.selected()
        if len(sel) != 1 or not getattr(sel[0], "signed_sha256", None) or self.workspace is None:
            return
        task, ws = sel[0], self.workspace
        run_async(lambda: ws.client.download_signed(task), lambda data: then(task, data), self._show_error)

    def open_signed(self) -> None:
        """The signed PDF, in the system's PDF viewer (a private copy: the server's file stays as it is)."""
        def show(task: Any, data: bytes) -> None:
            from PySide6.QtCore import QUrl
            from PySide6.QtGui import QDesktopServices

            path = _viewer_copy(task, data)
            self.last_opened = path
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

        self._fetch_signed(show)

    def save_signed(self) -> None:
        sel = self.selected()
        if len(sel) != 1:
            return
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        name = _safe_name(sel[0].filename or sel[0].title, "已签署")
        target, _ = QFileDialog.getSaveFileName(self.window(), self.tr("Save the signed file"),
                                                str(Path.home() / name), self.tr("PDF documents (*.pdf)"))
        if target:
            self.save_signed_to(Path(target))

    def save_signed_to(self, target: Any) -> None:
        def write(task: Any, data: bytes) -> None:
            from zhenglian.fsutil import atomic_write_bytes

            try:
                atomic_write_bytes(target, data, mode=0o644)
            except OSError as exc:
                self._show_error(errors.OutputWriteFailed.of(target, exc))
                return
            self.show_result(self.tr("Saved {path}").format(path=str(target)), ok=True)

        self._fetch_signed(write)

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
        if TABS[self.tabs.currentIndex()] != "pending":  # a signed task: the signed file, as it is
            self._preview_for = (ws, task.id)
            if getattr(task, "signed_sha256", None):
                self.detail.setText(rich_escape(self.tr("Loading {title}…").format(title=task.title)))
                run_async(lambda: ws.client.download_signed(task), lambda data: self._show_signed_file(task, data, ws),
                          lambda exc: self._preview_failed(exc, ws, task.id))
            return
        moved = self.moved.get(task.id)
        self._preview_for = (ws, task.id)
        self.detail.setText(rich_escape(self.tr("Loading {title}…").format(title=task.title)))
        run_async(lambda: ws.preview(task, moved), lambda pv: self._show_preview(pv, ws),
                  lambda exc: self._preview_failed(exc, ws, task.id))

    def _show_signed_file(self, task: Any, data: bytes, ws: Any) -> None:
        if getattr(self, "_preview_for", None) != (ws, task.id):
            return
        self.current_preview = None  # nothing to place: the seal is in the file
        self.preview.load(data, name=task.title)
        self.preview.fit()
        when = _when(task.signed_at)
        self.detail.setText(f"<b>{rich_escape(task.title)}</b><br>"
                            + rich_escape(self.tr("Signed file, signed at {when}").format(when=when)))

    def _preview_failed(self, exc: BaseException, ws: Any, task_id: str) -> None:
        if getattr(self, "_preview_for", None) == (ws, task_id):
            self.detail.setText(rich_escape(i18n.error_text(exc)))

    def _show_preview(self, pv: Any, ws: Any = None) -> None:
        if ws is not None and getattr(self, "_preview_for", None) != (ws, pv.task.id):
            return  # the operator chose another document or key meanwhile: this one is stale
        self.current_preview = pv
        self.preview.load(pv.document, name=pv.task.title)
        t = pv.task
        where = t.placement.anchor_text or self.tr("page {p}").format(p=t.placement.page)
        seal = self.tr("seal: {name}").format(name=pv.seal_name or "—")
        lines = [f"<b>{rich_escape(t.title)}</b>", rich_escape(f"{t.business_type} · {seal} · {where}")]
        if t.placement.cross_page:
            lines.append(rich_escape(self.tr("with a cross-page seal")))
        if pv.movable:
            lines.append(rich_escape(self.tr("You may drag the seal to another place on this page.")))
        if pv.problem is not None:
            lines.append(f"<span style='color:#b91c1c'>{rich_escape(i18n.error_text(pv.problem))}</span>")
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

    def _prompter(self, context: Any = None) -> ThreadedPrompter:
        from zhenglian.ui.pin_dialogs import DialogPrompter

        return ThreadedPrompter(DialogPrompter(self.workspace.key, self.window(),
                                               manifest=self.workspace.handle.manifest, context=context))

    def login(self) -> None:
        if self.workspace is None:
            return
        from zhenglian.ui.pin_context import PinContext

        ws = self.workspace
        prompter = self._prompter(PinContext.login(ws.origin))
        run_async(lambda: ws.login(prompter), lambda _r: self.refresh(),
                  lambda exc: (self._pin_failed(ws.key, prompter, exc), self._show_error(exc)))

    def refresh(self) -> None:
        self.board.refresh()

    def sign_selected(self) -> None:
        self.sign([t.id for t in self.selected() if hasattr(t, "placement")])

    def sign_all(self) -> None:
        """Every pending task the page lists: all of them, or all the search found (shown or not)."""
        self.sign([t.id for t in (self._matching if self._searching() else self.pending)])

    def sign(self, ids: list[str]) -> None:
        if not ids or self.workspace is None or self._busy:
            return
        from zhenglian.ui.pin_context import PinContext

        self._busy = True
        self._update_buttons()
        titles = {t.id: t.title for t in self.pending}
        ws = self.workspace
        prompter = self._prompter(PinContext.signing([titles.get(i, i) for i in ids]))
        cancel = threading.Event()
        dlg = QProgressDialog(self.tr("Signing…"), self.tr("Stop after this document"), 0, len(ids), self.window())
        dlg.setWindowTitle(self.tr("Signing"))
        dlg.setMinimumDuration(0)
        dlg.setLabel(plain_label(QLabel(self.tr("Signing…"))))  # its text will hold task titles
        dlg.canceled.connect(cancel.set)
        self.progress_dialog = dlg

        def on_progress(p: Any) -> None:
            self.relay.progress.emit(p)

        def show_progress(p: Any) -> None:
            dlg.setValue(p.signed)
            dlg.setLabelText(self.progress_text(p))

        self.relay.progress.connect(show_progress)
        moved = dict(self.moved)

        identity = ws.key.identity

        def done(result: Any) -> None:
            self.relay.progress.disconnect(show_progress)
            dlg.reset()
            self._busy = False
            self.moved.clear()
            self.clear_preview()  # the documents shown were signed (or failed): not what waits now
            self.board.record_outcomes(identity, result.outcomes)
            self._update_buttons()
            self.batch_finished(result)
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.relay.progress.disconnect(show_progress)
            dlg.reset()
            self._busy = False
            self._update_buttons()
            self._pin_failed(ws.key, prompter, exc)
            if not isinstance(exc, (errors.PinCancelled, errors.PinLocked, errors.FinalTryNotConfirmed)):
                self.show_result(i18n.error_text(exc), ok=False)
                self._show_error(exc)

        run_async(lambda: ws.sign(ids, prompter, progress=on_progress, cancel=cancel, placements=moved), done, failed)

    def progress_text(self, p: Any) -> str:
        """What the progress dialog says: the document being worked on, then the counts so far."""
        title = p.title or self.tr("document {i}").format(i=p.index + 1)
        now = {
            "fetching": self.tr("Signing {i} of {n}: {title}"),
            "signed": self.tr("Signed {i} of {n}: {title}"),
            "uploaded": self.tr("Uploaded: {title}"),
            "queued": self.tr("Signed, will be uploaded later: {title}"),
            "failed": self.tr("Could not sign: {title}"),
            "skipped": self.tr("No longer waiting on the server: {title}"),
        }.get(p.phase, self.tr("Signing {i} of {n}: {title}"))
        counts = self.tr("{s} of {n} signed, {u} uploaded").format(s=p.signed, n=p.total, u=p.uploaded)
        return now.format(i=p.index + 1, n=p.total, title=title) + "\n" + counts

    def result_text(self, result: Any) -> str:
        """The batch summary, then each document that was not signed with the reason."""
        lines = [i18n.pick(result.summary_zh(), result.summary_en())]
        hints: list[str] = []  # what to do next, once each, after the documents
        for o in result.outcomes:
            if o.error is not None:
                message, hint = i18n.error_parts(o.error)
                lines.append(f"• {o.title or o.task_id}{i18n.pick('：', ': ')}{message}")
                if hint and hint not in hints:
                    hints.append(hint)
        return "\n".join(lines + hints)

    def show_result(self, text: str, ok: bool) -> None:
        colour = "#166534;background:#dcfce7" if ok else "#991b1b;background:#fee2e2"
        self.result.setStyleSheet(f"color:{colour};padding:6px;border-radius:4px")
        self.result.setText(text)
        self.result.show()

    def batch_finished(self, result: Any) -> None:
        """Success shows on the page (and as a notification); anything else also in a warning the
        operator must close, naming each document that was not signed and why."""
        text = self.result_text(result)
        self.show_result(text, result.ok)
        self.notify.emit(self.tr("Signing finished") if result.ok else self.tr("Signing needs attention"),
                         i18n.pick(result.summary_zh(), result.summary_en()), not result.ok)
        if not result.ok:
            if any(o.error is not None for o in result.outcomes):
                self.tabs.setCurrentIndex(TABS.index("failed"))  # the reasons, listed
            box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Signing"), text, QMessageBox.StandardButton.Ok,
                              self.window())
            self.result_box = box
            box.open()

    def _pin_failed(self, key: Any, prompter: Any, exc: BaseException) -> None:
        if isinstance(exc, (errors.PinLocked, errors.WrongPin)):
            self.pinFailed.emit(key, prompter.inner, exc)  # the card, the tray and the lock: at once

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, (errors.PinCancelled, errors.PinLocked)):
            return  # cancelled by the operator, or the locked dialog said it all
        if isinstance(exc, errors.InitialPinInUse) and self.workspace is not None:
            self.factoryPinRefused.emit(self.workspace.key, exc)  # the warning, then the change dialog
            return
        from zhenglian.ui.diagnostics_view import record_error

        text = i18n.error_text(exc)
        record_error(text)
        message(self.window(), QMessageBox.Icon.Warning, self.tr("zhenglian"), text)


def _when(iso: str | None) -> str:
    """A server time as the operator reads it: local "YYYY-MM-DD HH:MM" (the raw text if unparsable)."""
    if not iso:
        return ""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso[:19]


def _haystack(t: Any) -> str:
    """What the search looks in: the row's fields as the server sent them (lower case).

    Not the row's text: formatting a time for each of a ~100k-task listing costs the GUI thread
    most of a second a keystroke."""
    if hasattr(t, "business_type"):
        return " ".join((t.title, t.business_type, t.seal_type or "", t.deadline or "", t.signed_at or "")).lower()
    return " ".join((t.title or t.task_id, t.last_message_zh or "", t.last_message_en or "")).lower()


def _newest_first(tasks: list[Any]) -> list[Any]:
    """The signed tab's order: the latest signed on top, where a capped table shows them."""
    return sorted(tasks, key=lambda t: t.signed_at or "", reverse=True)


def _safe_name(name: str, suffix: str) -> str:
    """A file name for a server-given title: no path parts or control characters, ends in .pdf."""
    import re

    stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .")[:120] or "document"
    if stem.lower().endswith(".pdf"):
        stem = stem[:-4]
    return f"{stem}-{suffix}.pdf"


def _viewer_copy(task: Any, data: bytes) -> Any:
    """A private copy of a signed file for the PDF viewer (the user's cache, owner-only)."""
    from zhenglian import paths
    from zhenglian.fsutil import atomic_write_bytes

    folder = paths.data_dir() / "signed-view"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(task.filename or task.title, task.id[:8])
    atomic_write_bytes(path, data)
    return path
