"""What the page and the bridge agree on: ports, limits, origins, the sign request.

Ports: the service listens on ``settings.bridge_port`` (default 21881) or, when
that is taken, on the first free one of :data:`FALLBACK_PORTS`.  The page's
script knows the same list (zhenglian/reference/server/web_static/app.js)
and asks each in turn.

Origins: a page may use the bridge only when its origin (scheme, host, port)
is one of the signing systems configured in the settings —
``allowed_origins`` plus the origin of ``server_url``.  The same set bounds
the ``server`` a page may name in a sign request, so a page can never point
the client at a server of its choosing.  Plain-http origins count only on
this machine (127.0.0.1 / localhost), like the server client itself.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zhenglian import errors, logsetup

log = logging.getLogger(__name__)

API_VERSION = 1
DEFAULT_PORT = 21881
FALLBACK_PORTS = (21882, 21883, 21884)
BIND_HOST = "127.0.0.1"

MAX_BODY_BYTES = 4096  # a sign request is a few hundred bytes
MAX_CONNECTIONS = 16  # handler threads at once; more connections are closed at once
SOCKET_TIMEOUT_S = 5.0  # a client that stalls mid-request is dropped
REQUESTS_PER_S = 30.0  # all requests together (page polling is ≈2/s)
REQUEST_BURST = 60
SIGNS_PER_MIN = 10.0  # sign requests (each may open a dialog in the client)
SIGN_BURST = 5
TICKET_LOG_TTL_S = 3600.0  # a ticket is redeemed within minutes; its log redaction outlives it

_ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
_TASK_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")
_TICKET_RE = re.compile(r"^[A-Za-z0-9._~-]{8,512}$")
_USCC_RE = re.compile(r"^[0-9A-Z]{18}$")
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def ports_to_try(configured: int) -> list[int]:
    """The configured port first, then the fixed fallbacks (no duplicates, valid ports only)."""
    out: list[int] = []
    for p in (configured, *FALLBACK_PORTS):
        if isinstance(p, int) and 1024 <= p <= 65535 and p not in out:
            out.append(p)
    return out


def parse_origin(value: str | None) -> str | None:
    """A browser's ``Origin`` header as ``scheme://host[:port]`` (default port dropped); None if not one.

    ``null`` (sandboxed frames, file:) and anything with a path, user or
    query is not an origin a page can be allowed from.
    """
    if not value or len(value) > 300:
        return None
    m = _ORIGIN_RE.match(value.strip().lower())
    if m is None:
        return None
    scheme, host, port = m.group(1), m.group(2), m.group(3)
    if port is not None:
        n = int(port)
        if not 0 < n <= 65535:
            return None
        if n != {"http": 80, "https": 443}[scheme]:
            return f"{scheme}://{host}:{n}"
    return f"{scheme}://{host}"


def server_origin(url: str) -> tuple[str, str]:
    """(base URL, origin) of a signing-server address, as the server client sees it."""
    from zhenglian.server.api import normalise_url

    return normalise_url(url)


_warned: set[str] = set()


def allowed_origins(configured: Iterable[str], server_url: str = "") -> frozenset[str]:
    """The origins of the configured signing systems (invalid or remote-http entries are skipped)."""
    out: set[str] = set()
    for entry in [*configured, server_url]:
        if not isinstance(entry, str) or not entry.strip():
            continue
        try:
            _, origin = server_origin(entry)
        except errors.ZhenglianError as exc:
            if entry not in _warned:  # said once per entry, not at every request
                _warned.add(entry)
                log.warning("allowed origin %r ignored: %s", entry[:100], exc.code)
            continue
        parsed = parse_origin(origin)
        if parsed:
            out.add(parsed)
    return frozenset(out)


class Policy:
    """The allow-list, read from the settings at each request (the settings dialog may change it)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def origins(self) -> frozenset[str]:
        return allowed_origins(list(self.settings.allowed_origins or []), self.settings.server_url or "")

    def is_allowed(self, origin: str | None) -> bool:
        return origin is not None and origin in self.origins()


def host_ok(host: str | None, port: int) -> bool:
    """The Host header names this service: 127.0.0.1:PORT or localhost:PORT, nothing else.

    A page on a rebound DNS name (evil.example → 127.0.0.1) sends its own
    name here and is refused, whatever its Origin.
    """
    if not host:
        return False
    return host.strip().lower() in (f"127.0.0.1:{port}", f"localhost:{port}")


def job_id_ok(value: str) -> bool:
    return bool(_JOB_ID_RE.match(value))


@dataclass(frozen=True)
class SignRequest:
    """A validated ``POST /v1/sign`` body, with the page's origin."""

    origin: str  # the requesting page
    server: str  # base URL of the signing server
    server_origin: str
    task_id: str
    ticket: str = ""
    institution: str | None = None  # the USCC the page is logged in as (a hint for choosing the key)

    def __post_init__(self) -> None:
        # The ticket is a bearer secret: redacted from every log line while it can be redeemed.
        logsetup.register_secret(self.ticket, ttl_s=TICKET_LOG_TTL_S)

    def __repr__(self) -> str:  # the ticket is a bearer secret: keep it out of logs
        return f"SignRequest(origin={self.origin!r}, server={self.server_origin!r}, task_id={self.task_id!r})"


_FIELDS = {"server", "taskId", "ticket", "institution"}


def parse_sign_request(body: bytes, origin: str, allowed: frozenset[str]) -> SignRequest:
    """Validate the JSON body; BridgeBadRequest / BridgeServerNotAllowed otherwise."""

    def bad(zh: str, en: str) -> errors.BridgeBadRequest:
        return errors.BridgeBadRequest(detail_zh=zh, detail_en=en)

    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("不是有效的 JSON", "not valid JSON") from None
    if not isinstance(data, dict):
        raise bad("应为 JSON 对象", "a JSON object is expected")
    unknown = set(data) - _FIELDS
    if unknown:
        name = sorted(str(k) for k in unknown)[0][:40]
        raise bad(f"未知字段 {name}", f"unknown field {name}")
    server, task_id, ticket = data.get("server"), data.get("taskId"), data.get("ticket")
    institution = data.get("institution")
    if not isinstance(server, str) or not 0 < len(server) <= 2048:
        raise bad("缺少 server", "server is missing")
    if not isinstance(task_id, str) or not _TASK_ID_RE.match(task_id):
        raise bad("taskId 无效", "taskId is invalid")
    if not isinstance(ticket, str) or not _TICKET_RE.match(ticket):
        raise bad("ticket 无效", "ticket is invalid")
    if institution is not None and (not isinstance(institution, str) or not _USCC_RE.match(institution)):
        raise bad("institution 应为 18 位统一社会信用代码", "institution must be an 18-character USCC")
    shown = urllib.parse.quote(server[:200], safe=":/.-_~")
    try:
        base, s_origin = server_origin(server)
    except errors.ZhenglianError:
        raise errors.BridgeServerNotAllowed(server=shown) from None
    parts = urllib.parse.urlsplit(base)
    if parts.query or parts.fragment or parts.username or parts.password or parse_origin(s_origin) not in allowed:
        raise errors.BridgeServerNotAllowed(server=shown)
    return SignRequest(origin=origin, server=base, server_origin=s_origin, task_id=task_id, ticket=ticket,
                       institution=institution)
