"""The bridge's HTTP service on 127.0.0.1: ``/v1/status``, ``/v1/sign``, ``/v1/jobs/{id}``.

Why the standard library's ThreadingHTTPServer and not uvicorn/starlette:
the service has three tiny JSON endpoints on loopback, and its handlers block
on a job table and the GUI anyway.  The stdlib server parses HTTP for us
(request line, headers: ``http.client.parse_headers``, at most 100 header
lines of 64 KiB) and adds nothing to the shipped client, whose bundle
excludes uvicorn, starlette, anyio and h11 today; uvicorn would also run an
asyncio loop in a second thread of a Qt process.  What the stdlib server
lacks we add here, each with a test (tests/test_bridge_service.py):

- at most :data:`~.protocol.MAX_CONNECTIONS` connections are handled at once
  (more are closed at once), each with a socket timeout, HTTP/1.0 (one
  request per connection: no idle keep-alive threads);
- request bodies only with ``Content-Length`` and ``application/json``, at
  most :data:`~.protocol.MAX_BODY_BYTES`;
- token-bucket rate limits, for all requests and for sign requests;
- exact checks of ``Host`` (DNS rebinding) and ``Origin`` (allow-list),
  exact CORS (the allowed origin echoed, never ``*``), Private Network
  Access preflights answered;
- every answer is JSON; an unexpected exception is a 500 for that request
  only, never the end of the service.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from zhenglian import __version__, errors
from zhenglian.bridge import protocol as p
from zhenglian.bridge.ratelimit import TokenBucket

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
NO_ORIGIN = "(无 Origin / no Origin)"
DRAIN_LIMIT = 1024 * 1024  # read (and drop) at most this much of an oversized body before answering


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = p.MAX_CONNECTIONS
    # On Windows SO_REUSEADDR lets another program bind the same port; there
    # we ask for SO_EXCLUSIVEADDRUSE instead (see server_bind).
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, port: int, service: BridgeService) -> None:
        self.service = service
        self.slots = threading.BoundedSemaphore(p.MAX_CONNECTIONS)
        super().__init__((p.BIND_HOST, port), _Handler)

    def server_bind(self) -> None:
        if sys.platform == "win32":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        # Not HTTPServer.server_bind: its getfqdn() can wait on DNS for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = p.BIND_HOST, self.socket.getsockname()[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            log.info("bridge: too many connections; one closed")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("bridge: connection error", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "zhenglian-bridge"
    sys_version = ""
    timeout = p.SOCKET_TIMEOUT_S

    _cors: str | None = None

    # --- stdlib hooks ------------------------------------------------------------

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
        if not service.requests.take():
            raise errors.BridgeRateLimited()
        if not p.host_ok(self.headers.get("Host"), self.server.server_port) or len(self.headers.get_all("Host") or []) > 1:
            raise errors.BridgeHostNotAllowed()
        origins = self.headers.get_all("Origin") or []
        raw_origin = origins[0] if origins else None
        origin = p.parse_origin(raw_origin) if len(origins) == 1 else None
        allowed = service.policy.is_allowed(origin)
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
        if len(lengths) != 1 or not lengths[0].strip().isdigit():
            raise errors.BridgeBadRequest(detail_zh="缺少 Content-Length", detail_en="Content-Length is required")
        length = int(lengths[0].strip())
        if length > p.MAX_BODY_BYTES:
            self.close_connection = True
            self._drain(min(length, DRAIN_LIMIT))
            raise errors.BridgeTooLarge(limit=p.MAX_BODY_BYTES)
        body = self.rfile.read(length)
        if len(body) != length:
            raise errors.BridgeBadRequest(detail_zh="请求体不完整", detail_en="the body is cut short")
        return body

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
        req = p.parse_sign_request(body, origin, service.policy.origins())
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
        self.requests = TokenBucket(p.REQUESTS_PER_S, p.REQUEST_BURST)
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
