"""Logging to a rotating file under the data directory.

Nothing secret is ever logged: PINs are never passed to a logger (and are
never a ``str``: see zhenglian.tokens.secret), and error messages are built
from typed facts (see zhenglian.errors).  The redacting formatter below is a
second line of defence, applied to the whole formatted line (message,
arguments, traceback):

- bearer credentials by their shape (``Authorization: Bearer …``, JSON or
  form fields named token / ticket / access_token / password / pin …);
- values registered with :func:`register_secret` while they live: the bridge
  registers each sign request's ticket (zhenglian.bridge.protocol), a server
  session registers its token.  The registry is bounded (oldest dropped) and
  entries expire, so a long-running tray does not hoard old secrets.

A log file on a full disk must not turn into tracebacks on the operator's
terminal (``--- Logging error ---``): the file handler drops a record it
cannot write and counts it (:func:`dropped_records`).

The tray application opens its log file once its icon is shown
(:func:`hold` until then keeps the records, and :func:`setup` writes them
first): ``logging.handlers`` and what it imports are ≈ 5 ms of the icon's time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging.handlers

from zhenglian import paths

REDACTED = "[redacted]"
MIN_SECRET_LEN = 8  # shorter values would redact ordinary words
MAX_SECRETS = 256
SECRET_TTL_S = 24 * 3600.0

_secrets: OrderedDict[str, float] = OrderedDict()  # value -> expiry (monotonic)
_lock = threading.Lock()


@cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    """Credential shapes, whatever their value: the value group is replaced.

    Compiled at the first record, not at import: the tray imports this before its icon.
    """
    return (
        re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]{4,})"),
        re.compile(r"""(?i)(["']?\b(?:access_token|refresh_token|token|ticket|password|passwd|pin|user_pin|so_pin)\b["']?"""
                   r"""\s*[:=]\s*["']?)([^"'\s,&;}]{1,})"""),
    )


def register_secret(value: str, ttl_s: float = SECRET_TTL_S) -> None:
    """Redact ``value`` from every log line for ``ttl_s`` seconds (or until forgotten)."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
        return
    with _lock:
        _secrets.pop(value, None)
        _secrets[value] = time.monotonic() + ttl_s
        while len(_secrets) > MAX_SECRETS:
            _secrets.popitem(last=False)


def forget_secret(value: str) -> None:
    with _lock:
        _secrets.pop(value, None)


def _live_secrets() -> list[str]:
    now = time.monotonic()
    with _lock:
        for value in [v for v, exp in _secrets.items() if exp <= now]:
            del _secrets[value]
        # Longest first, so a secret that contains another is removed whole.
        return sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with registered secrets and credential-shaped values replaced."""
    for value in _live_secrets():
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern in _patterns():
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_dropped = [0]


@cache
def _quiet_handler_class() -> type[logging.handlers.RotatingFileHandler]:
    import logging.handlers

    class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
        """A rotating file that drops (and counts) what it cannot write, silently."""

        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
            _dropped[0] += 1
            # Close the stream: a half-written buffer would fail again at every record and at exit.
            try:
                if self.stream is not None:
                    self.stream.close()
            except Exception:  # noqa: BLE001 - ENOSPC again on close; nothing to report it to
                pass
            self.stream = None  # type: ignore[assignment]  # reopened by the next emit

    return QuietRotatingFileHandler


def __getattr__(name: str) -> Any:
    if name == "QuietRotatingFileHandler":  # made on first use: logging.handlers is not imported before
        return _quiet_handler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dropped_records() -> int:
    """How many log records could not be written (disk full, read-only) in this process."""
    return _dropped[0]


class _Held(logging.Handler):
    """Records kept until the log file is opened (a bounded number: the oldest are dropped)."""

    LIMIT = 200

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        del self.records[:-self.LIMIT]


_held: list[_Held] = []


def hold(level: str = "INFO") -> None:
    """Keep log records in memory until :func:`setup` opens the file (the tray, before its icon)."""
    root = logging.getLogger()
    if getattr(root, "_zhenglian", False) or _held:
        return
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    _held.append(_Held())
    root.addHandler(_held[0])


def setup(level: str = "INFO", to_file: bool = True) -> None:
    root = logging.getLogger()
    if getattr(root, "_zhenglian", False):
        return
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    fmt = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    held: list[logging.LogRecord] = []
    if _held:
        root.removeHandler(_held[0])
        held = _held.pop().records
    if to_file:
        handler: logging.Handler = _quiet_handler_class()(
            paths.log_dir() / "zhenglian.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
        for record in held:
            if record.levelno >= root.level:
                handler.handle(record)
    root._zhenglian = True  # type: ignore[attr-defined]


def open_log() -> None:
    """:func:`setup`, but a data directory that cannot be written does not stop the program."""
    try:
        setup()
    except OSError:
        pass
