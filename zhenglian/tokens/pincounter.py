"""The client's own count of consecutive wrong PINs, per key serial.

PKCS#11 reports only COUNT_LOW / FINAL_TRY / LOCKED and no number; many
drivers report nothing.  So we count wrong tries ourselves, reset on success,
and combine the count with the flags (a flag wins when they disagree).  The
count is not secret; it is stored atomically under the data directory.
"""

from __future__ import annotations

import threading
from pathlib import Path

from zhenglian import paths
from zhenglian.fsutil import atomic_write_json, read_json

_lock = threading.Lock()


def _file() -> Path:
    return paths.data_dir() / "pin-tries.json"


def _key(serial: str, so: bool) -> str:
    return f"{'so' if so else 'user'}:{serial}"


def failures(serial: str, so: bool = False) -> int:
    with _lock:
        data = read_json(_file(), {})
    value = data.get(_key(serial, so), 0) if isinstance(data, dict) else 0
    return value if isinstance(value, int) and value >= 0 else 0


def _update(serial: str, so: bool, value: int | None) -> int:
    with _lock:
        data = read_json(_file(), {})
        if not isinstance(data, dict):
            data = {}
        k = _key(serial, so)
        if value is None:
            value = int(data.get(k, 0)) + 1
        if value:
            data[k] = value
        else:
            data.pop(k, None)
        atomic_write_json(_file(), data)
        return value


def record_failure(serial: str, so: bool = False) -> int:
    return _update(serial, so, None)


def record_locked(serial: str, max_tries: int, so: bool = False) -> None:
    _update(serial, so, max_tries)


def reset(serial: str, so: bool = False) -> None:
    if failures(serial, so):
        _update(serial, so, 0)
