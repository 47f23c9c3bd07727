"""The signing server's task lists of every key plugged in, kept current in the background.

Lives from start-up (the tray badge shows the pending count of all keys) while the
task page itself (:mod:`zhenglian.ui.tasks_view`) is built only when the window is
first opened: the idle tray app stays small.

One :class:`~zhenglian.tasks.workspace.TaskWorkspace` per key for the whole session:
choosing another key in the page's drop-down and back keeps each key's server login
(no second PIN). A key's workspace — and its server login — is dropped when the key is
removed, when its PIN locks, and on quit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from zhenglian import errors
from zhenglian.appstate import is_locked
from zhenglian.services import Context
from zhenglian.tokens.model import KeyInfo
from zhenglian.ui import i18n

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedTask:
    """A task a batch could not sign this session, with the reason (shown on the 失败 tab).

    Same fields as an outbox entry the server refused, so the tab lists both alike."""

    task_id: str
    title: str
    last_message_zh: str
    last_message_en: str
    at: float = field(default=0.0)


def _cert_ids(key: KeyInfo) -> tuple[str, ...]:
    return tuple(c.info.sha256 for c in key.certificates)


class TaskBoard(QObject):
    keysChanged = Signal(object)  # list[KeyInfo]: keys that can sign
    workspaceChanged = Signal(object)  # TaskWorkspace | None: the key chosen on the page
    summaryChanged = Signal(object)  # TaskSummary of the current workspace
    pendingChanged = Signal(int)  # waiting on the server, all keys together
    newTasks = Signal(object)  # list[Task]
    statusChanged = Signal(str)
    _summary = Signal(object, object)  # (key identity, TaskSummary) from TaskSync's thread
    _new = Signal(object)
    _error = Signal(object)

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.keys: list[KeyInfo] = []
        self.workspaces: dict[Any, Any] = {}  # key identity -> TaskWorkspace, for the session
        self.summaries: dict[Any, Any] = {}  # key identity -> its last TaskSummary
        self.failures: dict[Any, dict[str, FailedTask]] = {}  # key identity -> task id -> why
        self.current: Any = None  # identity of the key shown on the page
        self._last_total = 0
        self.status = ""
        self._summary.connect(self._on_summary)
        self._new.connect(self.newTasks.emit)
        self._error.connect(lambda exc: log.info("task sync: %s", getattr(exc, "code", type(exc).__name__)))

    # --- what the page shows ----------------------------------------------------------

    @property
    def workspace(self) -> Any:
        return self.workspaces.get(self.current)

    @property
    def summary(self) -> Any:
        return self.summaries.get(self.current)

    @property
    def pending(self) -> list[Any]:
        s = self.summary
        return list(s.tasks) if s is not None and s.online else []

    @property
    def pending_total(self) -> int:
        return sum(s.pending for s in self.summaries.values() if s.online)

    def _set_status(self, text: str) -> None:
        self.status = text
        self.statusChanged.emit(text)

    # --- keys ---------------------------------------------------------------------

    def set_keys(self, keys: list[KeyInfo] | tuple[KeyInfo, ...]) -> None:
        usable = [k for k in keys if k.signing_certificate() is not None]
        locked = {k.identity for k in usable if is_locked(k)}
        certs = {k.identity: _cert_ids(k) for k in usable}
        for identity, ws in list(self.workspaces.items()):
            if identity not in certs or identity in locked:
                self.drop(identity)  # removed or locked: its server login goes too
            elif certs[identity] != _cert_ids(ws.key):
                self.drop(identity)  # renewed: the next login (and signature) uses the new certificate
        changed = [k.identity for k in usable] != [k.identity for k in self.keys]
        self.keys = usable  # newer facts too (renewed certificate, PIN state)
        if changed:
            self.keysChanged.emit(usable)
        reopened = False
        for k in usable:
            if k.identity not in self.workspaces and k.identity not in locked:
                reopened |= self._open(k) is not None and k.identity == self.current
        if self.current_index() < 0:
            # The first key that can sign now: never a locked one when another is there.
            index = next((i for i, k in enumerate(usable) if not is_locked(k)), 0 if usable else -1)
            self.select(index)
        elif reopened:
            self.select(self.current_index(), force=True)  # unlocked again: its list comes back
        if self.current in locked:
            self._set_status(self._locked_text())
        self._emit_pending()

    def _open(self, key: KeyInfo) -> Any:
        if not self.ctx.settings.server_url:
            return None
        from zhenglian.server.tokenstore import TokenStore
        from zhenglian.tasks.workspace import TaskWorkspace

        try:
            # isolated: the stored login is read in a short-lived child (server/tokenstore.py)
            ws = TaskWorkspace(self.ctx, key, tokens=TokenStore(isolated=True))
        except errors.ZhenglianError as exc:
            log.info("no task list for key %s: %s", key.serial, exc.code)
            return None
        identity = key.identity
        self.workspaces[identity] = ws
        ws.start_sync(lambda s: self._summary.emit(identity, s), self._new.emit, self._error.emit,
                      wait_s=min(float(self.ctx.settings.task_poll_s), 25.0))
        return ws

    def drop(self, identity: Any) -> None:
        """Forget a key's workspace and its server login (key removed, locked, or quitting)."""
        ws = self.workspaces.pop(identity, None)
        self.summaries.pop(identity, None)
        if ws is not None:
            ws.stop()
            ws.session.forget()
        if identity == self.current:
            self.workspaceChanged.emit(None)
        self._emit_pending()

    def select(self, index: int, force: bool = False) -> None:
        """Show the key at ``index`` of :attr:`keys` (-1: none); other keys keep their login."""
        if not 0 <= index < len(self.keys):
            self.current = None
            self._set_status(self.tr("Plug in your key to see the documents waiting for your seal."))
            self.workspaceChanged.emit(None)
            return
        key = self.keys[index]
        if key.identity == self.current and self.workspace is not None and not force:
            return
        self.current = key.identity
        ws = self.workspaces.get(key.identity)
        if not self.ctx.settings.server_url:
            self._set_status(self.tr("No signing server is set: see Settings."))
        elif is_locked(key):
            self._set_status(self._locked_text())
        elif ws is None:
            ws = self._open(key)
            if ws is None:
                self._set_status(self.tr("The signing server cannot be used: see Settings."))
        if ws is not None:
            s = self.summaries.get(key.identity)
            self._set_status(i18n.pick(s.text_zh(), s.text_en()) if s is not None else
                             self.tr("Connecting to {server}…").format(server=ws.origin))
        self.workspaceChanged.emit(ws)
        if self.summary is not None:
            self.summaryChanged.emit(self.summary)

    def _locked_text(self) -> str:
        return self.tr("This key's PIN is locked: unlock it on the Certificates page first.")

    def current_index(self) -> int:
        return next((i for i, k in enumerate(self.keys) if k.identity == self.current), -1)

    # --- sync ---------------------------------------------------------------------

    def new_tasks_text(self, tasks: list[Any]) -> tuple[str, str]:
        """Title and text of the notification for new tasks."""
        titles = "、".join(t.title for t in tasks[:3]) + ("…" if len(tasks) > 3 else "")
        n = len(tasks)
        return (self.tr("{n} new document to sign") if n == 1 else self.tr("{n} new documents to sign")).format(n=n), titles

    def _on_summary(self, identity: Any, summary: Any) -> None:
        if identity not in self.workspaces:
            return  # a key dropped meanwhile
        self.summaries[identity] = summary
        self._emit_pending()
        if identity == self.current:
            self._set_status(i18n.pick(summary.text_zh(), summary.text_en()))
            self.summaryChanged.emit(summary)

    def _emit_pending(self) -> None:
        total = self.pending_total
        if total != self._last_total:  # only news: the tray's count is not reset by a key re-read
            self._last_total = total
            self.pendingChanged.emit(total)

    def refresh(self) -> None:
        """The operator's 刷新: the list now, from a worker (the sync's loop may sit in a long poll)."""
        ws = self.workspace
        if ws is not None and ws.sync is not None:
            from zhenglian.ui.workers import run_async

            run_async(ws.sync.refresh_now)

    # --- failures of this session's batches ---------------------------------------------

    def record_outcomes(self, identity: Any, outcomes: Any) -> None:
        """Remember the tasks a batch failed (with why) and forget those it signed."""
        import time

        failed = self.failures.setdefault(identity, {})
        for o in outcomes:
            if o.error is not None and str(o.state) == "failed":
                failed[o.task_id] = FailedTask(o.task_id, o.title, o.error.message_zh(), o.error.message_en(),
                                               time.time())
            elif str(o.state) in ("uploaded", "queued", "skipped"):
                failed.pop(o.task_id, None)

    def failed_tasks(self) -> list[Any]:
        """The 失败 tab: this session's batch failures for the current key, then the files the server refused."""
        ws = self.workspace
        mine = list(self.failures.get(self.current, {}).values())
        refused = list(ws.outbox.failed(ws.origin)) if ws is not None else []
        serial = ws.key.serial if ws is not None else None
        refused = [e for e in refused if not e.key_serial or e.key_serial == serial]
        listed = {f.task_id for f in mine}  # once, not per entry: a batch may have failed thousands
        return mine + [e for e in refused if e.task_id not in listed]

    def stop(self) -> None:
        """Quit: every key's sync stops and its server login is dropped."""
        for identity in list(self.workspaces):
            self.drop(identity)
        self.current = None
