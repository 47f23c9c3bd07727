"""A Python API over one SKF (GM/T 0016) library.

``SkfLibrary(path)`` → ``devices()`` / ``connect(name)`` → :class:`SkfDevice`
→ ``applications()`` / ``open_application(name)`` → :class:`SkfApplication`
(PIN info, verify/change/unblock) → ``containers()`` / ``open_container`` →
:class:`SkfContainer` (type, certificates, public keys, ``ecc_sign``,
``rsa_sign``).

Rules kept here:

* A PIN is passed from a wipeable ``bytearray`` (or :class:`PinBuffer`) via a
  NUL-terminated scratch ``bytearray`` that is zeroed after the call; never a
  Python ``str`` or ``bytes``.  No call is retried, so no try is spent that
  the user did not type.
* Lengths the library returns are never trusted beyond the buffer we passed;
  sizes it asks for are capped; a malformed ECCSIGNATUREBLOB is refused.
* Every SAR_* code becomes one typed error (:mod:`.sar`).
* Calls on one library are serialised (vendor SKF libraries are seldom
  thread-safe), except ``wait_for_event``/``cancel_wait``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from zhenglian.errors import (
    DriverInvalid,
    DriverMissing,
    NoKey,
    SkfBadResponse,
    SkfMissingFunctions,
    SkfNotSkfLibrary,
    SkfPinRejected,
    TokenRemoved,
)
from zhenglian.tokens.secret import PinBuffer
from zhenglian.tokens.skf import ffi, libkind
from zhenglian.tokens.skf.sar import (
    SAR_BUFFER_TOO_SMALL,
    SAR_CERTNOTFOUNTERR,
    SAR_INVALIDPARAMERR,
    SAR_OK,
    SAR_PIN_INCORRECT,
    error_for,
)

MAX_NAME_LIST = 64 * 1024
MAX_CERT = 64 * 1024
MAX_RSA_SIGNATURE = 1024  # 8192-bit keys
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_DEFAULT_ID = b"1234567812345678"
MAX_DIGEST_INPUT = 1 << 20  # the key hashes in its own buffer; big data is hashed on the PC
_UNSET = 0xFFFFFFFF  # retry cell sentinel: the library did not fill it

Pin = PinBuffer | bytearray


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    version: tuple[int, int]
    manufacturer: str
    issuer: str
    label: str
    serial: str
    hw_version: tuple[int, int]
    firmware_version: tuple[int, int]
    alg_sym_cap: int
    alg_asym_cap: int
    alg_hash_cap: int
    total_space: int
    free_space: int


@dataclass(frozen=True)
class PinInfo:
    max_tries: int
    remaining: int
    is_default: bool

    @property
    def locked(self) -> bool:
        return self.remaining == 0

    @property
    def final_try(self) -> bool:
        return self.remaining == 1


@dataclass(frozen=True)
class ContainerCert:
    """A certificate found in a container: which container, sign or encryption, its key type."""

    container: str
    sign: bool
    key_type: Literal["rsa", "sm2"] | None
    der: bytes


@dataclass(frozen=True)
class EccPublicKey:
    x: bytes  # 32 bytes, big-endian
    y: bytes

    @property
    def point(self) -> bytes:
        """Uncompressed SEC1 point 04‖X‖Y."""
        return b"\x04" + self.x + self.y


@dataclass(frozen=True)
class RsaPublicKey:
    modulus: int
    exponent: int
    bits: int


@dataclass(frozen=True)
class DeviceEvent:
    name: str
    kind: Literal["inserted", "removed"]


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", "replace")


def _parse_multi(buf: ctypes.Array[ctypes.c_char], size: int) -> list[bytes]:
    """A "name\\0name\\0\\0" list, read only within the buffer we own."""
    raw = bytes(buf.raw[: min(size, len(buf))])
    names = []
    for part in raw.split(b"\0"):
        if not part:
            break
        names.append(part)
    return names


@contextmanager
def _c_pin(pin: Pin) -> Iterator[ctypes.Array[ctypes.c_char]]:
    """A NUL-terminated copy of the PIN in a scratch bytearray, zeroed afterwards."""
    src = pin.buffer if isinstance(pin, PinBuffer) else pin
    if not isinstance(src, bytearray):
        raise TypeError("a PIN is passed as a PinBuffer or bytearray, never str/bytes")
    if 0 in src or not src:
        raise SkfPinRejected()
    n = len(src)
    scratch = bytearray(n + 1)
    scratch[:n] = src
    arr = (ctypes.c_char * (n + 1)).from_buffer(scratch)
    try:
        yield arr
    finally:
        ctypes.memset(ctypes.addressof(arr), 0, n + 1)
        del arr
        for i in range(len(scratch)):
            scratch[i] = 0


class SkfLibrary:
    """One loaded SKF library; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DriverMissing(path=str(self.path))
        problem = libkind.architecture_problem(self.path)
        if problem is not None:
            raise problem
        try:
            self._lib = libkind.load(self.path)
        except OSError as exc:
            raise DriverInvalid(path=str(self.path), detail=type(exc).__name__ + ": " + str(exc)) from None
        if not hasattr(self._lib, "SKF_EnumDev"):
            detail = ("它是 PKCS#11 驱动 / it is a PKCS#11 module"
                      if hasattr(self._lib, "C_GetFunctionList") else "未导出 SKF_EnumDev / SKF_EnumDev not exported")
            raise SkfNotSkfLibrary(path=str(self.path), detail=detail)
        self._f, missing = ffi.bind(self._lib)
        if missing:
            raise SkfMissingFunctions(path=str(self.path), missing=", ".join(missing))
        self._lock = threading.RLock()
        self._names: dict[str, bytes] = {}  # decoded name -> the library's own bytes
        self._cancel = threading.Event()

    # -- plumbing -------------------------------------------------------------

    def has(self, function: str) -> bool:
        return function in self._f

    def _call(self, name: str, *args: Any) -> int:
        f = self._f.get(name)
        if f is None:
            raise SkfMissingFunctions(path=str(self.path), missing=name)
        with self._lock:
            return int(f(*args))

    def _check(self, rv: int, op: str, **facts: Any) -> None:
        if rv != SAR_OK:
            raise error_for(rv, op, **facts) from None

    def _name_arg(self, name: str) -> bytes:
        raw = self._names.get(name)
        if raw is None:
            raw = name.encode("utf-8")
        if b"\0" in raw or len(raw) > 1024:
            raise SkfBadResponse(op="name", detail="invalid name")
        return raw

    def _remember(self, raws: list[bytes]) -> list[str]:
        out = []
        for raw in raws:
            text = _decode(raw)
            self._names[text] = raw
            out.append(text)
        return out

    def _name_list(self, fn: str, *head: Any) -> list[str]:
        """The two-call size/fill pattern for EnumDev/EnumApplication/EnumContainer."""
        for _ in range(3):  # the list may grow between the two calls
            size = ffi.out_ulong()
            self._check(self._call(fn, *head, None, ctypes.byref(size)), fn)
            want = ffi.low32(size)
            if want > MAX_NAME_LIST:
                raise SkfBadResponse(op=fn, detail=f"name list of {want} bytes")
            if want <= 1:
                return []
            buf = ctypes.create_string_buffer(want + 2)  # room for a library that forgets a NUL
            size = ffi.out_ulong(want)
            rv = self._call(fn, *head, buf, ctypes.byref(size))
            if rv == SAR_BUFFER_TOO_SMALL:
                continue
            self._check(rv, fn)
            return self._remember(_parse_multi(buf, min(ffi.low32(size), want)))
        raise SkfBadResponse(op=fn, detail="name list kept changing size")

    # -- devices ------------------------------------------------------------------

    def devices(self) -> list[str]:
        """Names of the devices plugged in now."""
        return self._name_list("SKF_EnumDev", 1)

    def device_present(self, name: str) -> bool:
        if not self.has("SKF_GetDevState"):
            return name in self.devices()
        state = ffi.out_ulong()
        self._check(self._call("SKF_GetDevState", self._name_arg(name), ctypes.byref(state)), "SKF_GetDevState")
        return ffi.low32(state) == ffi.DEV_PRESENT_STATE

    def find_device(self, serial: str) -> tuple[str, DeviceInfo]:
        """The plugged-in device with this serial (keys are chosen by serial, never by slot or name)."""
        for name in self.devices():
            try:
                with self.connect(name) as dev:
                    info = dev.info()
            except TokenRemoved:
                continue
            if info.serial == serial:
                return name, info
        raise NoKey(serial)

    def connect(self, name: str) -> SkfDevice:
        h = ffi.HANDLE()
        self._check(self._call("SKF_ConnectDev", self._name_arg(name), ctypes.byref(h)), "SKF_ConnectDev")
        if not h.value:
            raise SkfBadResponse(op="SKF_ConnectDev", detail="null handle")
        return SkfDevice(self, h, name)

    def missing_for_renewal(self) -> list[str]:
        """The functions an online renewal needs that this library does not export."""
        return [f for f in ffi.RENEWAL if not self.has(f)]

    @property
    def supports_wait(self) -> bool:
        return self.has("SKF_WaitForDevEvent") and self.has("SKF_CancelWaitForDevEvent")

    def wait_for_event(self) -> DeviceEvent | None:
        """Block until a device is inserted or removed; None when cancelled.

        Not serialised with other calls (it blocks); call :meth:`cancel_wait`
        from another thread to end it.  Without the functions, use
        :func:`poll_events`.
        """
        if not self.supports_wait:
            raise SkfMissingFunctions(path=str(self.path), missing="SKF_WaitForDevEvent")
        self._cancel.clear()
        buf = ctypes.create_string_buffer(257)
        size = ffi.out_ulong(256)
        event = ffi.out_ulong()
        rv = int(self._f["SKF_WaitForDevEvent"](buf, ctypes.byref(size), ctypes.byref(event)))
        if self._cancel.is_set():
            return None
        self._check(rv, "SKF_WaitForDevEvent")
        kind = ffi.low32(event)
        if kind not in (ffi.EVENT_INSERTED, ffi.EVENT_REMOVED):
            return None
        raw = buf.raw[: min(ffi.low32(size), 256)].split(b"\0", 1)[0]
        name = self._remember([raw])[0]
        return DeviceEvent(name, "inserted" if kind == ffi.EVENT_INSERTED else "removed")

    def cancel_wait(self) -> None:
        self._cancel.set()
        if self.has("SKF_CancelWaitForDevEvent"):
            self._f["SKF_CancelWaitForDevEvent"]()


def poll_events(lib: SkfLibrary, previous: set[str]) -> tuple[set[str], list[DeviceEvent]]:
    """Polling fallback for hot-plug: the device set now and what changed since ``previous``."""
    now = set(lib.devices())
    events = [DeviceEvent(n, "removed") for n in sorted(previous - now)]
    events += [DeviceEvent(n, "inserted") for n in sorted(now - previous)]
    return now, events


class _Handle:
    _close_fn = ""

    def __init__(self, lib: SkfLibrary, handle: ffi.HANDLE, name: str) -> None:
        self.lib = lib
        self._h: ffi.HANDLE | None = handle
        self.name = name

    @property
    def handle(self) -> ffi.HANDLE:
        if self._h is None:
            raise SkfBadResponse(op=self._close_fn, detail="handle already closed")
        return self._h

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            self.lib._call(self._close_fn, h)  # a removed device may refuse; nothing to do about it

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SkfDevice(_Handle):
    _close_fn = "SKF_DisConnectDev"

    def info(self) -> DeviceInfo:
        di = ffi.DEVINFO()
        self.lib._check(self.lib._call("SKF_GetDevInfo", self.handle, ctypes.byref(di)), "SKF_GetDevInfo")
        return DeviceInfo(
            name=self.name,
            version=(di.Version.major, di.Version.minor),
            manufacturer=ffi.field_text(bytes(di.Manufacturer)),
            issuer=ffi.field_text(bytes(di.Issuer)),
            label=ffi.field_text(bytes(di.Label)),
            serial=ffi.field_text(bytes(di.SerialNumber)),
            hw_version=(di.HWVersion.major, di.HWVersion.minor),
            firmware_version=(di.FirmwareVersion.major, di.FirmwareVersion.minor),
            alg_sym_cap=di.AlgSymCap,
            alg_asym_cap=di.AlgAsymCap,
            alg_hash_cap=di.AlgHashCap,
            total_space=di.TotalSpace,
            free_space=di.FreeSpace,
        )

    def sm3_digest(self, data: bytes, *, public_key: EccPublicKey | None = None,
                   user_id: bytes = SM2_DEFAULT_ID) -> bytes:
        """SM3 on the key (SKF_DigestInit/Digest); with ``public_key``, SM3(Z‖data) = the e to sign."""
        need = ("SKF_DigestInit", "SKF_Digest", "SKF_CloseHandle")
        missing = [f for f in need if not self.lib.has(f)]
        if missing:
            raise SkfMissingFunctions(path=str(self.lib.path), missing=", ".join(missing))
        if len(data) > MAX_DIGEST_INPUT or len(user_id) > 1024:
            raise ValueError("data too large to hash on the key")
        blob = ffi.ECCPUBLICKEYBLOB()
        id_buf = (ctypes.c_uint8 * max(1, len(user_id))).from_buffer_copy(user_id.ljust(1, b"\0"))
        if public_key is not None:
            blob.BitLen = 256
            ctypes.memmove(ctypes.addressof(blob.XCoordinate) + 32, public_key.x, 32)
            ctypes.memmove(ctypes.addressof(blob.YCoordinate) + 32, public_key.y, 32)
        h = ffi.HANDLE()
        rv = self.lib._call("SKF_DigestInit", self.handle, ffi.SGD_SM3,
                            ctypes.byref(blob) if public_key is not None else None,
                            id_buf if public_key is not None else None,
                            len(user_id) if public_key is not None else 0, ctypes.byref(h))
        self.lib._check(rv, "SKF_DigestInit")
        try:
            src = (ctypes.c_uint8 * max(1, len(data))).from_buffer_copy(data.ljust(1, b"\0"))
            out = (ctypes.c_uint8 * 64)()
            size = ffi.out_ulong(64)
            self.lib._check(self.lib._call("SKF_Digest", h, src, len(data), out, ctypes.byref(size)), "SKF_Digest")
            if ffi.low32(size) != 32:
                raise SkfBadResponse(op="SKF_Digest", detail=f"SM3 digest of {ffi.low32(size)} bytes")
            return bytes(out[:32])
        finally:
            self.lib._call("SKF_CloseHandle", h)

    def applications(self) -> list[str]:
        return self.lib._name_list("SKF_EnumApplication", self.handle)

    def open_application(self, name: str) -> SkfApplication:
        h = ffi.HANDLE()
        rv = self.lib._call("SKF_OpenApplication", self.handle, self.lib._name_arg(name), ctypes.byref(h))
        self.lib._check(rv, "SKF_OpenApplication")
        if not h.value:
            raise SkfBadResponse(op="SKF_OpenApplication", detail="null handle")
        return SkfApplication(self.lib, h, name)


class SkfApplication(_Handle):
    _close_fn = "SKF_CloseApplication"

    def pin_info(self, *, admin: bool = False) -> PinInfo:
        mx, rem, dflt = ffi.out_ulong(), ffi.out_ulong(), ffi.out_ulong()
        rv = self.lib._call("SKF_GetPINInfo", self.handle, ffi.ADMIN_TYPE if admin else ffi.USER_TYPE,
                            ctypes.byref(mx), ctypes.byref(rem), ctypes.byref(dflt))
        self.lib._check(rv, "SKF_GetPINInfo", admin=admin)
        max_tries, remaining = ffi.low32(mx), ffi.low32(rem)
        if max_tries > 255 or remaining > max_tries:
            raise SkfBadResponse(op="SKF_GetPINInfo", detail=f"remaining {remaining} of {max_tries}")
        return PinInfo(max_tries, remaining, ffi.low32(dflt) != 0)

    def _retry(self, cell: ctypes.c_uint64, admin: bool) -> int | None:
        value = ffi.low32(cell)
        if value != _UNSET:
            return value
        try:  # the library did not report it: ask, without spending a try
            return self.pin_info(admin=admin).remaining
        except Exception:  # noqa: BLE001 - the count is a nicety; the PIN error stands
            return None

    def _pin_failed(self, rv: int, op: str, cell: ctypes.c_uint64, admin: bool) -> None:
        if rv == SAR_OK:
            return
        retry = self._retry(cell, admin) if rv == SAR_PIN_INCORRECT else None
        raise error_for(rv, op, retry=retry, admin=admin) from None

    def verify_pin(self, pin: Pin, *, admin: bool = False) -> None:
        """Log in; raises WrongPin(tries_left) / PinLocked (or the SO variants)."""
        cell = ffi.out_ulong(_UNSET)
        with _c_pin(pin) as p:
            rv = self.lib._call("SKF_VerifyPIN", self.handle, ffi.ADMIN_TYPE if admin else ffi.USER_TYPE,
                                p, ctypes.byref(cell))
        self._pin_failed(rv, "SKF_VerifyPIN", cell, admin)

    def change_pin(self, old: Pin, new: Pin, *, admin: bool = False) -> None:
        cell = ffi.out_ulong(_UNSET)
        with _c_pin(old) as o, _c_pin(new) as n:
            rv = self.lib._call("SKF_ChangePIN", self.handle, ffi.ADMIN_TYPE if admin else ffi.USER_TYPE,
                                o, n, ctypes.byref(cell))
        self._pin_failed(rv, "SKF_ChangePIN", cell, admin)

    def unblock_pin(self, admin_pin: Pin, new_user_pin: Pin) -> None:
        """Reset the user PIN with the SO PIN; wrong SO PIN → WrongSoPin / SoPinLocked."""
        cell = ffi.out_ulong(_UNSET)
        with _c_pin(admin_pin) as a, _c_pin(new_user_pin) as n:
            rv = self.lib._call("SKF_UnblockPIN", self.handle, a, n, ctypes.byref(cell))
        self._pin_failed(rv, "SKF_UnblockPIN", cell, True)

    def logout(self) -> None:
        if self.lib.has("SKF_ClearSecureState"):
            self.lib._check(self.lib._call("SKF_ClearSecureState", self.handle), "SKF_ClearSecureState")

    def containers(self) -> list[str]:
        return self.lib._name_list("SKF_EnumContainer", self.handle)

    def certificates(self) -> list[ContainerCert]:
        """Every certificate in every container (sign first, then encryption); none → []."""
        found = []
        for name in self.containers():
            with self.open_container(name) as con:
                kind = con.key_type
                for sign in (True, False):
                    der = con.certificate(sign=sign)
                    if der is not None:
                        found.append(ContainerCert(name, sign, kind, der))
        return found

    def create_container(self, name: str) -> SkfContainer:
        """A new, empty container (SKF_CreateContainer; the user PIN verified), opened."""
        op = "SKF_CreateContainer"
        h = ffi.HANDLE()
        self.lib._check(self.lib._call(op, self.handle, self.lib._name_arg(name), ctypes.byref(h)), op)
        if not h.value:
            raise SkfBadResponse(op=op, detail="null handle")
        return SkfContainer(self.lib, h, name)

    def delete_container(self, name: str) -> None:
        """Delete a container with its key pairs and certificates (SKF_DeleteContainer)."""
        op = "SKF_DeleteContainer"
        self.lib._check(self.lib._call(op, self.handle, self.lib._name_arg(name)), op)

    def open_container(self, name: str) -> SkfContainer:
        h = ffi.HANDLE()
        rv = self.lib._call("SKF_OpenContainer", self.handle, self.lib._name_arg(name), ctypes.byref(h))
        self.lib._check(rv, "SKF_OpenContainer")
        if not h.value:
            raise SkfBadResponse(op="SKF_OpenContainer", detail="null handle")
        return SkfContainer(self.lib, h, name)


class SkfContainer(_Handle):
    _close_fn = "SKF_CloseContainer"

    @property
    def key_type(self) -> Literal["rsa", "sm2"] | None:
        cell = ffi.out_ulong()
        self.lib._check(self.lib._call("SKF_GetContainerType", self.handle, ctypes.byref(cell)),
                        "SKF_GetContainerType")
        return {ffi.CONTAINER_RSA: "rsa", ffi.CONTAINER_ECC: "sm2"}.get(ffi.low32(cell))  # type: ignore[return-value]

    def certificate(self, *, sign: bool = True, required: bool = False) -> bytes | None:
        """The DER certificate (sign or encryption); None when absent unless ``required``."""
        op = "SKF_ExportCertificate"
        size = ffi.out_ulong()
        rv = self.lib._call(op, self.handle, 1 if sign else 0, None, ctypes.byref(size))
        if rv == SAR_CERTNOTFOUNTERR and not required:
            return None
        if rv == SAR_INVALIDPARAMERR:  # no size query (pbCert NULL) in this library: offer the cap
            rv, size = SAR_OK, ffi.out_ulong(MAX_CERT)
        self.lib._check(rv, op, container=self.name, sign=sign)
        want = ffi.low32(size)
        if want == 0:
            if required:
                raise error_for(SAR_CERTNOTFOUNTERR, op, container=self.name, sign=sign)
            return None
        if want > MAX_CERT:
            raise SkfBadResponse(op=op, detail=f"certificate of {want} bytes")
        buf = (ctypes.c_uint8 * want)()
        size = ffi.out_ulong(want)
        rv = self.lib._call(op, self.handle, 1 if sign else 0, buf, ctypes.byref(size))
        if rv == SAR_CERTNOTFOUNTERR and not required:
            return None
        self.lib._check(rv, op, container=self.name, sign=sign)
        got = ffi.low32(size)
        if got == 0 or got > want:
            raise SkfBadResponse(op=op, detail=f"length {got} for a {want}-byte buffer")
        der = bytes(buf[:got])
        total = _der_sequence_length(der)
        if total is None or total > got:
            raise SkfBadResponse(op=op, detail="not a DER certificate")
        return der[:total]  # some libraries pad the buffer after the certificate

    def public_key(self, *, sign: bool = True) -> EccPublicKey | RsaPublicKey:
        op = "SKF_ExportPublicKey"
        kind = self.key_type
        if kind is None:
            raise error_for(0x0A00001B, op)
        blob: ctypes.Structure = ffi.ECCPUBLICKEYBLOB() if kind == "sm2" else ffi.RSAPUBLICKEYBLOB()
        cap = ctypes.sizeof(blob)
        size = ffi.out_ulong(cap)
        self.lib._check(self.lib._call(op, self.handle, 1 if sign else 0, ctypes.byref(blob), ctypes.byref(size)),
                        op)
        if ffi.low32(size) > cap:
            raise SkfBadResponse(op=op, detail="blob longer than the structure")
        if isinstance(blob, ffi.ECCPUBLICKEYBLOB):
            return _ecc_public(blob, op)
        assert isinstance(blob, ffi.RSAPUBLICKEYBLOB)
        return _rsa_public(blob, op)

    # -- online renewal: a key pair made on the key, the CA's certificate written -------------

    def gen_ecc_keypair(self) -> EccPublicKey:
        """A new SM2 sign key pair in this container (SKF_GenECCKeyPair; the user PIN verified)."""
        op = "SKF_GenECCKeyPair"
        blob = ffi.ECCPUBLICKEYBLOB()
        self.lib._check(self.lib._call(op, self.handle, ffi.SGD_SM2_1, ctypes.byref(blob)), op)
        return _ecc_public(blob, op)

    def gen_rsa_keypair(self, bits: int) -> RsaPublicKey:
        """A new RSA sign key pair of ``bits`` (1024 or 2048, as GM/T 0016 allows) in this container."""
        op = "SKF_GenRSAKeyPair"
        if bits not in (1024, 2048):
            raise ValueError("GM/T 0016 keys make 1024- or 2048-bit RSA key pairs")
        blob = ffi.RSAPUBLICKEYBLOB()
        self.lib._check(self.lib._call(op, self.handle, bits, ctypes.byref(blob)), op)
        key = _rsa_public(blob, op)
        if key.bits != bits:
            raise SkfBadResponse(op=op, detail=f"asked for {bits} bits, got {key.bits}")
        return key

    def import_certificate(self, der: bytes, *, sign: bool = True) -> None:
        """Write a DER certificate into the container (sign or encryption slot), replacing the one there."""
        op = "SKF_ImportCertificate"
        if not 0 < len(der) <= MAX_CERT or _der_sequence_length(der) != len(der):
            raise ValueError("not one DER certificate of at most 64 KiB")
        data = (ctypes.c_uint8 * len(der)).from_buffer_copy(der)
        self.lib._check(self.lib._call(op, self.handle, 1 if sign else 0, data, len(der)), op,
                        container=self.name, sign=sign)

    def ecc_sign(self, e: bytes) -> bytes:
        """SM2-sign the digest e = SM3(Z‖M) (32 bytes); returns r‖s, 32 bytes each."""
        op = "SKF_ECCSignData"
        if len(e) != 32:
            raise ValueError("e must be 32 bytes (SM3(Z‖M))")
        data = (ctypes.c_uint8 * 32).from_buffer_copy(e)
        blob = ffi.ECCSIGNATUREBLOB()
        self.lib._check(self.lib._call(op, self.handle, data, 32, ctypes.byref(blob)), op)
        return parse_ecc_signature(bytes(blob.r), bytes(blob.s))

    def rsa_sign(self, digest_info: bytes) -> bytes:
        """PKCS#1 v1.5 signature over the DigestInfo the caller built."""
        op = "SKF_RSASignData"
        if not 0 < len(digest_info) <= 512:
            raise ValueError("DigestInfo must be 1..512 bytes")
        data = (ctypes.c_uint8 * len(digest_info)).from_buffer_copy(digest_info)
        out = (ctypes.c_uint8 * MAX_RSA_SIGNATURE)()
        size = ffi.out_ulong(MAX_RSA_SIGNATURE)
        self.lib._check(self.lib._call(op, self.handle, data, len(digest_info), out, ctypes.byref(size)), op)
        got = ffi.low32(size)
        if not 64 <= got <= MAX_RSA_SIGNATURE:
            raise SkfBadResponse(op=op, detail=f"signature of {got} bytes")
        return bytes(out[:got])


def _ecc_public(blob: ffi.ECCPUBLICKEYBLOB, op: str) -> EccPublicKey:
    x, y = bytes(blob.XCoordinate), bytes(blob.YCoordinate)
    if blob.BitLen != 256 or any(x[:32]) or any(y[:32]):
        raise SkfBadResponse(op=op, detail=f"ECC key of {blob.BitLen} bits")
    return EccPublicKey(x[32:], y[32:])


def _rsa_public(blob: ffi.RSAPUBLICKEYBLOB, op: str) -> RsaPublicKey:
    bits = int(blob.BitLen)
    nbytes = (bits + 7) // 8
    if not 512 <= bits <= 8 * ffi.MAX_RSA_MODULUS_LEN:
        raise SkfBadResponse(op=op, detail=f"RSA key of {bits} bits")
    mod = bytes(blob.Modulus)
    # The standard's blobs are right-aligned; some libraries left-align shorter moduli.
    n = int.from_bytes(mod[-nbytes:] if not any(mod[:-nbytes]) else mod[:nbytes], "big")
    e = int.from_bytes(bytes(blob.PublicExponent), "big")
    if n.bit_length() != bits or e < 3:
        raise SkfBadResponse(op=op, detail="inconsistent RSA public key")
    return RsaPublicKey(n, e, bits)


def _der_sequence_length(der: bytes) -> int | None:
    """Total length of the DER SEQUENCE at the start of der (header included), or None."""
    if len(der) < 2 or der[0] != 0x30:
        return None
    first = der[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    if not 1 <= n <= 4 or len(der) < 2 + n:
        return None
    return 2 + n + int.from_bytes(der[2:2 + n], "big")


def parse_ecc_signature(r_field: bytes, s_field: bytes) -> bytes:
    """r‖s from the two 64-byte ECCSIGNATUREBLOB fields (values right-aligned)."""
    op = "SKF_ECCSignData"
    if len(r_field) != ffi.ECC_FIELD or len(s_field) != ffi.ECC_FIELD:
        raise SkfBadResponse(op=op, detail="ECCSIGNATUREBLOB fields are not 64 bytes")
    if any(r_field[:32]) or any(s_field[:32]):
        raise SkfBadResponse(op=op, detail="r or s wider than 256 bits (not right-aligned?)")
    r, s = r_field[32:], s_field[32:]
    for v in (r, s):
        if not 0 < int.from_bytes(v, "big") < SM2_N:
            raise SkfBadResponse(op=op, detail="r or s out of range")
    return r + s

