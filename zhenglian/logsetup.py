"""Logging to a rotating file under the data directory.

Nothing secret is ever logged: PINs are never passed to a logger, and error
messages are built from typed facts (see zhenglian.errors).  The redacting
filter below is a second line of defence for values registered as secret
while they are in use.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading

from zhenglian import paths

_secrets: set[str] = set()
_lock = threading.Lock()


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        text = record.getMessage()
        with _lock:
            hit = any(s and s in text for s in _secrets)
        if hit:
            record.msg = "[redacted: message contained a secret]"
            record.args = ()
        return True


def register_secret(value: str) -> None:
    with _lock:
        _secrets.add(value)


def forget_secret(value: str) -> None:
    with _lock:
        _secrets.discard(value)


def setup(level: str = "INFO", to_file: bool = True) -> None:
    root = logging.getLogger()
    if getattr(root, "_zhenglian", False):
        return
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if to_file:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_dir() / "zhenglian.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        handler.addFilter(_Redact())
        root.addHandler(handler)
    root._zhenglian = True  # type: ignore[attr-defined]
