"""The single-instance guard (:mod:`zhenglian.instance`) as a Qt signal.

Messages arrive on the guard's own thread; they reach ``activated`` through a
queued connection, so its slots run on the GUI thread.  (Qt queues a signal
emitted on another thread than its receiver's by itself; naming
``Qt.ConnectionType`` would build PySide6's ``Qt`` namespace, ≈ 30 ms before
the tray icon.)
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from zhenglian import instance


class SingleInstance(QObject):
    """Emits ``activated`` (on the GUI thread) with each later launch's message."""

    activated = Signal(str)
    _received = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._received.connect(self._relay)  # emitted on the guard's thread: queued
        self.server: instance.InstanceServer | None = None

    def listen(self) -> bool:
        """Claim the endpoint; False if another instance runs (it was told to show).

        Raises :class:`zhenglian.instance.InstanceUnavailable` if there is no endpoint.
        """
        self.server = instance.claim(self._received.emit)
        return self.server is not None

    @Slot(str)
    def _relay(self, message: str) -> None:
        self.activated.emit(message)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
