"""The server session token, kept in the OS keyring (never the PIN).

Service ``zhenglian``, username ``<server origin>#<key serial>``: one token
per server and key, so two keys of two institutions on one computer do not
share a login.  The value is JSON ``{"token", "expires_at", "uscc"}``.

Where no keyring backend works (a headless Linux box, a locked-down
Windows profile) the token is kept in memory for this process only and the
log says so once; the user is then asked for the PIN again next time.

The tray app reads with ``TokenStore(isolated=True)``: on Linux the read runs in a
short-lived child (:mod:`zhenglian.selfexec`, :func:`main` below), because the
keyring's Secret Service client loads D-Bus code and cryptography (≈ 8 MB) that the
tray, idling for hours, would keep for that one read.  Writing and deleting stay in
the process (they follow a login or a key removal, when much more is loaded anyway);
a key whose read found nothing is not deleted again at quit.  If the child cannot
run, the read happens here.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from zhenglian import selfexec

log = logging.getLogger(__name__)

SERVICE = "zhenglian"
READ_FLAG = "--read-keyring-token"  # argv[1] of a packaged build (zhenglian.selfexec)
# The desktop may ask the user to unlock the keyring before it answers.
READ_TIMEOUT_S = 120.0
MAX_ANSWER = 64 * 1024
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

    def __init__(self, use_keyring: bool = True, *, isolated: bool = False) -> None:
        self._memory: dict[str, StoredToken] = {}
        self._absent: set[str] = set()  # read in a child and found nothing
        self._lock = threading.Lock()
        # Linux only: the other platforms' keyring backends are thin (Windows' credential
        # store, macOS's keychain through ctypes).
        self._isolated = use_keyring and isolated and sys.platform.startswith("linux")
        # The child probes for itself; its answer says whether there is a keyring.
        self._keyring_ok = use_keyring and (self._isolated or self._probe())

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
            absent = user in self._absent
        if found is None and self._keyring_ok and not absent:
            found = _decode(self._read_isolated(user) if self._isolated else self._read(user))
            if found is not None:
                with self._lock:
                    self._memory[user] = found
        if found is not None and not found.valid():
            self.delete(origin, serial)
            return None
        return found

    def _read(self, user: str) -> str | None:
        try:
            import keyring

            return keyring.get_password(SERVICE, user)
        except Exception as exc:  # noqa: BLE001
            self._no_keyring(type(exc).__name__)
            return None

    def _read_isolated(self, user: str) -> str | None:
        """The stored value through a child process (see the module's docstring)."""
        try:
            proc = selfexec.run(READ_FLAG, [user], READ_TIMEOUT_S)
            answer = json.loads(proc.stdout[-MAX_ANSWER:].decode("utf-8").strip().splitlines()[-1])
            keyring_ok, value = bool(answer["keyring"]), answer.get("value")
        except subprocess.TimeoutExpired:
            log.info("the keyring did not answer within %.0f s: the signing-server login is asked again",
                     READ_TIMEOUT_S)
            return None
        except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError):
            log.info("reading the keyring in a child failed; reading it here")
            self._isolated = False
            self._keyring_ok = self._probe()
            return self._read(user) if self._keyring_ok else None
        if not keyring_ok:
            self._no_keyring("none in the reading child")
            return None
        if value is None:
            with self._lock:
                self._absent.add(user)
            return None
        return value if isinstance(value, str) else None

    def put(self, origin: str, serial: str, token: StoredToken) -> None:
        user = self.username(origin, serial)
        with self._lock:
            self._memory[user] = token
            self._absent.discard(user)
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
            absent = user in self._absent
        if self._keyring_ok and not absent:
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


def main(argv: list[str] | None = None) -> int:
    """The child of :meth:`TokenStore._read_isolated`: one read, the answer on fd 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m zhenglian.server.tokenstore ORIGIN#SERIAL", file=sys.stderr)
        return 2
    store = TokenStore()
    value = store._read(args[0]) if store.persistent else None
    selfexec.write_answer(json.dumps({"keyring": store.persistent, "value": value}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
