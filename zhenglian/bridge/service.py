"""The bridge's HTTP service on 127.0.0.1: ``/v1/status``, ``/v1/sign``, ``/v1/jobs/{id}``.

Why the standard library's ThreadingHTTPServer and not uvicorn/starlette:
the service has three tiny JSON endpoints on loopback, and its handlers block
on a job table and the GUI anyway.  The stdlib server parses HTTP for us
(request line, headers: ``http.client.parse_headers``, at most 100 header
lines of 64 KiB) and adds nothing to the shipped client, whose bundle
excludes uvicorn, starlette, anyio and h11 today; uvicorn would also run an
asyncio loop in a second thread of a Qt process.  What the stdlib server
lacks we add here, each with a test (tests/test_bridge_service.py):

- at most :data:`~.protocol.MAX_CONNECTIONS` connections at once (and
  :data:`~.protocol.MAX_CONNECTIONS_PER_PEER` from one address); at a cap the
  oldest connection still sending its request is dropped for the new one,
  so dripping connections cannot keep the page out; HTTP/1.0 (one request
  per connection: no idle keep-alive threads);
- deadlines for the whole request line and headers and for the body (not
  only a per-read timeout: slowloris); a body still shorter than its
  ``Content-Length`` at its deadline is answered 400;
- request bodies only with ``Content-Length`` and ``application/json``, at
  most :data:`~.protocol.MAX_BODY_BYTES`;
- token-bucket rate limits per allowed origin (other origins share one
  bucket of their own, so they cannot spend the page's), and for sign requests;
- exact checks of ``Host`` (DNS rebinding) and ``Origin`` (allow-list),
  exact CORS (the allowed origin echoed, never ``*``), Private Network
  Access preflights answered;
- every answer is JSON; an unexpected exception is a 500 for that request
  only, never the end of the service.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from zhenglian import __version__, errors
from zhenglian.bridge import protocol as p
from zhenglian.bridge.ratelimit import FOREIGN, OriginBuckets, TokenBucket
from zhenglian.bridge.ratelimit import NO_ORIGIN as NO_ORIGIN_KEY
from zhenglian.server.protocol import content_length

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
NO_ORIGIN = "(无 Origin / no Origin)"
DRAIN_LIMIT = 1024 * 1024  # read (and drop) at most this much of an oversized body before answering


class _DeadlineReader(io.RawIOBase):
    """The connection's read side, with a deadline for the whole request, not only per read.

    A per-read timeout alone lets a client that drips one byte every few
    seconds hold a thread for ever (slowloris); here every read waits at
    most until ``deadline`` (then TimeoutError, which ends the connection).
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(min(left, p.SOCKET_TIMEOUT_S))
        return self.sock.recv_into(buf)


class _Conn:
    __slots__ = ("sock", "peer", "started", "reading")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer, self.started, self.reading = sock, peer, time.monotonic(), True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64  # the listen backlog; the connection caps are below
    # On Windows SO_REUSEADDR lets another program bind the same port; there
    # we ask for SO_EXCLUSIVEADDRUSE instead (see server_bind).
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, port: int, service: BridgeService) -> None:
        self.service = service
        self._conns: dict[int, _Conn] = {}
        self._conns_lock = threading.Lock()
        super().__init__((p.BIND_HOST, port), _Handler)

    def server_bind(self) -> None:
        if sys.platform == "win32":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        # Not HTTPServer.server_bind: its getfqdn() can wait on DNS for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = p.BIND_HOST, self.socket.getsockname()[1]

    # --- connection caps ------------------------------------------------------------
    #
    # Every connection comes from this machine, the page's through the browser.
    # A page's request arrives whole at once; a connection still sending its
    # request after others arrived is the one to drop.  So at a cap the
    # *oldest connection still reading its request* is closed to make room —
    # from the same address at the per-address cap, from any address at the
    # total cap — and a new connection is refused only when every slot is
    # busy answering.  Dripping connections cannot keep the page out.

    def _admit(self, request: socket.socket, peer: str) -> bool:
        with self._conns_lock:
            mine = [c for c in self._conns.values() if c.peer == peer]
            if len(mine) >= self.service.max_connections_per_peer and not self._evict(mine):
                return False
            if len(self._conns) >= self.service.max_connections and not self._evict(list(self._conns.values())):
                return False
            self._conns[id(request)] = _Conn(request, peer)
            return True

    def _evict(self, candidates: list[_Conn]) -> bool:
        """Close the oldest candidate still reading its request; False when none is (caller holds the lock)."""
        reading = [c for c in candidates if c.reading]
        if not reading:
            return False
        victim = min(reading, key=lambda c: c.started)
        del self._conns[id(victim.sock)]
        log.info("bridge: connection cap; the oldest unfinished request dropped")
        try:
            victim.sock.shutdown(socket.SHUT_RDWR)  # its thread's read ends; the thread closes it
        except OSError:
            pass
        return True

    def request_read(self, request: socket.socket) -> None:
        """The request is read: this connection is no longer one to drop at a cap."""
        with self._conns_lock:
            conn = self._conns.get(id(request))
            if conn is not None:
                conn.reading = False

    def _release(self, request: Any) -> None:
        with self._conns_lock:
            conn = self._conns.get(id(request))
            if conn is not None and conn.sock is request:
                del self._conns[id(request)]

    def connection_count(self) -> int:
        with self._conns_lock:
            return len(self._conns)

    def process_request(self, request: Any, client_address: Any) -> None:
        peer = str(client_address[0]) if isinstance(client_address, tuple) and client_address else "?"
        if not self._admit(request, peer):
            log.info("bridge: too many connections busy answering; one closed")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("bridge: connection error", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "zhenglian-bridge"
    sys_version = ""
    timeout = p.SOCKET_TIMEOUT_S

    _cors: str | None = None
    _reader: _DeadlineReader

    # --- stdlib hooks ------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # The request line and headers must all arrive within the header deadline.
        self._reader = _DeadlineReader(self.connection, time.monotonic() + self.server.service.header_deadline_s)
        self.rfile = io.BufferedReader(self._reader)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("bridge: " + format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib parser's refusals (malformed request line, headers, method), as JSON."""
        self.close_connection = True
        try:
            self._json(code, {"error": f"http_{code}", "message_zh": "请求无效", "message_en": "invalid request"})
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    # --- answers -----------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.connection.settimeout(p.SOCKET_TIMEOUT_S)  # the reader may have left a shorter one
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if self._cors:
            self.send_header("Access-Control-Allow-Origin", self._cors)
        self.send_header("Vary", "Origin")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, exc: errors.BridgeRefused) -> None:
        hz, he = exc.hint()
        self._json(exc.http_status, {"error": exc.code, "message_zh": exc.message_zh(),
                                     "message_en": exc.message_en(), "hint_zh": hz, "hint_en": he})

    def _dispatch(self, method: str) -> None:
        self._cors = None
        try:
            self._handle(method)
        except errors.BridgeRefused as exc:
            self._refuse(exc)
        except OSError:
            self.close_connection = True  # the client went away
        except Exception:  # noqa: BLE001 - one request fails, the service stays up
            log.exception("bridge: request failed")
            self._json(500, {"error": "internal", "message_zh": "客户端内部错误", "message_en": "internal error"})

    # --- the checks every request passes -------------------------------------------

    def _handle(self, method: str) -> None:
        service = self.server.service
        if method != "POST":
            self.server.request_read(self.connection)  # no body: the request is all here
        origins = self.headers.get_all("Origin") or []
        raw_origin = origins[0] if origins else None
        origin = p.parse_origin(raw_origin) if len(origins) == 1 else None
        allowed = service.policy.is_allowed(origin)
        # Each allowed page has a budget of its own: other pages cannot spend it.
        bucket = origin if allowed and origin else (NO_ORIGIN_KEY if raw_origin is None else FOREIGN)
        if not service.requests.take(bucket):
            raise errors.BridgeRateLimited()
        if not p.host_ok(self.headers.get("Host"), self.server.server_port) or len(self.headers.get_all("Host") or []) > 1:
            raise errors.BridgeHostNotAllowed()
        if raw_origin is not None and not allowed:
            raise errors.BridgeOriginNotAllowed(origin=_shown(raw_origin))
        self._cors = origin if allowed else None
        if not self.path.startswith("/"):
            raise errors.BridgeNotFound()
        path = urllib.parse.urlsplit(self.path).path
        if method == "OPTIONS":
            self._preflight(allowed)
        elif method == "GET" and path == "/v1/status":
            self._json(200, service.status(detailed=allowed))
        elif method == "POST" and path == "/v1/sign":
            self._sign(origin if allowed else None)
        elif method == "GET" and path.startswith("/v1/jobs/"):
            self._job(path[len("/v1/jobs/"):], origin if allowed else None)
        else:
            raise errors.BridgeNotFound()

    def _preflight(self, allowed: bool) -> None:
        if not allowed:
            raise errors.BridgeOriginNotAllowed(origin=NO_ORIGIN)
        method = self.headers.get("Access-Control-Request-Method", "")
        wanted = {h.strip().lower() for h in self.headers.get("Access-Control-Request-Headers", "").split(",")
                  if h.strip()}
        if method not in ("GET", "POST") or not wanted <= {"content-type"}:
            raise errors.BridgeBadRequest(detail_zh="预检请求的方法或头部不允许",
                                          detail_en="preflight asks for a method or header not allowed")
        headers = {"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                   "Access-Control-Max-Age": "600"}
        # Chrome's Private Network Access: a public page asking a loopback service.
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        self.connection.settimeout(p.SOCKET_TIMEOUT_S)
        self.send_response(204)
        if self._cors:
            self.send_header("Access-Control-Allow-Origin", self._cors)
        self.send_header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                                 "Access-Control-Request-Private-Network")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # --- endpoints -----------------------------------------------------------------

    def _read_body(self) -> bytes:
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise errors.BridgeBadRequest(detail_zh="Content-Type 应为 application/json",
                                          detail_en="Content-Type must be application/json")
        if self.headers.get("Transfer-Encoding"):
            raise errors.BridgeBadRequest(detail_zh="不接受分块传输", detail_en="chunked bodies are not accepted")
        lengths = self.headers.get_all("Content-Length") or []
        length = content_length(lengths[0]) if len(lengths) == 1 else None
        if length is None:
            raise errors.BridgeBadRequest(detail_zh="缺少 Content-Length 或其值无效",
                                          detail_en="Content-Length is missing or not a number")
        self._reader.deadline = time.monotonic() + self.server.service.body_deadline_s
        if length > p.MAX_BODY_BYTES:
            self.close_connection = True
            self._drain(min(length, DRAIN_LIMIT))
            raise errors.BridgeTooLarge(limit=p.MAX_BODY_BYTES)
        body = bytearray()
        try:
            while len(body) < length:
                chunk = self.rfile.read1(length - len(body))
                if not chunk:
                    break
                body += chunk
        except TimeoutError:
            pass  # a body shorter than its Content-Length, and the client waits: answer, do not hang
        self.server.request_read(self.connection)
        if len(body) != length:
            self.close_connection = True
            raise errors.BridgeBadRequest(detail_zh="请求体短于 Content-Length", detail_en="the body is shorter than "
                                                                                       "its Content-Length")
        return bytes(body)

    def _drain(self, n: int) -> None:
        """Read what the client sends (bounded), so it can read our answer instead of a reset."""
        try:
            while n > 0:
                chunk = self.rfile.read(min(n, 65536))
                if not chunk:
                    return
                n -= len(chunk)
        except OSError:
            return

    def _sign(self, origin: str | None) -> None:
        service = self.server.service
        if origin is None:
            raise errors.BridgeOriginNotAllowed(origin=NO_ORIGIN)
        body = self._read_body()
        req = p.parse_sign_request(body, origin, service.policy.origins(), service.policy.servers())
        if not service.signs.take():  # valid requests only: each may open a dialog
            raise errors.BridgeRateLimited()
        job = service.jobs.submit(req)
        self._json(202, {**job.to_dict(), "poll": f"/v1/jobs/{job.id}"})

    def _job(self, job_id: str, origin: str | None) -> None:
        if origin is None:
            raise errors.BridgeOriginNotAllowed(origin=NO_ORIGIN)
        job = self.server.service.jobs.get(job_id, origin) if p.job_id_ok(job_id) else None
        if job is None:
            raise errors.BridgeNotFound()
        self._json(200, job.to_dict())


def _shown(value: str) -> str:
    """Header text fit for a message: printable, short."""
    return "".join(ch for ch in value[:120] if ch.isprintable()) or "-"


class BridgeService:
    """The HTTP service, in a thread of its own.  ``start()`` → the port it listens on."""

    def __init__(self, policy: p.Policy, jobs: Any, *, port: int = p.DEFAULT_PORT,
                 keys: Callable[[], list[Any]] | None = None, ports: list[int] | None = None) -> None:
        self.policy = policy
        self.jobs = jobs
        self.configured_port = port
        self.ports = ports  # tests: exactly these ports instead of the configured one and the fallbacks
        self._keys = keys or getattr(jobs, "keys", lambda: [])
        self.requests = OriginBuckets(p.REQUESTS_PER_S, p.REQUEST_BURST, foreign_rate_per_s=p.FOREIGN_REQUESTS_PER_S,
                                      foreign_burst=p.FOREIGN_BURST)
        self.header_deadline_s = p.HEADER_DEADLINE_S
        self.body_deadline_s = p.BODY_DEADLINE_S
        self.max_connections = p.MAX_CONNECTIONS
        self.max_connections_per_peer = p.MAX_CONNECTIONS_PER_PEER
        self.signs = TokenBucket(p.SIGNS_PER_MIN / 60.0, p.SIGN_BURST)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return self._server.server_port if self._server is not None else None

    @property
    def url(self) -> str:
        return f"http://{p.BIND_HOST}:{self.port}"

    def start(self) -> int:
        tried = list(self.ports) if self.ports is not None else p.ports_to_try(self.configured_port)
        for port in tried:
            try:
                self._server = _Server(port, self)
                break
            except OSError as exc:
                log.info("bridge: port %d not available (%s)", port, exc.strerror or type(exc).__name__)
        else:
            raise errors.BridgePortsBusy(ports=", ".join(str(x) for x in tried))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.25},
                                        name="zhenglian-bridge", daemon=True)
        self._thread.start()
        log.info("bridge listening on %s", self.url)
        return self._server.server_port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        log.info("bridge stopped")

    def status(self, detailed: bool) -> dict[str, Any]:
        """``installed``/``version``/``key_present`` for anyone local, ``busy`` for allowed pages too.

        The page learns only THAT a key is there: never which institution's, nor how many
        (the operator's keys are not the web's business; the ticket names the institution)."""
        try:
            keys = list(self._keys())
        except Exception:  # noqa: BLE001 - status must answer
            log.exception("bridge: listing keys failed")
            keys = []
        out: dict[str, Any] = {"app": "zhenglian", "installed": True, "version": __version__,
                               "api": p.API_VERSION, "key_present": bool(keys)}
        if detailed:
            out["busy"] = bool(getattr(self.jobs, "busy", False))
        return out
