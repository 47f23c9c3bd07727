"""One tray application per user: a second launch wakes the first one and exits.

The first process owns a local endpoint; a later one connects, sends a short
message ("show") and exits.  Ownership is decided atomically by the operating
system, so two launches at the same moment (a double double-click) still end
with one tray icon:

- Linux: a Unix socket in the abstract namespace.  Binding is atomic and the
  name vanishes with the process, so a crashed instance leaves nothing stale.
- Windows: a named pipe created with ``FILE_FLAG_FIRST_PIPE_INSTANCE`` (what
  :class:`multiprocessing.connection.Listener` does): a second creator fails.
- Other POSIX systems: a socket file in the temporary directory; a file nobody
  answers on is stale and is removed.

Standard library only, so the installer does not ship Qt's network library for
this.  On POSIX the endpoint is a plain :mod:`socket` (``multiprocessing``
costs ≈ 10 ms of imports before the tray icon); the message is framed as
:mod:`multiprocessing.connection` frames it (a 4-byte big-endian length, then
the bytes), so versions on either side of the change still find each other.
Windows keeps ``multiprocessing.connection``'s named pipe, imported there only.
The name depends on the user and on ``ZHENGLIAN_HOME``, so tests and a second
profile run beside the operator's client.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_MESSAGE = 64
READ_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 2.0
BACKLOG = 16  # launches at the same moment queue here, none is refused

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame header


def _sha256(data: bytes) -> Any:
    """SHA-256 without loading OpenSSL (hashlib's first import, ≈ 4 ms before the tray icon):
    Python's own implementation, the same digest."""
    try:
        from _sha2 import sha256  # Python ≥ 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:  # a build without them
            from hashlib import sha256
    return sha256(data)


def endpoint() -> tuple[str, str]:
    """(address, family) of this user's endpoint."""
    home = os.environ.get("ZHENGLIAN_HOME", "")
    tag = _sha256(f"{getpass.getuser()}|{home}".encode()).hexdigest()[:12]
    name = f"zhenglian-{tag}"
    if sys.platform == "win32":
        return rf"\\.\pipe\{name}", "AF_PIPE"
    if sys.platform.startswith("linux"):
        return f"\0{name}", "AF_UNIX"
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"{name}.sock"), "AF_UNIX"


class _Conn(Protocol):
    """What the guard needs of one connection (a subset of multiprocessing's Connection)."""

    def send_bytes(self, data: bytes) -> None: ...
    def poll(self, timeout: float) -> bool: ...
    def recv_bytes(self, maxlength: int) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...


class _Listener(Protocol):
    def accept(self) -> _Conn: ...
    def close(self) -> None: ...


class _SocketConn:
    """One framed connection on a Unix socket; every wait is bounded."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __enter__(self) -> _SocketConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_bytes(self, data: bytes) -> None:
        self._sock.sendall(_HEADER.pack(len(data)) + data)

    def poll(self, timeout: float) -> bool:
        """True once there is something to read (or the peer closed) within ``timeout``.

        A peek with a timeout rather than ``select``, which fails on descriptors above 1023."""
        self._sock.settimeout(timeout)
        try:
            self._sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return False
        return True

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))  # socket.timeout (an OSError) if the peer stalls
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def recv_bytes(self, maxlength: int) -> bytes:
        """One message of at most ``maxlength`` bytes; OSError for a longer or a stalled one."""
        self._sock.settimeout(READ_TIMEOUT_S)
        (size,) = _HEADER.unpack(self._read(_HEADER.size))
        if size < 0 or size > maxlength:
            raise OSError("bad message length")
        return self._read(size)

    def close(self) -> None:
        self._sock.close()


class _SocketListener:
    def __init__(self, address: str) -> None:
        self._address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(address)  # atomic: one owner
            self._sock.listen(BACKLOG)
        except OSError:
            self._sock.close()
            raise

    def accept(self) -> _SocketConn:
        conn, _ = self._sock.accept()
        conn.setblocking(True)
        return _SocketConn(conn)

    def close(self) -> None:
        self._sock.close()
        if not self._address.startswith("\0"):  # a socket file (other POSIX systems)
            with contextlib.suppress(OSError):
                os.unlink(self._address)


def _connect(address: str, family: str) -> _Conn:
    if family == "AF_PIPE":
        from multiprocessing.connection import Client

        return Client(address, family)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return _SocketConn(sock)


def _new_listener(address: str, family: str) -> _Listener:
    if family == "AF_PIPE":
        from multiprocessing.connection import Listener

        return Listener(address, family)
    return _SocketListener(address)


def notify_running(message: str = "show") -> bool:
    """True if another instance owns the endpoint (and was sent ``message``)."""
    address, family = endpoint()
    try:
        conn = _connect(address, family)
    except OSError:
        return False
    try:
        with conn:
            conn.send_bytes(message.encode("utf-8")[:MAX_MESSAGE])
    except OSError:
        pass  # it went away while we spoke; it was running all the same
    return True


class InstanceServer:
    """Owns the endpoint; calls ``on_message`` (from its own thread) per message."""

    def __init__(self, listener: _Listener, on_message: Callable[[str], None]) -> None:
        self._listener = listener
        self._on_message = on_message
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="zhenglian-instance",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            with conn:
                if self._closed.is_set():
                    return
                try:
                    # A client that connects and says nothing is dropped, never waited on.
                    if not conn.poll(READ_TIMEOUT_S):
                        continue
                    data = conn.recv_bytes(MAX_MESSAGE)
                except (OSError, EOFError):
                    continue
            message = data.decode("utf-8", "replace").strip()
            try:
                self._on_message(message)
            except Exception:  # noqa: BLE001 - a handler's bug must not stop listening
                log.exception("single-instance handler failed")

    def close(self) -> None:
        """Stop listening and release the endpoint (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        # accept() does not return when the listener is closed under it: wake it.
        with contextlib.suppress(OSError):
            _connect(*endpoint()).close()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._listener.close()


class InstanceUnavailable(RuntimeError):
    """The endpoint could not be created, and nobody answers on it."""


def claim(on_message: Callable[[str], None]) -> InstanceServer | None:
    """Become the running instance, or return None after waking the one that is.

    Two processes may get here at once: the loser of the atomic bind tells the
    winner to show itself.  Raises :class:`InstanceUnavailable` when the
    endpoint cannot be created at all (the caller runs without the guard).
    """
    if notify_running():
        return None
    try:
        listener = _listen()
    except OSError as exc:
        if notify_running():
            return None
        raise InstanceUnavailable(str(exc)) from exc
    return InstanceServer(listener, on_message)


def _listen() -> _Listener:
    address, family = endpoint()
    try:
        return _new_listener(address, family)
    except OSError:
        stale_file = family == "AF_UNIX" and not address.startswith("\0")
        if not (stale_file and os.path.exists(address)):
            raise
    # A socket file left by a crashed instance (other POSIX systems only).
    try:
        _connect(address, family).close()
    except OSError:
        os.unlink(address)
        return _new_listener(address, family)
    raise FileExistsError(address)  # someone answers after all: the caller notifies it
