"""The client's own count of consecutive wrong PINs, per key serial.

PKCS#11 reports only COUNT_LOW / FINAL_TRY / LOCKED and no number; many
drivers report nothing.  So we count wrong tries ourselves, reset on success,
and combine the count with the flags (a flag wins when they disagree, see
:class:`zhenglian.tokens.pin.PinStatus`).

We also remember what a key's driver showed right after a wrong PIN
(``reports``): ``"none"`` (no flag at all), ``"low"`` (COUNT_LOW only, like
SoftHSM) or ``"full"`` (FINAL_TRY / LOCKED too).  A key known to report its
failures that shows none has been reset elsewhere (right PIN in the vendor's
client, or unlocked at the CA's counter): then its flags win over our count.

The count is not secret; it is stored atomically under the data directory,
behind a thread lock and an OS file lock, so the tray app and a command line
running at the same time do not lose a count.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from zhenglian import paths
from zhenglian.fsutil import atomic_write_json, locked, read_json
from zhenglian.tokens.flags import (
    CKF_SO_PIN_COUNT_LOW,
    CKF_SO_PIN_FINAL_TRY,
    CKF_SO_PIN_LOCKED,
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_LOCKED,
)

log = logging.getLogger(__name__)

_LEVELS = ("none", "low", "full")


def _file() -> Path:
    return paths.data_dir() / "pin-tries.json"


def _locked() -> contextlib.AbstractContextManager[None]:
    return locked(_file(), _file().with_suffix(".lock"))  # the lock file earlier versions take too


def _read() -> dict[str, Any]:
    try:
        data = read_json(_file(), {})
    except (ValueError, OSError) as exc:
        # A damaged file must not stop the client; start counting afresh.
        log.warning("PIN try counter file unreadable (%s); starting from zero", type(exc).__name__)
        return {}
    return data if isinstance(data, dict) else {}


def _key(serial: str, so: bool) -> str:
    return f"{'so' if so else 'user'}:{serial}"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def failures(serial: str, so: bool = False) -> int:
    with _locked():
        return _int(_read().get(_key(serial, so)))


def reports(serial: str) -> str | None:
    """What this key's driver showed after a wrong PIN: None (not seen yet), none, low or full."""
    with _locked():
        value = _read().get(f"reports:{serial}")
    return value if value in _LEVELS else None


def _update(serial: str, so: bool, value: int | None) -> int:
    with _locked():
        data = _read()
        k = _key(serial, so)
        if value is None:
            value = _int(data.get(k)) + 1
        if value:
            data[k] = value
        else:
            data.pop(k, None)
        atomic_write_json(_file(), data)
        return value


def record_failure(serial: str, so: bool = False) -> int:
    return _update(serial, so, None)


def record_locked(serial: str, max_tries: int, so: bool = False) -> None:
    if failures(serial, so) < max_tries:
        _update(serial, so, max_tries)


def reset(serial: str, so: bool = False) -> None:
    if failures(serial, so):
        _update(serial, so, 0)


def learn(serial: str, flags_raw: int, so: bool = False) -> str:
    """Note what the key reported right after a wrong PIN; the level only goes up."""
    if so:
        full, low = CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED, CKF_SO_PIN_COUNT_LOW
    else:
        full, low = CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED, CKF_USER_PIN_COUNT_LOW
    seen = "full" if flags_raw & full else "low" if flags_raw & low else "none"
    with _locked():
        data = _read()
        k = f"reports:{serial}"
        old = data.get(k)
        if old in _LEVELS and _LEVELS.index(old) >= _LEVELS.index(seen):
            return str(old)
        data[k] = seen
        atomic_write_json(_file(), data)
        return seen
