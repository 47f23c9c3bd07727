"""An SKF (GM/T 0016) library as a :class:`~zhenglian.keys.backend.KeyBackend`.

The layers above (``tokens.pin``, ``keys.session``, the manager and the
watcher) speak PKCS#11 words; this adapter maps SKF onto them, thinly:

* a *token* is an SKF device, named by the serial in its ``DEVINFO``; a
  *session* is a connection to the device with its application opened
  (:class:`SkfSession`);
* certificates come from the application's containers: ``cka_id`` is the
  container name (UTF-8), the signing certificate is paired with its
  container's sign key (checked against ``SKF_ExportPublicKey``), an
  encryption certificate is never a signing candidate (``paired`` False);
  a CA certificate in a container of its own (as some CAs ship the chain)
  is a chain candidate like a CA object on a PKCS#11 key;
* PIN calls return the CKR codes ``tokens.pin`` understands
  (``SAR_PIN_INCORRECT`` → ``CKR_PIN_INCORRECT`` …); other failures raise the
  typed SKF error.  ``tries_left`` is exact, from ``SKF_GetPINInfo``;
* unlocking is ``SKF_UnblockPIN(admin PIN, new PIN)``: the admin PIN given
  at ``login(so)`` is kept in a wipeable copy on the session for the
  ``init_pin`` that follows, and wiped by it, by ``logout`` or when the
  session closes, whichever comes first;
* signing: SM2 keys sign e = SM3(Z‖M) (``SKF_ECCSignData``, r‖s out) under
  the pseudo mechanism :data:`MECH_SKF_SM2_E`; RSA keys sign a DigestInfo
  (``SKF_RSASignData``), which is exactly ``CKM_RSA_PKCS``.  Every signature
  is still checked against the certificate by ``keys.session``.

Which application of a device: the one holding a container with a signing
certificate (most keys have one application), else the first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import errors
from zhenglian.keys.mechanisms import CKM_RSA_PKCS
from zhenglian.keys.sm2mech import MECH_SKF_SM2_E
from zhenglian.pki.cert import parse as parse_cert
from zhenglian.tokens import flags as f
from zhenglian.tokens import p11raw
from zhenglian.tokens.model import KeyCert
from zhenglian.tokens.skf.flags import token_flags
from zhenglian.tokens.skf.library import (
    DeviceInfo,
    EccPublicKey,
    PinInfo,
    RsaPublicKey,
    SkfApplication,
    SkfDevice,
    SkfLibrary,
)

log = logging.getLogger(__name__)

MAX_DEVICES = 32  # a name list longer than this is not a list of plugged-in keys
MAX_CONTAINERS = 64
CKR_FUNCTION_FAILED = 0x06


@dataclass(frozen=True)
class SkfToken:
    """What present_tokens reports for one device: its DEVINFO and PIN flags at that moment."""

    info: DeviceInfo
    flags: f.TokenFlags
    tries_left: int | None  # the user PIN's remaining tries, as the key says


@dataclass(eq=False)
class SkfSession:
    """An open device connection and application (the backend's opaque session)."""

    serial: str
    device: SkfDevice
    app: SkfApplication
    backend: SkfBackend
    admin_pin: bytearray | None = field(default=None, repr=False)
    logged_in: bool = False

    def wipe_admin_pin(self) -> None:
        pin, self.admin_pin = self.admin_pin, None
        if pin is not None:
            for i in range(len(pin)):
                pin[i] = 0

    # Seals as PKCS#11 data objects (CKO_DATA) do not exist on an SKF key; the seals
    # layer asks through this, and gets none (seals from the server or files still apply).
    def get_objects(self, template: Any = None) -> list[Any]:
        return []


class _Shared:
    """Process-wide per library file: one SkfLibrary, one lock, the sessions open now and the
    application chosen per device (every TokenManager of the process — tray, bridge — shares it)."""

    _all: dict[str, _Shared] = {}
    _all_lock = threading.Lock()

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.lib: SkfLibrary | None = None
        self.sessions_open = 0
        self.apps: dict[str, str] = {}  # serial -> application name chosen
        self.open: dict[str, SkfSession] = {}  # serial -> the session open now (flags read through it)
        self.events: Any = None  # the DeviceEventHub of the library, made on first use

    @classmethod
    def of(cls, key: str) -> _Shared:
        with cls._all_lock:
            shared = cls._all.get(key)
            if shared is None:
                shared = cls._all[key] = cls()
            return shared


def _identity(path: Path) -> str:
    from zhenglian.tokens.module import _identity as ident

    return ident(path)


def _remaining(app: SkfApplication, so: bool) -> int | None:
    """The key's count of tries left; for the SO PIN, None (unknown: status falls back to the flags)
    when the library refuses to answer, as ``_pin_state`` tolerates it.

    Only a plain SAR failure (SkfError, e.g. SAR_NOTSUPPORTYETERR) is tolerated: a key pulled out
    (TokenRemoved) or gone (SkfObjectMissing) still propagates.
    """
    try:
        return app.pin_info(admin=so).remaining
    except errors.SkfError as exc:
        if not so:
            raise
        log.info("SKF_GetPINInfo refused for the SO PIN (%s): its tries left are unknown",
                 exc.facts.get("sar_name", "?"))
        return None


class SkfBackend:
    """One SKF library file as a key backend (see the module docstring)."""

    kind = "skf"

    def __init__(self, path: Path, claimed_by: tuple[str, ...] = (), rescan: str = "slotlist",
                 env: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.claimed_by = claimed_by
        self.rescan = rescan
        self.env = env or {}
        self._shared = _Shared.of(_identity(self.path))
        self.lock = self._shared.lock
        self.error: errors.DriverError | None = None
        self._apps = self._shared.apps
        self._open = self._shared.open

    # --- loading -------------------------------------------------------------

    @property
    def lib(self) -> SkfLibrary:
        lib = self._shared.lib
        if lib is None:
            raise errors.DriverInitFailed(path=str(self.path), detail="not loaded")
        return lib

    @property
    def loaded(self) -> bool:
        return self._shared.lib is not None

    @property
    def busy(self) -> bool:
        return self._shared.sessions_open > 0

    def load(self) -> None:
        """Load the library once (architecture, exports and functions checked by SkfLibrary)."""
        with self.lock:
            if self._shared.lib is not None:
                return
            for key, value in self.env.items():  # [modules.env]: only when unset and the target exists
                if key not in os.environ and Path(value).exists():
                    os.environ[key] = value
            try:
                self._shared.lib = SkfLibrary(self.path)
                self.error = None
            except errors.DriverError as exc:
                self.error = exc
                raise

    def refresh(self) -> bool:
        return self.loaded  # SKF_EnumDev sees insertions by itself

    def device_events(self) -> Any:
        """The library's :class:`~zhenglian.tokens.skf.events.DeviceEventHub`, or None when it has no
        usable SKF_WaitForDevEvent/SKF_CancelWaitForDevEvent (then the watcher polls it)."""
        from zhenglian.tokens.skf.events import DeviceEventHub

        with self.lock:
            lib = self._shared.lib
            if lib is None or not lib.supports_wait:
                return None
            if self._shared.events is None:
                self._shared.events = DeviceEventHub(lib)
            return self._shared.events

    def library_info(self) -> dict[str, object]:
        """For doctor: the interface, what online renewal would lack, whether hot-plug is event-driven."""
        lib = self._shared.lib
        if lib is None:
            return {}
        return {"interface": "SKF (GM/T 0016)", "renewal_missing": lib.missing_for_renewal(),
                "device_events": lib.supports_wait}

    # --- devices -------------------------------------------------------------

    def _choose_app(self, dev: SkfDevice, serial: str) -> str:
        chosen = self._apps.get(serial)
        names = dev.applications()
        if chosen in names:
            return chosen  # type: ignore[return-value]
        if not names:
            raise errors.SkfObjectMissing(what_zh="应用", what_en="application", op="SKF_EnumApplication")
        chosen = names[0]
        if len(names) > 1:
            for name in names:
                try:
                    with dev.open_application(name) as app:
                        if any(c.sign for c in app.certificates()):
                            chosen = name
                            break
                except errors.ZhenglianError:
                    continue
        self._apps[serial] = chosen
        return chosen

    def _flags_of(self, app: SkfApplication) -> f.TokenFlags:
        return self._pin_state(app)[0]

    def _pin_state(self, app: SkfApplication) -> tuple[f.TokenFlags, int]:
        user = app.pin_info()
        so: PinInfo | None
        try:
            so = app.pin_info(admin=True)
        except errors.ZhenglianError:
            so = None  # some libraries answer for the user PIN only
        return token_flags(user, so), user.remaining

    def present_tokens(self) -> list[tuple[int, SkfToken]]:
        """(index, token) for each device plugged in now; one that vanishes meanwhile is skipped."""
        out: list[tuple[int, SkfToken]] = []
        with self.lock:
            names = self.lib.devices()[:MAX_DEVICES]
            for index, name in enumerate(names):
                try:
                    with self.lib.connect(name) as dev:
                        info = dev.info()
                        if not info.serial:
                            log.info("SKF device %r without a serial: skipped", name)
                            continue
                        flags, tries = self._device_pin_state(dev, info.serial)
                except (errors.TokenRemoved, errors.SkfObjectMissing):
                    continue  # pulled out meanwhile, or a device with no application (blank)
                except errors.ZhenglianError as exc:  # one odd device never hides the others
                    log.info("SKF device %r unreadable (%s): skipped", name, exc.code)
                    continue
                out.append((index, SkfToken(info, flags, tries)))
        return out

    def _device_pin_state(self, dev: SkfDevice, serial: str) -> tuple[f.TokenFlags, int]:
        open_now = self._open.get(serial)
        if open_now is not None:
            return self._pin_state(open_now.app)
        with dev.open_application(self._choose_app(dev, serial)) as app:
            return self._pin_state(app)

    @staticmethod
    def token_facts(token: SkfToken) -> dict[str, object]:
        info = token.info
        return {"label": info.label, "serial": info.serial, "manufacturer": info.manufacturer,
                "model": f"SKF {info.issuer}".strip(), "flags": token.flags, "tries_left": token.tries_left}

    def find_token(self, serial: str) -> tuple[int, SkfToken]:
        for index, token in self.present_tokens():
            if token.info.serial == serial:
                return index, token
        raise errors.NoKey(serial)

    @contextmanager
    def _connected(self, serial: str) -> Iterator[tuple[SkfDevice, SkfApplication]]:
        name, _info = self.lib.find_device(serial)
        with self.lib.connect(name) as dev, dev.open_application(self._choose_app(dev, serial)) as app:
            yield dev, app

    @contextmanager
    def session(self, serial: str, rw: bool = False) -> Iterator[SkfSession]:
        """Connect to the device with this serial and open its application (holding the lock).

        No PIN here (``tokens.pin`` logs in); the admin PIN kept for an unblock is wiped on exit.
        """
        with self.lock, self._connected(serial) as (dev, app):
            sess = SkfSession(serial, dev, app, self)
            self._open[serial] = sess
            self._shared.sessions_open += 1
            try:
                yield sess
            finally:
                self._shared.sessions_open -= 1
                self._open.pop(serial, None)
                sess.wipe_admin_pin()
                if sess.logged_in:
                    try:
                        app.logout()
                    except errors.ZhenglianError:
                        pass  # the key is gone; its login went with it

    # --- certificates --------------------------------------------------------

    def read_certificates(self, session: SkfSession) -> list[KeyCert]:
        """Every certificate in every container: sign ones paired with their key, encryption ones not."""
        certs: list[KeyCert] = []
        with self.lock:
            for name in session.app.containers()[:MAX_CONTAINERS]:
                try:
                    with session.app.open_container(name) as con:
                        for sign in (True, False):
                            der = con.certificate(sign=sign)
                            if der is None:
                                continue
                            try:
                                info = parse_cert(der)
                            except (ValueError, TypeError) as exc:
                                log.warning("unreadable certificate in container %r: %s", name, type(exc).__name__)
                                continue
                            paired = _same_key(con, der) if sign and not info.is_ca else (None if info.is_ca else False)
                            label = f"{name} ({'签名 sign' if sign else '加密 enc'})"
                            certs.append(KeyCert(info=info, cka_id=name.encode("utf-8"), label=label, paired=paired))
                except errors.TokenRemoved:
                    raise
                except errors.ZhenglianError as exc:
                    log.info("container %r unreadable (%s): skipped", name, exc.code)
        return certs

    # --- PIN -----------------------------------------------------------------

    def flags(self, serial: str) -> f.TokenFlags:
        with self.lock:
            open_now = self._open.get(serial)
            if open_now is not None:
                return self._flags_of(open_now.app)
            with self._connected(serial) as (_dev, app):
                return self._flags_of(app)

    def tries_left(self, serial: str, so: bool = False) -> int | None:
        """Exactly what the key says (SKF_GetPINInfo); None for an SO PIN the library will not describe."""
        with self.lock:
            open_now = self._open.get(serial)
            if open_now is not None:
                return _remaining(open_now.app, so)
            with self._connected(serial) as (_dev, app):
                return _remaining(app, so)

    def pin_length_range(self, serial: str) -> tuple[int, int] | None:
        return None  # SKF does not say; the manifest's policy applies

    def login(self, session: SkfSession, user_type: int, pin: bytearray | None) -> int:
        if pin is None:
            return p11raw.CKR_PIN_INVALID  # no PIN pad through SKF_VerifyPIN
        admin = user_type == p11raw.CKU_SO
        with self.lock:
            rv = _pin_call(lambda: session.app.verify_pin(pin, admin=admin))
        if rv == p11raw.CKR_OK:
            session.logged_in = True
            if admin:
                session.wipe_admin_pin()
                session.admin_pin = bytearray(pin)  # for the SKF_UnblockPIN that follows; wiped after it
        return rv

    def logout(self, session: SkfSession) -> int:
        session.wipe_admin_pin()
        session.logged_in = False
        with self.lock:
            try:
                session.app.logout()
            except errors.TokenRemoved:
                return p11raw.CKR_DEVICE_REMOVED
            except errors.ZhenglianError as exc:  # runs in finally blocks: never hide the error in flight
                log.info("SKF_ClearSecureState: %s", exc.code)
                return CKR_FUNCTION_FAILED
        return p11raw.CKR_OK

    def set_pin(self, session: SkfSession, old: bytearray, new: bytearray) -> int:
        with self.lock:
            return _pin_call(lambda: session.app.change_pin(old, new))

    def init_pin(self, session: SkfSession, new: bytearray) -> int:
        """SKF_UnblockPIN with the admin PIN verified at login(so); the admin PIN is wiped after."""
        admin = session.admin_pin
        if admin is None:
            return p11raw.CKR_USER_NOT_LOGGED_IN
        try:
            with self.lock:
                rv = _pin_call(lambda: session.app.unblock_pin(admin, new))
        finally:
            session.wipe_admin_pin()
        # A wrong admin PIN here would be the SO's; it was verified a moment ago, so any
        # failure is the key's (locked, removed) and reported as such, never as a user try.
        return CKR_FUNCTION_FAILED if rv == p11raw.CKR_PIN_INCORRECT else rv

    # --- signing -------------------------------------------------------------

    def mechanisms(self, serial: str) -> list[int]:
        """Pseudo mechanisms: SM2 signs e (r‖s out); RSA signs a DigestInfo (= CKM_RSA_PKCS)."""
        return [MECH_SKF_SM2_E, CKM_RSA_PKCS]

    def sign_raw(self, session: SkfSession, cka_id: bytes, mechanism: int, data: bytes) -> bytes:
        try:
            name = cka_id.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.MechanismUnsupported(mechanism="SKF container name") from None
        with self.lock, session.app.open_container(name) as con:
            kind = con.key_type
            if mechanism == MECH_SKF_SM2_E and kind == "sm2" and len(data) == 32:
                return con.ecc_sign(data)
            if mechanism == CKM_RSA_PKCS and kind == "rsa" and 0 < len(data) <= 512:
                return con.rsa_sign(data)
        raise errors.MechanismUnsupported(mechanism=f"SKF {kind or '?'} / {mechanism:#x}")


    # --- online renewal ----------------------------------------------------------

    def key_ops(self, handle: Any) -> Any:
        """The renewal's key work (:class:`zhenglian.tokens.skf.keyops.SkfKeyOps`); a library without
        the calls it needs is refused here, before any PIN is asked."""
        from zhenglian.tokens.skf.keyops import SkfKeyOps

        missing = self.lib.missing_for_renewal()
        if missing:
            raise errors.RenewalUnsupportedBackend(missing=", ".join(missing))
        return SkfKeyOps(self, handle)


def _pin_call(call: Any) -> int:
    """Run one SKF PIN call; the typed error it raises as the CKR code tokens.pin understands.

    Other failures (a broken library, a bad response) are raised as they are.
    """
    try:
        call()
    except (errors.SoPinLocked, errors.PinLocked):
        return p11raw.CKR_PIN_LOCKED
    except (errors.WrongSoPin, errors.WrongPin):
        return p11raw.CKR_PIN_INCORRECT
    except errors.TokenRemoved:
        return p11raw.CKR_DEVICE_REMOVED
    except errors.SkfPinRejected:
        return p11raw.CKR_PIN_LEN_RANGE
    except errors.SkfNotLoggedIn:
        return p11raw.CKR_USER_NOT_LOGGED_IN
    return p11raw.CKR_OK


def _same_key(con: Any, cert_der: bytes) -> bool | None:
    """Does the container's sign key match the certificate?  None when the library cannot say."""
    from asn1crypto import x509

    try:
        pub = con.public_key(sign=True)
    except errors.ZhenglianError:
        return None
    cert_key = x509.Certificate.load(cert_der).public_key
    if isinstance(pub, RsaPublicKey):
        if cert_key.algorithm != "rsa":
            return False
        return int(cert_key["public_key"].parsed["modulus"].native) == pub.modulus
    if isinstance(pub, EccPublicKey):
        if cert_key.algorithm not in ("ec", "sm2"):
            return False
        return bytes(cert_key["public_key"].native) == pub.point
    return None
