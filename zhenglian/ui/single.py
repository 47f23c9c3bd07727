"""One tray application per user: a second launch wakes the first one.

A QLocalServer named after the user listens; a new process first tries to
connect, and if someone answers it sends "show" and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name() -> str:
    home = os.environ.get("ZHENGLIAN_HOME", "")
    tag = hashlib.sha256(f"{getpass.getuser()}|{home}".encode()).hexdigest()[:12]
    return f"zhenglian-{tag}"


def notify_running(message: bytes = b"show", timeout_ms: int = 500) -> bool:
    """True if another instance answered (and was told to show itself)."""
    sock = QLocalSocket()
    sock.connectToServer(server_name())
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(message + b"\n")
    sock.waitForBytesWritten(timeout_ms)
    sock.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """Listens for later launches; emits ``activated`` with their message."""

    activated = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.server = QLocalServer(self)
        name = server_name()
        if not self.server.listen(name):
            # A stale socket left by a crashed instance: nobody answered, so remove it.
            QLocalServer.removeServer(name)
            self.server.listen(name)
        self.server.newConnection.connect(self._on_connection)

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            sock.readyRead.connect(lambda s=sock: self._read(s))

    def _read(self, sock: QLocalSocket) -> None:
        while sock.canReadLine():
            self.activated.emit(bytes(sock.readLine().data()).decode("utf-8", "replace").strip())

    def close(self) -> None:
        self.server.close()
