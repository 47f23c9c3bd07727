"""HTTP client of the signing server (httpx), with the network's failures as typed errors.

- TLS is always verified: the system's CAs plus ``settings.ca_bundle``.
  Plain http is refused except to this machine (127.0.0.1 / ::1 / localhost),
  where the tests and a local reference server run.
- Every request has a timeout.  Network errors, timeouts and 5xx answers are
  retried a bounded number of times with exponential backoff; a 4xx never is
  (the server's reason is shown instead).
- Only requests that are safe to repeat are retried: reads, and the upload,
  which the server makes idempotent (task id + content hash).  A login is
  never retried (its challenge is single-use; the caller asks for a new one).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import random
import ssl
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from zhenglian import __version__, errors
from zhenglian.server import models
from zhenglian.server.protocol import API_PREFIX

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
_LOOPBACK_NAMES = {"localhost"}


def normalise_url(url: str) -> tuple[str, str]:
    """(base URL without a trailing slash, origin) of a server address; ServerInsecure for remote http."""
    raw = url.strip()
    if not raw:
        raise errors.ServerNotConfigured()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urllib.parse.urlsplit(raw)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise errors.UsageError(detail=f"服务器地址无效 / invalid server address: {url}")
    if scheme == "http" and not _is_loopback(host):
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


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    """One signing server, one bearer token at a time (``token``)."""

    def __init__(self, url: str, *, ca_bundle: str = "", timeout: float = 20.0, connect_timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.5, max_backoff: float = 4.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url, self.origin = normalise_url(url)
        self.token: str | None = None
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        verify: ssl.SSLContext | bool = ssl_context(ca_bundle) if self.base_url.startswith("https") else True
        self._http = httpx.Client(verify=verify, timeout=self.timeout, follow_redirects=False,
                                  headers={"User-Agent": f"zhenglian/{__version__}"})

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

    def request(self, method: str, path: str, *, auth: bool = True, retry: bool = True,
                timeout: httpx.Timeout | float | None = None, **kwargs: Any) -> httpx.Response:
        """Send one request; returns a 2xx response or raises a ZhenglianError."""
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            if not self.token:
                raise errors.AuthRequired(origin=self.origin)
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = 1 + (self.retries if retry else 0)
        last: errors.ZhenglianError | None = None
        for attempt in range(attempts):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)
                log.info("retrying %s %s in %.1fs after %s", method, path, delay, last.code if last else "?")
                self._sleep(delay)
            try:
                response = self._http.request(method, self._url(path), headers=headers,
                                              timeout=timeout or self.timeout, **kwargs)
            except httpx.HTTPError as exc:
                last, retryable = self._network_error(exc)
                if not retryable:
                    raise last from None
                continue
            if response.status_code >= 500:
                last = self._server_error(response)
                continue
            if response.status_code >= 400:
                raise self._refusal(response, auth)
            if 300 <= response.status_code < 400:
                raise errors.ServerError(status=str(response.status_code), detail_zh="服务器要求重定向（不跟随）",
                                         detail_en="the server redirects (not followed)")
            return response
        assert last is not None
        raise last

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
            body = response.json()
        except ValueError:
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

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise errors.ServerError(status=str(response.status_code), detail_zh="应答不是 JSON",
                                     detail_en="the answer is not JSON") from None

    # --- API -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return models._obj(self._json(self.request("GET", "/info", auth=False)), "info")

    def challenge(self) -> models.Challenge:
        return models.Challenge.parse(self._json(self.request("POST", "/auth/challenge", auth=False)))

    def login(self, nonce: str, certificate: bytes, chain: list[bytes], algorithm: str,
              signature: bytes) -> models.LoginResult:
        import base64

        body = {"nonce": nonce, "certificate": base64.b64encode(certificate).decode(),
                "chain": [base64.b64encode(c).decode() for c in chain], "algorithm": algorithm,
                "signature": base64.b64encode(signature).decode()}
        return models.LoginResult.parse(self._json(self.request("POST", "/auth/login", auth=False,
                                                                retry=False, json=body)))

    def logout(self) -> None:
        self.request("POST", "/auth/logout", retry=False)

    def tasks(self, status: str = "pending") -> models.TaskList:
        return models.TaskList.parse(self._json(self.request("GET", "/tasks", params={"status": status})))

    def task(self, task_id: str) -> models.Task:
        return models.Task.parse(self._json(self.request("GET", f"/tasks/{_seg(task_id)}")))

    def download(self, task: models.Task) -> bytes:
        """The task's original document, checked against the task's SHA-256."""
        if task.doc_size > MAX_DOCUMENT_BYTES:
            raise errors.ServerRefused(status=413, reason="too_large", reason_zh="文件过大", reason_en="file too large")
        data = self.request("GET", f"/tasks/{_seg(task.id)}/document").content
        if hashlib.sha256(data).hexdigest() != task.doc_sha256:
            raise errors.TaskDocumentMismatch(title=task.title)
        return data

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
        response = self.request("PUT", f"/tasks/{_seg(task_id)}/signed", content=data,
                                headers={"Content-Type": "application/pdf", "X-Content-SHA256": sha},
                                timeout=httpx.Timeout(max(60.0, self.timeout.read or 0), connect=self.timeout.connect))
        result = models.UploadResult.parse(self._json(response))
        if result.sha256 != sha or result.task_id != task_id:
            raise errors.ServerError(status=str(response.status_code), detail_zh="服务器确认的文件与上传的不符",
                                     detail_en="the server confirmed a different file")
        return result

    def reject(self, task_id: str, reason: str) -> models.Task:
        return models.Task.parse(self._json(self.request("POST", f"/tasks/{_seg(task_id)}/reject",
                                                         json={"reason": reason})))

    def events(self, since: int, wait: float = 0) -> models.Events:
        timeout = httpx.Timeout(wait + (self.timeout.read or 20.0), connect=self.timeout.connect)
        return models.Events.parse(self._json(self.request("GET", "/events", params={"since": since, "wait": wait},
                                                           timeout=timeout)))

    def seals(self) -> list[models.ServerSealRecord]:
        body = models._obj(self._json(self.request("GET", "/seals")), "seals")
        items = body.get("seals")
        if not isinstance(items, list):
            raise models._bad("seals")
        return [models.ServerSealRecord.parse(s) for s in items]

    def ticket(self, task_id: str) -> str:
        body = models._obj(self._json(self.request("POST", f"/tasks/{_seg(task_id)}/ticket", retry=False)), "ticket")
        return models._str(body, "ticket")

    def check_ticket(self, ticket: str) -> tuple[str, str]:
        """(task id, institution USCC) the ticket names; no login needed, the ticket is not used up."""
        body = models._obj(self._json(self.request("POST", "/tickets/check", retry=False, auth=False,
                                                   json={"ticket": ticket})), "ticket")
        task_id, uscc = body.get("task_id"), body.get("uscc")
        if not isinstance(task_id, str) or not isinstance(uscc, str):
            raise errors.ServerError(status=200, detail_zh="凭据检查的回答不完整", detail_en="the ticket check answer is incomplete")
        return task_id[:200], uscc[:64]

    def redeem(self, ticket: str) -> models.Task:
        body = models._obj(self._json(self.request("POST", "/tickets/redeem", retry=False,
                                                   json={"ticket": ticket})), "redeem")
        return models.Task.parse(body.get("task"))


def _seg(value: str) -> str:
    """A path segment, quoted (task ids come from the server; never trust them into a URL raw)."""
    return urllib.parse.quote(value, safe="")
