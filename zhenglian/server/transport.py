"""An overall deadline for each server call, under httpx's per-read timeouts.

httpx (httpcore) times out each socket operation on its own: a server that
drips one byte every 5 s never trips a 20 s read timeout, and a call could
last for ever.  Here every connect, read and write of a connection made by
the client is given at most the time left to the *call* on this thread
(:func:`deadline`); past it the operation fails as httpcore's own timeout
(``httpx.TimeoutException`` to the caller).  Writes go in pieces of
:data:`WRITE_PIECE` bytes so that a server reading slowly meets the deadline
too.

The backend is httpcore's public ``NetworkBackend`` interface around its own
``SyncBackend``; :func:`install` puts it into an ``httpx.Client``'s
connection pools (the one attribute of httpx/httpcore we set: both pinned,
and tests/test_server_limits.py fails if it stops working).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore
import httpx

WRITE_PIECE = 64 * 1024

_local = threading.local()


class Deadline:
    """A point in time (on ``clock``) that a call must end by."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self.clock()


@contextlib.contextmanager
def deadline(d: Deadline) -> Iterator[Deadline]:
    """Network operations of this thread's client calls end by ``d`` (nested: the inner one counts)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = d
    try:
        yield d
    finally:
        _local.deadline = previous


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    d: Deadline | None = getattr(_local, "deadline", None)
    if d is None:
        return timeout
    left = d.left()
    if left <= 0:
        raise exc("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for i in range(0, len(view), WRITE_PIECE):
            self._inner.write(bytes(view[i:i + WRITE_PIECE]), _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout),
                                                       socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> None:
    """Give every connection pool of ``client`` (direct and proxies) the deadline backend."""
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for t in transports:
        pool = getattr(t, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx/httpcore changed: cannot install the call deadline")
        if not isinstance(pool._network_backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(pool._network_backend)
