"""HTTP client of the signing server (httpx), with the network's failures as typed errors.

- TLS is always verified: the system's CAs plus ``settings.ca_bundle``.
  Plain http is refused except to this machine (127.0.0.1 / ::1 / localhost),
  where the tests and a local reference server run.
- Every call has an overall deadline (retries included; not only per-read
  timeouts: ``transport.py``), every answer a size bound, JSON a nesting
  bound, and documents are streamed and checked against the declared size
  as they arrive.  Network errors, timeouts and 5xx answers are retried a
  bounded number of times with exponential backoff; a 4xx never is (the
  server's reason is shown instead).
- Only requests that are safe to repeat are retried: reads, and the upload,
  which the server makes idempotent (task id + content hash).  A login is
  never retried (its challenge is single-use; the caller asks for a new one).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from zhenglian import __version__, errors, safejson
from zhenglian.backoff import Backoff
from zhenglian.netaddr import plain_http_to_another_machine
from zhenglian.server import models, transport
from zhenglian.server.protocol import API_PREFIX, content_length
from zhenglian.textsafe import terminal_safe

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024  # a JSON answer (task lists, seals with their pictures)
MAX_ERROR_BYTES = 64 * 1024  # the body of a 4xx/5xx, read for its reason
CALL_S = 45.0  # a call, retries and backoff included (more for long polls and transfers, below)
UPLOAD_S = 120.0  # at least this for an upload
MIN_RATE_BYTES_PER_S = 256 * 1024  # transfers get CALL_S plus their size at this rate


def normalise_url(url: str) -> tuple[str, str]:
    """(base URL without a trailing slash, origin) of a server address; ServerInsecure for remote http."""
    raw = url.strip()
    if not raw:
        raise errors.ServerNotConfigured()
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urllib.parse.urlsplit(raw)
    except ValueError:  # an unmatched IPv6 bracket
        raise errors.UsageError(detail=f"服务器地址无效 / invalid server address: {url}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise errors.UsageError(detail=f"服务器地址无效 / invalid server address: {url}")
    if plain_http_to_another_machine(raw):
        raise errors.ServerInsecure(url=url)
    default = {"http": 80, "https": 443}[scheme]
    try:
        port = parts.port
    except ValueError:
        raise errors.UsageError(detail=f"服务器地址端口无效 / invalid port in: {url}") from None
    netloc = f"[{host}]" if ":" in host else host
    if port and port != default:
        netloc += f":{port}"
    origin = f"{scheme}://{netloc}"
    return origin + parts.path.rstrip("/"), origin


def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_bundle:
        try:
            ctx.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigError(file=ca_bundle, problem=f"CA 证书无法读取 / unreadable CA bundle "
                                                              f"({type(exc).__name__})") from None
    return ctx


def _clean(text: Any, limit: int = 300) -> str:
    """Server-supplied text, made safe to show: printable, bounded."""
    s = str(text) if text is not None else ""
    s = "".join(ch for ch in s if ch.isprintable())
    return s[:limit]


class ServerClient:
    """One signing server, one bearer token at a time (``token``).

    Bounds on every call (docs/server-api.md, "Client behaviour"): a call,
    retries and backoff included, ends within its deadline (``call_s``; uploads,
    downloads and long polls get more, below), whatever the server sends and
    however slowly; a JSON answer is at most :data:`MAX_JSON_BYTES` and
    :data:`~zhenglian.safejson.MAX_DEPTH` deep; an error body is read up to
    :data:`MAX_ERROR_BYTES`; a document is streamed and stopped as soon as it
    is longer than the task declares.
    """

    def __init__(self, url: str, *, ca_bundle: str = "", timeout: float = 20.0, connect_timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.5, max_backoff: float = 4.0, call_s: float = CALL_S,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url, self.origin = normalise_url(url)
        self.token: str | None = None
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.call_s = call_s
        self._sleep = sleep
        self._clock = clock
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        verify: ssl.SSLContext | bool = ssl_context(ca_bundle) if self.base_url.startswith("https") else True
        self._http = bounded_client(self.timeout, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one request function --------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX):]
        return f"{self.base_url}{API_PREFIX}{path}"

    def call(self, method: str, path: str, read: Callable[[httpx.Response], T], *, auth: bool = True,
             retry: bool = True, timeout: httpx.Timeout | float | None = None, limit_s: float | None = None,
             **kwargs: Any) -> T:
        """Send one request and ``read`` its 2xx answer (streamed, within the call's deadline), or raise a
        ZhenglianError.  Network failures, timeouts and 5xx are retried while the deadline allows."""
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            if not self.token:
                raise errors.AuthRequired(origin=self.origin)
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = 1 + (self.retries if retry else 0)
        call_deadline = transport.Deadline(limit_s if limit_s is not None else self.call_s, self._clock)
        last: errors.ZhenglianError | None = None
        wait = Backoff(self.backoff, self.max_backoff, jitter=True)
        for attempt in range(attempts):
            if attempt:
                delay = wait.next()
                if call_deadline.left() <= delay:
                    break  # no time left for another try
                log.info("retrying %s %s in %.1fs after %s", method, path, delay, last.code if last else "?")
                self._sleep(delay)
            try:
                with transport.deadline(call_deadline):
                    request = self._http.build_request(method, self._url(path), headers=headers,
                                                       timeout=timeout or self.timeout, **kwargs)
                    response = self._http.send(request, stream=True)
                    try:
                        if response.status_code >= 500:
                            last = self._server_error(response)
                            continue
                        if response.status_code >= 400:
                            raise self._refusal(response, auth)
                        if 300 <= response.status_code < 400:
                            raise errors.ServerError(status=str(response.status_code),
                                                     detail_zh="服务器要求重定向（不跟随）",
                                                     detail_en="the server redirects (not followed)")
                        _identity_only(response)
                        return read(response)
                    finally:
                        response.close()
            except httpx.HTTPError as exc:
                last, retryable = self._network_error(exc)
                if not retryable:
                    raise last from None
                continue
        if last is None:
            last = errors.ServerUnreachable(origin=self.origin, detail_zh="等待应答超时", detail_en="timed out")
        raise last

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The 2xx answer with its body read (at most MAX_JSON_BYTES), for callers that want a response;
        same deadline, retries and errors as :meth:`call`."""

        def read(response: httpx.Response) -> httpx.Response:
            return with_body(response, read_bounded(response, MAX_JSON_BYTES))

        return self.call(method, path, read, **kwargs)

    def _network_error(self, exc: httpx.HTTPError) -> tuple[errors.ZhenglianError, bool]:
        """The error to report, and whether trying again could help."""
        text = str(exc)
        retryable = True
        if isinstance(exc, httpx.TimeoutException):
            err: errors.ZhenglianError = errors.ServerUnreachable(origin=self.origin, detail_zh="等待应答超时",
                                                                 detail_en="timed out")
        elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in text:
            err = errors.ServerUnreachable(origin=self.origin, detail_zh="服务器证书验证失败（不受信任或与地址不符）",
                                           detail_en="the server's TLS certificate did not verify")
            retryable = False
        elif isinstance(exc, httpx.ConnectError):
            err = errors.ServerUnreachable(origin=self.origin, detail_zh="连接失败", detail_en="connection failed")
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            err = errors.ServerError(status="-", detail_zh="连接中断或应答无效",
                                     detail_en="the connection broke or the answer was not HTTP")
        else:
            err = errors.ServerUnreachable(origin=self.origin, detail_zh=type(exc).__name__,
                                           detail_en=type(exc).__name__)
        log.info("%s %s: %s", type(exc).__name__, self.origin, err.code)
        return err, retryable

    @staticmethod
    def _reason(response: httpx.Response) -> tuple[str, str, str]:
        try:
            body = safejson.loads(read_bounded(response, MAX_ERROR_BYTES))
        except (ValueError, errors.ZhenglianError, httpx.HTTPError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return (_clean(body["error"], 60), _clean(body.get("message_zh") or body["error"]),
                    _clean(body.get("message_en") or body["error"]))
        return f"http_{response.status_code}", f"HTTP {response.status_code}", f"HTTP {response.status_code}"

    def _server_error(self, response: httpx.Response) -> errors.ServerError:
        _, zh, en = self._reason(response)
        return errors.ServerError(status=str(response.status_code), detail_zh=zh, detail_en=en)

    def _refusal(self, response: httpx.Response, auth: bool) -> errors.ZhenglianError:
        code, zh, en = self._reason(response)
        if response.status_code == 401 and auth:
            if code == "auth_expired":
                return errors.AuthExpired(origin=self.origin)
            return errors.AuthRequired(origin=self.origin)
        return errors.ServerRefused(status=response.status_code, reason=code, reason_zh=zh, reason_en=en)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        """The answer's JSON: at most MAX_JSON_BYTES, nested at most safejson.MAX_DEPTH deep."""
        data = read_bounded(response, MAX_JSON_BYTES)
        try:
            return safejson.loads(data)
        except safejson.JsonTooDeep:
            raise errors.ServerError(status=str(response.status_code), detail_zh="应答的 JSON 嵌套过深",
                                     detail_en="the answer's JSON is nested too deep") from None
        except ValueError:
            raise errors.ServerError(status=str(response.status_code), detail_zh="应答不是 JSON",
                                     detail_en="the answer is not JSON") from None

    def _get_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, self._json, **kwargs)

    # --- API -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return models._obj(self._get_json("GET", "/info", auth=False), "info")

    def challenge(self) -> models.Challenge:
        return models.Challenge.parse(self._get_json("POST", "/auth/challenge", auth=False))

    def login(self, nonce: str, certificate: bytes, chain: list[bytes], algorithm: str,
              signature: bytes) -> models.LoginResult:
        import base64

        body = {"nonce": nonce, "certificate": base64.b64encode(certificate).decode(),
                "chain": [base64.b64encode(c).decode() for c in chain], "algorithm": algorithm,
                "signature": base64.b64encode(signature).decode()}
        return models.LoginResult.parse(self._get_json("POST", "/auth/login", auth=False, retry=False, json=body))

    def logout(self) -> None:
        self.call("POST", "/auth/logout", lambda r: None, retry=False)

    def tasks(self, status: str = "pending") -> models.TaskList:
        return models.TaskList.parse(self._get_json("GET", "/tasks", params={"status": status}))

    def task(self, task_id: str) -> models.Task:
        return models.Task.parse(self._get_json("GET", f"/tasks/{_seg(task_id)}"))

    def download(self, task: models.Task) -> bytes:
        """The task's original document, streamed and checked as it arrives: refused as soon as it is
        longer than the task declares (or its Content-Length says so), then checked against the SHA-256."""
        if task.doc_size > MAX_DOCUMENT_BYTES:
            raise errors.ServerRefused(status=413, reason="too_large", reason_zh="文件过大", reason_en="file too large")
        size = max(0, task.doc_size)

        def read(response: httpx.Response) -> bytes:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.strip() != str(size):
                log.info("download of %s: Content-Length %s, the task says %d", terminal_safe(task.id, limit=80),
                         terminal_safe(declared, limit=20), size)
                raise errors.TaskDocumentMismatch(title=task.title)
            data = bytearray()
            digest = hashlib.sha256()
            for chunk in response.iter_raw():
                if len(data) + len(chunk) > size:
                    log.info("download of %s: longer than the %d bytes the task declares; stopped",
                             terminal_safe(task.id, limit=80), size)
                    raise errors.TaskDocumentMismatch(title=task.title)
                data += chunk
                digest.update(chunk)
            if len(data) != size or digest.hexdigest() != task.doc_sha256:
                raise errors.TaskDocumentMismatch(title=task.title)
            return bytes(data)

        return self.call("GET", f"/tasks/{_seg(task.id)}/document", read, limit_s=self._transfer_s(size))

    def _transfer_s(self, size: int) -> float:
        """The deadline of a call that moves ``size`` bytes: the usual one plus time at MIN_RATE."""
        return self.call_s + size / MIN_RATE_BYTES_PER_S

    def download_signed(self, task: models.Task) -> bytes:
        """The signed document the server holds for a signed task, checked against its SHA-256."""
        if not task.signed_sha256:
            raise errors.ServerRefused(status=404, reason="not_signed", reason_zh="任务尚未签署",
                                       reason_en="the task is not signed")
        data = self.request("GET", f"/tasks/{_seg(task.id)}/signed").content
        if len(data) > MAX_DOCUMENT_BYTES or hashlib.sha256(data).hexdigest() != task.signed_sha256:
            raise errors.TaskDocumentMismatch(title=task.title)
        return data

    def upload(self, task_id: str, data: bytes) -> models.UploadResult:
        """PUT the signed PDF (idempotent on the server: safe to repeat)."""
        sha = hashlib.sha256(data).hexdigest()
        status: list[int] = []

        def read(response: httpx.Response) -> Any:
            status.append(response.status_code)
            return self._json(response)

        body = self.call("PUT", f"/tasks/{_seg(task_id)}/signed", read, content=data,
                         headers={"Content-Type": "application/pdf", "X-Content-SHA256": sha},
                         timeout=httpx.Timeout(max(60.0, self.timeout.read or 0), connect=self.timeout.connect),
                         limit_s=max(UPLOAD_S, self._transfer_s(len(data))))
        result = models.UploadResult.parse(body)
        if result.sha256 != sha or result.task_id != task_id:
            raise errors.ServerError(status=str(status[-1] if status else "-"), detail_zh="服务器确认的文件与上传的不符",
                                     detail_en="the server confirmed a different file")
        return result

    def reject(self, task_id: str, reason: str) -> models.Task:
        return models.Task.parse(self._get_json("POST", f"/tasks/{_seg(task_id)}/reject", json={"reason": reason}))

    def events(self, since: int, wait: float = 0) -> models.Events:
        timeout = httpx.Timeout(wait + (self.timeout.read or 20.0), connect=self.timeout.connect)
        return models.Events.parse(self._get_json("GET", "/events", params={"since": since, "wait": wait},
                                                  timeout=timeout, limit_s=self.call_s + max(0.0, wait)))

    def seals(self) -> list[models.ServerSealRecord]:
        body = models._obj(self._get_json("GET", "/seals"), "seals")
        items = body.get("seals")
        if not isinstance(items, list):
            raise models._bad("seals")
        return [models.ServerSealRecord.parse(s) for s in items]

    def ticket(self, task_id: str) -> str:
        body = models._obj(self._get_json("POST", f"/tasks/{_seg(task_id)}/ticket", retry=False), "ticket")
        return models._str(body, "ticket")

    def check_ticket(self, ticket: str) -> tuple[str, str]:
        """(task id, institution USCC) the ticket names; no login needed, the ticket is not used up."""
        body = models._obj(self._get_json("POST", "/tickets/check", retry=False, auth=False,
                                          json={"ticket": ticket}), "ticket")
        task_id, uscc = body.get("task_id"), body.get("uscc")
        if not isinstance(task_id, str) or not isinstance(uscc, str):
            raise errors.ServerError(status=200, detail_zh="凭据检查的回答不完整", detail_en="the ticket check answer is incomplete")
        return task_id[:200], uscc[:64]

    def redeem(self, ticket: str) -> models.Task:
        body = models._obj(self._get_json("POST", "/tickets/redeem", retry=False, json={"ticket": ticket}), "redeem")
        return models.Task.parse(body.get("task"))


# An office proxy (HTTP_PROXY) is for the signing server and the CA out there, never for this machine:
# a loopback server (the demo, a local gateway) is reached directly, as a browser does.
_DIRECT_TO_THIS_MACHINE: dict[str, httpx.BaseTransport | None] = {
    "all://127.0.0.1": None, "all://localhost": None, "all://[::1]": None}


def bounded_client(timeout: float | httpx.Timeout, *, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """An httpx client for answers from outside: no redirects, identity encoding asked for, and the
    call deadline of :func:`fetch_bounded` (transport.py) installed in its connection pools."""
    client = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False, mounts=_DIRECT_TO_THIS_MACHINE,
                          headers={"User-Agent": f"zhenglian/{__version__}", "Accept-Encoding": "identity"})
    transport.install(client)
    return client


def fetch_bounded(client: httpx.Client, method: str, url: str, *, limit: int, deadline: transport.Deadline,
                  **kwargs: Any) -> httpx.Response:
    """One request of a :func:`bounded_client` whose answer is read whole: all of it by ``deadline``,
    at most ``limit`` bytes, identity encoding only (ServerError otherwise), redirects not followed.
    httpx errors (timeouts included) are the caller's to type."""
    with transport.deadline(deadline):
        request = client.build_request(method, url, **kwargs)
        response = client.send(request, stream=True)
        try:
            _identity_only(response)
            return with_body(response, read_bounded(response, limit))
        finally:
            response.close()


def with_body(response: httpx.Response, content: bytes) -> httpx.Response:
    """``response`` with its (already bounded, never decoded) body ``content``: the framing headers are
    dropped, so that the new response does not decode the body a second time (a gzip bomb)."""
    framing = {"content-encoding", "transfer-encoding", "content-length"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in framing]
    return httpx.Response(response.status_code, headers=headers, content=content, request=response.request,
                          extensions={"reason_phrase": response.extensions.get("reason_phrase", b"")})


def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, refused (ServerError) as soon as it is longer than ``limit``."""
    declared = content_length(response.headers.get("Content-Length", ""))
    if declared is not None and declared > limit:
        raise _too_large(response, limit)
    out = bytearray()
    for chunk in response.iter_raw():
        out += chunk
        if len(out) > limit:
            raise _too_large(response, limit)
    return bytes(out)


def _too_large(response: httpx.Response, limit: int) -> errors.ServerError:
    return errors.ServerError(status=str(response.status_code), detail_zh=f"应答超过 {limit // 1024} KiB 上限",
                              detail_en=f"the answer is over the {limit // 1024} KiB limit")


def _identity_only(response: httpx.Response) -> None:
    """We ask for ``Accept-Encoding: identity``: a compressed answer could inflate past every size bound."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise errors.ServerError(status=str(response.status_code), detail_zh="应答使用了未请求的压缩编码",
                                 detail_en="the answer uses a content encoding that was not asked for")


def _seg(value: str) -> str:
    """A path segment, quoted (task ids come from the server; never trust them into a URL raw)."""
    return urllib.parse.quote(value, safe="")
