"""One loaded PKCS#11 library, owned by one object, behind one lock.

Modules are initialised with ``C_Initialize(NULL)``: the library may assume
one thread at a time, so every call goes through :attr:`Pkcs11Module.lock`.
Long users (a signing batch) hold the lock for their session; the hot-plug
watcher only *tries* the lock and skips a busy module, so it never disturbs a
session in use.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zhenglian import errors
from zhenglian.pki.cert import parse as parse_cert
from zhenglian.tokens import ckr, p11raw, probe
from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.model import KeyCert

log = logging.getLogger(__name__)


def _pkcs11() -> Any:
    import pkcs11

    return pkcs11


def translate(exc: BaseException, path: str = "") -> errors.ZhenglianError:
    """A python-pkcs11 exception as a typed error (the one CKR table, :mod:`zhenglian.tokens.ckr`)."""
    return ckr.from_exception(exc, where=path)


def _token_text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip().rstrip("\x00").strip()


def _has_get_function_list(path: Path) -> bool:
    """Open the file with the OS loader and look for the PKCS#11 entry point.

    python-pkcs11 would crash calling a NULL entry point, so check first.
    """
    try:
        handle = ctypes.CDLL(str(path))
    except OSError as exc:
        raise errors.DriverInvalid(path=str(path), detail=_short_os_error(exc)) from None
    return hasattr(handle, "C_GetFunctionList")


def _identity(path: Path) -> str:
    """Identity of a module file: its resolved path (case-folded on Windows)."""
    try:
        resolved = str(path.resolve())
    except OSError:
        resolved = str(path)
    return resolved.lower() if os.name == "nt" else resolved


def _short_os_error(exc: OSError) -> str:
    text = str(exc)
    return text.split(": ")[-1][:120] if text else type(exc).__name__


_STALE_KEY = {0x60, 0x82}  # CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID


class _Library:
    """What is process-wide about a library file: python-pkcs11 loads it once per
    process, so every :class:`Pkcs11Module` of that file (one per TokenManager:
    tray, bridge, a CLI command) shares the handle, the lock and the session count."""

    _all: dict[str, _Library] = {}
    _all_lock = threading.Lock()

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.lib: Any = None
        self.sessions_open = 0

    @classmethod
    def of(cls, path: Path) -> _Library:
        key = _identity(path)
        with cls._all_lock:
            lib = cls._all.get(key)
            if lib is None:
                lib = cls._all[key] = cls()
            return lib


class Pkcs11Module:
    """A PKCS#11 module file as one TokenManager sees it (which manifests claim it),
    over the process-wide library (:class:`_Library`); a :class:`~zhenglian.keys.backend.KeyBackend`."""

    kind = "pkcs11"

    def __init__(self, path: Path, claimed_by: tuple[str, ...], rescan: str = "slotlist",
                 env: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.claimed_by = claimed_by
        self.rescan = rescan
        self.env = env or {}
        self._library = _Library.of(self.path)
        self.lock = self._library.lock
        self.error: errors.DriverError | None = None
        # (id of the open session, its handle, CKA_ID) → private key handle, for that session's
        # life: a USB key answers C_FindObjects over the bus, once per signature otherwise.
        self._key_handles: dict[tuple[int, int, bytes], int] = {}

    @property
    def _lib(self) -> Any:
        return self._library.lib

    @_lib.setter
    def _lib(self, value: Any) -> None:
        self._library.lib = value

    @property
    def _sessions_open(self) -> int:
        return self._library.sessions_open

    @_sessions_open.setter
    def _sessions_open(self, value: int) -> None:
        self._library.sessions_open = value

    @property
    def loaded(self) -> bool:
        return self._lib is not None

    @property
    def busy(self) -> bool:
        return self._sessions_open > 0

    def library_info(self) -> dict[str, object]:
        if not self._lib:
            return {}
        return {
            "manufacturer": _token_text(self._lib.manufacturer_id),
            "description": _token_text(self._lib.library_description),
            "cryptoki_version": ".".join(map(str, self._lib.cryptoki_version)),
            "library_version": ".".join(map(str, self._lib.library_version)),
        }

    def load(self) -> None:
        """Load and initialise the library once.  Raises a DriverError subtype."""
        with self.lock:
            if self._lib is not None:
                return
            try:
                self._lib = self._load()
                self.error = None
            except errors.DriverError as exc:
                self.error = exc
                raise

    def _load(self) -> Any:
        path = self.path
        if not path.is_file():
            raise errors.DriverMissing(path=str(path))
        from zhenglian.tokens.skf.libkind import architecture_problem

        problem = architecture_problem(path)  # a 32-bit DLL in a 64-bit process: say so, not "invalid"
        if problem is not None:
            raise problem
        for key, value in self.env.items():
            if key not in os.environ and Path(value).exists():
                os.environ[key] = value
        probe.check_module(path)  # in a child process first: a broken driver must not crash us
        if not _has_get_function_list(path):
            raise errors.DriverInvalid(path=str(path), detail="没有 C_GetFunctionList / no C_GetFunctionList")
        p = _pkcs11()
        try:
            return p.lib(str(path))
        except p.PKCS11Error as exc:
            text = str(exc)
            if "loading" in text:
                raise errors.DriverInvalid(path=str(path), detail=type(exc).__name__) from None
            raise errors.DriverInitFailed(path=str(path), detail=type(exc).__name__) from None

    def refresh(self) -> bool:
        """Make the library see keys inserted since the last look.

        Returns False (and does nothing) when a session is in use: for
        modules that need ``C_Finalize``/``C_Initialize`` that would close it.
        """
        if self._lib is None:
            return False
        if self.rescan != "reinitialize":
            return True
        if self.busy:
            return False
        try:
            self._lib.reinitialize()
        except _pkcs11().PKCS11Error as exc:
            raise errors.DriverInitFailed(path=str(self.path), detail=type(exc).__name__) from None
        return True

    def present_tokens(self) -> list[tuple[int, Any]]:
        """(slot id, token) for each initialised token present now."""
        p = _pkcs11()
        out = []
        try:
            slots = self._lib.get_slots(token_present=True)
        except p.PKCS11Error as exc:
            raise translate(exc, str(self.path)) from None
        for slot in slots:
            try:
                token = slot.get_token()
            except (p.TokenNotPresent, p.TokenNotRecognised, p.DeviceRemoved, p.SlotIDInvalid):
                continue  # pulled out between the two calls
            except p.PKCS11Error as exc:
                # SoftHSM answers CKR_GENERAL_ERROR for a token deleted under it; a
                # vendor driver may do the same mid-removal: not there any more.
                log.info("slot %s unreadable (%s): skipped", slot.slot_id, type(exc).__name__)
                continue
            if not TokenFlags(int(token.flags)).initialized:
                continue  # SoftHSM's spare slot, or a blank key
            out.append((slot.slot_id, token))
        return out

    @staticmethod
    def token_facts(token: Any) -> dict[str, object]:
        return {
            "label": _token_text(token.label),
            "serial": _token_text(token.serial),
            "manufacturer": _token_text(token.manufacturer_id),
            "model": _token_text(token.model),
            "flags": TokenFlags(int(token.flags)),
        }

    def find_token(self, serial: str) -> tuple[int, Any]:
        for slot_id, token in self.present_tokens():
            if _token_text(token.serial) == serial:
                return slot_id, token
        raise errors.NoKey(serial)

    @contextmanager
    def session(self, serial: str, rw: bool = False) -> Iterator[Any]:
        """Open a session on the key with this serial, holding the module lock.

        No login here: PIN handling lives in :mod:`zhenglian.tokens.pin`.
        """
        p = _pkcs11()
        with self.lock:
            _, token = self.find_token(serial)
            try:
                session = token.open(rw=rw)
            except p.PKCS11Error as exc:
                raise translate(exc, str(self.path)) from None
            self._sessions_open += 1
            try:
                yield session
            except p.PKCS11Error as exc:
                raise translate(exc, str(self.path)) from None
            finally:
                self._sessions_open -= 1
                self._forget_keys(session)
                try:
                    session.close()
                except p.PKCS11Error:
                    pass  # the key is gone; nothing left to close

    # --- PIN state and signing (raw calls: python-pkcs11 cannot name vendor mechanisms) ---

    def raw(self) -> p11raw.RawPinCalls:
        return p11raw.RawPinCalls.for_module(self.path)

    def flags(self, serial: str) -> TokenFlags:
        """The key's flags now (a fresh C_GetTokenInfo), not a cached listing."""
        with self.lock:
            _, token = self.find_token(serial)
            return TokenFlags(int(token.flags))

    def pin_length_range(self, serial: str) -> tuple[int, int] | None:
        """(min, max) PIN length the key reports (C_GetTokenInfo), or None."""
        try:
            with self.lock:
                slot_id, _ = self.find_token(serial)
                rv, info = self.raw().token_info(slot_id)
        except (OSError, AttributeError):
            return None
        return (int(info.ulMinPinLen), int(info.ulMaxPinLen)) if rv == p11raw.CKR_OK else None

    def tries_left(self, serial: str, so: bool = False) -> int | None:
        """PKCS#11 gives no count (only flags): None.  SKF keys say exactly."""
        return None

    # PIN calls: CKR codes back (tokens.pin turns them into errors, counting tries).
    def login(self, session: Any, user_type: int, pin: bytearray | None) -> int:
        return self.raw().login(session.handle, user_type, pin)

    def logout(self, session: Any) -> int:
        return self.raw().logout(session.handle)

    def set_pin(self, session: Any, old: bytearray, new: bytearray) -> int:
        return self.raw().set_pin(session.handle, old, new)

    def init_pin(self, session: Any, new: bytearray) -> int:
        return self.raw().init_pin(session.handle, new)

    def mechanisms(self, serial: str) -> list[int]:
        """C_GetMechanismList of the key's slot; [] when the module cannot say."""
        with self.lock:
            slot_id, _ = self.find_token(serial)
            try:
                return self.raw().mechanisms(slot_id)
            except p11raw.RawCallError as exc:
                log.info("%s: no mechanism list (%s)", self.path.name, ckr.name(exc.rv))
                return []

    def sign_raw(self, session: Any, cka_id: bytes, mechanism: int, data: bytes) -> bytes:
        """C_SignInit/C_Sign with the private key of this CKA_ID on a logged-in session."""
        with self.lock:
            raw = self.raw()
            slot = (id(session), int(session.handle), bytes(cka_id))
            try:
                key = self._key_handles.get(slot)
                if key is not None:
                    try:
                        return raw.sign(session.handle, key, mechanism, data)
                    except p11raw.RawCallError as exc:
                        if exc.function != "C_SignInit" or exc.rv not in _STALE_KEY:
                            raise
                        self._key_handles.pop(slot, None)  # the handle went stale: look it up again
                key = raw.find_private_key(session.handle, cka_id)
                self._key_handles[slot] = key
                return raw.sign(session.handle, key, mechanism, data)
            except p11raw.RawCallError as exc:
                if exc.rv in (0x020, 0x021):  # CKR_DATA_INVALID / _LEN_RANGE: the input does not fit this mechanism
                    raise errors.MechanismUnsupported(mechanism=f"{mechanism:#x}: {ckr.name(exc.rv)}") from None
                raise ckr.error_for(exc.rv, where=exc.function) from None

    def key_ops(self, handle: Any) -> Any:
        """The renewal's key work over python-pkcs11 (:class:`zhenglian.lifecycle.keyops.Pkcs11KeyOps`)."""
        from zhenglian.lifecycle.keyops import Pkcs11KeyOps

        return Pkcs11KeyOps(handle)

    def _forget_keys(self, session: Any) -> None:
        for slot in [k for k in self._key_handles if k[0] == id(session)]:
            del self._key_handles[slot]

    def read_certificates(self, session: Any) -> list[KeyCert]:
        """Certificates on the key, each paired with its key by CKA_ID."""
        p = _pkcs11()
        A, O = p.Attribute, p.ObjectClass  # noqa: N806, E741
        certs: list[KeyCert] = []
        pubkeys: dict[bytes, bytes] = {}
        privs: set[bytes] = set()
        for obj in session.get_objects({A.CLASS: O.PUBLIC_KEY}):
            try:
                pubkeys[bytes(obj[A.ID])] = _public_key_material(obj, A)
            except p.PKCS11Error:
                continue
        for obj in session.get_objects({A.CLASS: O.PRIVATE_KEY}):
            try:
                privs.add(bytes(obj[A.ID]))
            except p.PKCS11Error:
                continue
        for obj in session.get_objects({A.CLASS: O.CERTIFICATE}):
            try:
                der = bytes(obj[A.VALUE])
                cka_id = bytes(obj[A.ID])
                label = _token_text(obj[A.LABEL])
            except p.PKCS11Error:
                continue
            try:
                info = parse_cert(der)
            except (ValueError, TypeError) as exc:
                log.warning("unreadable certificate object on key: %s", type(exc).__name__)
                continue
            paired: bool | None
            if cka_id in privs:
                paired = True
            elif cka_id in pubkeys:
                paired = _same_key(pubkeys[cka_id], der)
            else:
                paired = None
            certs.append(KeyCert(info=info, cka_id=cka_id, label=label, paired=paired))
        return certs


def _public_key_material(obj: Any, A: Any) -> bytes:  # noqa: N803
    """RSA modulus or EC point of a public key object, for comparison."""
    p = _pkcs11()
    try:
        return bytes(obj[A.MODULUS])
    except p.PKCS11Error:
        pass
    try:
        return bytes(obj[A.EC_POINT])
    except p.PKCS11Error:
        return b""


def _same_key(material: bytes, cert_der: bytes) -> bool | None:
    from asn1crypto import core, x509

    if not material:
        return None
    pub = x509.Certificate.load(cert_der).public_key
    if pub.algorithm == "rsa":
        modulus = pub["public_key"].parsed["modulus"].native
        return int.from_bytes(material, "big") == modulus
    if pub.algorithm == "ec":
        point = pub["public_key"].native
        if material == point:
            return True
        try:
            return core.OctetString.load(material).native == point
        except ValueError:
            return False
    return None
