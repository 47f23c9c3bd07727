"""The application's brain on the GUI side: keys, tasks and state, as Qt signals.

Owns the Context (settings, drivers, TokenManager) and the KeyWatcher, which
polls in its own thread; events cross into the GUI thread through queued
signals.  Views only listen and ask; they never touch a key themselves.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from zhenglian import appstate
from zhenglian.services import Context
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.watcher import KeyEvent, KeyWatcher

log = logging.getLogger(__name__)


class AppController(QObject):
    keyEvent = Signal(object)  # KeyEvent
    stateChanged = Signal(object)  # appstate.TrayState
    _fromWatcher = Signal(object)

    def __init__(self, ctx: Context, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pending = 0
        self.state = appstate.compute([], [], 0)
        self._fromWatcher.connect(self._on_watcher_event)
        self.watcher = KeyWatcher(
            ctx.tokens, self._fromWatcher.emit,
            interval=max(ctx.settings.key_poll_ms, 100) / 1000,
            usb_interval=max(ctx.settings.usb_poll_ms, 500) / 1000,
        )

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    # --- state ---------------------------------------------------------------

    def current_keys(self) -> list[KeyInfo]:
        return list(self.watcher.snapshot().keys)

    def set_pending(self, count: int) -> None:
        if count != self.pending:
            self.pending = count
            self._recompute()

    def recompute(self) -> None:
        """State again from the same keys: the client's own PIN count changed (a wrong PIN, the lock)."""
        self._recompute()

    def _recompute(self) -> None:
        snap = self.watcher.snapshot()
        self.state = appstate.compute(snap.keys, snap.unrecognised, self.pending)
        self.stateChanged.emit(self.state)

    def _on_watcher_event(self, event: KeyEvent) -> None:
        self._recompute()
        self.keyEvent.emit(event)

    def refresh(self, key: KeyInfo | None = None) -> None:
        """Re-read now (after the user pressed 重试 / retry), in the watcher's thread; ``key``:
        read that key again in full (its certificate was renewed, its PIN unlocked or changed)."""
        if key is not None:
            self.watcher.reread(key.identity)
        else:
            self.watcher.wake()
