"""The server session token, kept in the OS keyring (never the PIN).

Service ``zhenglian``, username ``<server origin>#<key serial>``: one token
per server and key, so two keys of two institutions on one computer do not
share a login.  The value is JSON ``{"token", "expires_at", "uscc"}``.

Where no keyring backend works (a headless Linux box, a locked-down
Windows profile) the token is kept in memory for this process only and the
log says so once; the user is then asked for the PIN again next time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

SERVICE = "zhenglian"
# A token this close to its expiry is treated as expired (no request starts
# with a token that dies on the way).
EXPIRY_MARGIN_S = 30


@dataclass(frozen=True)
class StoredToken:
    token: str = field(repr=False)
    expires_at: float
    uscc: str = ""

    def valid(self, now: float | None = None) -> bool:
        return (now or time.time()) < self.expires_at - EXPIRY_MARGIN_S


class TokenStore:
    """Get / put / delete tokens; keyring first, memory as the fallback."""

    def __init__(self, use_keyring: bool = True) -> None:
        self._memory: dict[str, StoredToken] = {}
        self._lock = threading.Lock()
        self._keyring_ok = use_keyring and self._probe()

    @staticmethod
    def username(origin: str, serial: str) -> str:
        return f"{origin}#{serial}"

    @property
    def persistent(self) -> bool:
        return self._keyring_ok

    def _probe(self) -> bool:
        try:
            import keyring
            from keyring.backends import fail

            backend = keyring.get_keyring()
        except Exception as exc:  # noqa: BLE001 - any keyring failure means "no keyring"
            self._no_keyring(type(exc).__name__)
            return False
        if isinstance(backend, fail.Keyring):
            self._no_keyring("no backend")
            return False
        return True

    def _no_keyring(self, why: str) -> None:
        log.warning("no usable keyring (%s): the signing-server login is kept in memory for this process only", why)
        self._keyring_ok = False

    def get(self, origin: str, serial: str) -> StoredToken | None:
        user = self.username(origin, serial)
        with self._lock:
            found = self._memory.get(user)
        if found is None and self._keyring_ok:
            try:
                import keyring

                raw = keyring.get_password(SERVICE, user)
            except Exception as exc:  # noqa: BLE001
                self._no_keyring(type(exc).__name__)
                raw = None
            found = _decode(raw)
            if found is not None:
                with self._lock:
                    self._memory[user] = found
        if found is not None and not found.valid():
            self.delete(origin, serial)
            return None
        return found

    def put(self, origin: str, serial: str, token: StoredToken) -> None:
        user = self.username(origin, serial)
        with self._lock:
            self._memory[user] = token
        if self._keyring_ok:
            try:
                import keyring

                keyring.set_password(SERVICE, user, json.dumps(
                    {"token": token.token, "expires_at": token.expires_at, "uscc": token.uscc}))
            except Exception as exc:  # noqa: BLE001
                self._no_keyring(type(exc).__name__)

    def delete(self, origin: str, serial: str) -> None:
        user = self.username(origin, serial)
        with self._lock:
            self._memory.pop(user, None)
        if self._keyring_ok:
            try:
                import keyring
                from keyring.errors import PasswordDeleteError

                try:
                    keyring.delete_password(SERVICE, user)
                except PasswordDeleteError:
                    pass
            except Exception as exc:  # noqa: BLE001
                self._no_keyring(type(exc).__name__)


def _decode(raw: str | None) -> StoredToken | None:
    if not raw:
        return None
    try:
        d = json.loads(raw)
        return StoredToken(str(d["token"]), float(d["expires_at"]), str(d.get("uscc", "")))
    except (ValueError, KeyError, TypeError):
        return None
