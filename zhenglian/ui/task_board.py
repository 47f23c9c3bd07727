"""The signing server's task list for the chosen key, kept current in the background.

Lives from start-up (the tray badge shows the pending count) while the task
page itself (:mod:`zhenglian.ui.tasks_view`) is built only when the window is
first opened: the idle tray app stays small.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from zhenglian import errors
from zhenglian.services import Context
from zhenglian.tokens.model import KeyInfo
from zhenglian.ui import i18n

log = logging.getLogger(__name__)


class TaskBoard(QObject):
    keysChanged = Signal(object)  # list[KeyInfo]: keys that can sign
    workspaceChanged = Signal(object)  # TaskWorkspace | None
    summaryChanged = Signal(object)  # TaskSummary of the current workspace
    pendingChanged = Signal(int)
    newTasks = Signal(object)  # list[Task]
    statusChanged = Signal(str)
    _summary = Signal(object)  # from TaskSync's thread
    _new = Signal(object)
    _error = Signal(object)

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.keys: list[KeyInfo] = []
        self.workspace: Any = None
        self.pending: list[Any] = []
        self.status = ""
        self.summary: Any = None
        self._summary.connect(self._on_summary)
        self._new.connect(self.newTasks.emit)
        self._error.connect(lambda exc: log.info("task sync: %s", getattr(exc, "code", type(exc).__name__)))

    def _set_status(self, text: str) -> None:
        self.status = text
        self.statusChanged.emit(text)

    def set_keys(self, keys: list[KeyInfo] | tuple[KeyInfo, ...]) -> None:
        usable = [k for k in keys if k.signing_certificate() is not None]
        if [k.identity for k in usable] == [k.identity for k in self.keys]:
            return
        current = self.workspace.key.identity if self.workspace else None
        self.keys = usable
        self.keysChanged.emit(usable)
        index = next((i for i, k in enumerate(usable) if k.identity == current), None)
        if index is None:
            self.select(0 if usable else -1)

    def select(self, index: int) -> None:
        """Work with the key at ``index`` of :attr:`keys` (-1: none)."""
        if self.workspace is not None and 0 <= index < len(self.keys) \
                and self.workspace.key.identity == self.keys[index].identity:
            return
        self.stop()
        self.pending, self.summary = [], None
        self.pendingChanged.emit(0)
        if not 0 <= index < len(self.keys):
            self._set_status(self.tr("Plug in your key to see the documents waiting for your seal."))
        elif not self.ctx.settings.server_url:
            self._set_status(self.tr("No signing server is set: see Settings."))
        else:
            from zhenglian.tasks.workspace import TaskWorkspace

            try:
                self.workspace = TaskWorkspace(self.ctx, self.keys[index])
            except errors.ZhenglianError as exc:
                self._set_status(i18n.error_text(exc))
            else:
                self.workspace.start_sync(self._summary.emit, self._new.emit, self._error.emit,
                                          wait_s=min(float(self.ctx.settings.task_poll_s), 25.0))
                self._set_status(self.tr("Connecting to {server}…").format(server=self.workspace.origin))
        self.workspaceChanged.emit(self.workspace)

    def new_tasks_text(self, tasks: list[Any]) -> tuple[str, str]:
        """Title and text of the notification for new tasks."""
        titles = "、".join(t.title for t in tasks[:3]) + ("…" if len(tasks) > 3 else "")
        return self.tr("{n} new documents to sign").format(n=len(tasks)), titles

    def current_index(self) -> int:
        if self.workspace is None:
            return -1
        return next((i for i, k in enumerate(self.keys) if k.identity == self.workspace.key.identity), -1)

    def _on_summary(self, summary: Any) -> None:
        if self.workspace is None or summary.origin != self.workspace.origin:
            return
        self._set_status(i18n.pick(summary.text_zh(), summary.text_en()))
        self.summary = summary
        if summary.online:
            self.pending = list(summary.tasks)
        self.pendingChanged.emit(summary.pending if summary.online else 0)
        self.summaryChanged.emit(summary)

    def refresh(self) -> None:
        if self.workspace is not None and self.workspace.sync is not None:
            self.workspace.sync.wake()

    def stop(self) -> None:
        if self.workspace is not None:
            self.workspace.stop()
            self.workspace = None
