"""A minimal PKCS#11 caller through ctypes, for tests and benchmarks of the test tokens.

It calls a module through its function list, as the client's raw-call layer
does with a vendor DLL, and can pass vendor-defined mechanisms that
python-pkcs11 cannot name.  Unix ABI only (natural alignment, CK_ULONG =
unsigned long).  Not shipped: the client's own raw calls are in
``zhenglian.tokens.p11raw``.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from zhenglian.tokens import p11raw

CKR_OK = 0
CKR_BUFFER_TOO_SMALL = 0x150
CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 1, 2, 3
CKA_CLASS, CKA_ID, CKA_VALUE = 0x0, 0x102, 0x11
CKF_SERIAL_SESSION, CKF_RW_SESSION = 0x4, 0x2
CKU_SO, CKU_USER = 0, 1

_NAMES = p11raw.FUNCTION_ORDER  # CK_FUNCTION_LIST order, PKCS#11 v2.40
assert len(_NAMES) == 68

UL = ctypes.c_ulong
P = ctypes.c_void_p


class _FunctionList(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte), ("fn", P * 68)]


class Mechanism(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", P), ("ulParameterLen", UL)]


class Attribute(ctypes.Structure):
    _fields_ = [("type", UL), ("pValue", P), ("ulValueLen", UL)]


class TokenInfo(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32),
                ("model", ctypes.c_char * 16), ("serialNumber", ctypes.c_char * 16), ("flags", UL),
                ("counts", UL * 10), ("hw", ctypes.c_ubyte * 2), ("fw", ctypes.c_ubyte * 2),
                ("utcTime", ctypes.c_char * 16)]


class P11Error(Exception):
    def __init__(self, name: str, rv: int) -> None:
        super().__init__(f"{name} -> 0x{rv:X}")
        self.rv = rv


class RawP11:
    """A PKCS#11 module called through its function list with ctypes."""

    def __init__(self, path: Path) -> None:
        self.lib = ctypes.CDLL(str(path))
        get = self.lib.C_GetFunctionList
        get.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionList))]
        get.restype = UL
        fl = ctypes.POINTER(_FunctionList)()
        assert get(ctypes.byref(fl)) == CKR_OK
        self.fl = fl.contents
        assert all(self.fl.fn), "every function-list entry is set"

    def rv(self, name: str, *args: object) -> int:
        """Call a function by name; returns its CK_RV (arguments: ctypes values)."""
        types = [P if type(a).__name__ == "CArgObject" else type(a) for a in args]  # byref(...) -> pointer
        fn = ctypes.CFUNCTYPE(UL, *types)(self.fl.fn[_NAMES.index(name)])
        return int(fn(*args))

    def call(self, name: str, *args: object) -> None:
        rv = self.rv(name, *args)
        if rv != CKR_OK:
            raise P11Error(name, rv)

    # --- conveniences -------------------------------------------------------
    def initialize(self) -> None:
        self.call("C_Initialize", P(None))

    def finalize(self) -> None:
        self.call("C_Finalize", P(None))

    def slots(self) -> list[int]:
        n = UL(0)
        self.call("C_GetSlotList", ctypes.c_ubyte(1), P(None), ctypes.byref(n))
        arr = (UL * max(n.value, 1))()
        self.call("C_GetSlotList", ctypes.c_ubyte(1), ctypes.cast(arr, P), ctypes.byref(n))
        return list(arr[: n.value])

    def token_info(self, slot: int) -> TokenInfo:
        info = TokenInfo()
        self.call("C_GetTokenInfo", UL(slot), ctypes.byref(info))
        return info

    def mechanisms(self, slot: int) -> list[int]:
        n = UL(0)
        self.call("C_GetMechanismList", UL(slot), P(None), ctypes.byref(n))
        arr = (UL * max(n.value, 1))()
        self.call("C_GetMechanismList", UL(slot), ctypes.cast(arr, P), ctypes.byref(n))
        return list(arr[: n.value])

    def open(self, slot: int, rw: bool = False) -> int:
        h = UL(0)
        flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
        self.call("C_OpenSession", UL(slot), UL(flags), P(None), P(None), ctypes.byref(h))
        return h.value

    def login_rv(self, session: int, pin: str, user: int = CKU_USER) -> int:
        buf = ctypes.create_string_buffer(pin.encode(), len(pin.encode()))
        return self.rv("C_Login", UL(session), UL(user), ctypes.cast(buf, P), UL(len(pin.encode())))

    def find(self, session: int, cls: int) -> list[int]:
        value = UL(cls)
        tmpl = Attribute(CKA_CLASS, ctypes.cast(ctypes.byref(value), P), ctypes.sizeof(UL))
        self.call("C_FindObjectsInit", UL(session), ctypes.byref(tmpl), UL(1))
        out = (UL * 64)()
        n = UL(0)
        self.call("C_FindObjects", UL(session), ctypes.cast(out, P), UL(64), ctypes.byref(n))
        self.call("C_FindObjectsFinal", UL(session))
        return list(out[: n.value])

    def attribute(self, session: int, obj: int, attr: int) -> bytes:
        a = Attribute(attr, None, 0)
        self.call("C_GetAttributeValue", UL(session), UL(obj), ctypes.byref(a), UL(1))
        buf = ctypes.create_string_buffer(a.ulValueLen)
        a.pValue = ctypes.cast(buf, P)
        self.call("C_GetAttributeValue", UL(session), UL(obj), ctypes.byref(a), UL(1))
        return buf.raw[: a.ulValueLen]

    def sign_init(self, session: int, mech: int, key: int, param: bytes | None = None) -> None:
        pbuf = ctypes.create_string_buffer(param, len(param)) if param else None
        m = Mechanism(mech, ctypes.cast(pbuf, P) if pbuf is not None else None, len(param or b""))
        self.call("C_SignInit", UL(session), ctypes.byref(m), UL(key))

    def sign(self, session: int, data: bytes) -> bytes:
        """C_Sign with the two-call convention: ask the length, then sign."""
        d = ctypes.create_string_buffer(data, len(data))
        n = UL(0)
        self.call("C_Sign", UL(session), ctypes.cast(d, P), UL(len(data)), P(None), ctypes.byref(n))
        out = ctypes.create_string_buffer(n.value)
        self.call("C_Sign", UL(session), ctypes.cast(d, P), UL(len(data)), ctypes.cast(out, P), ctypes.byref(n))
        return out.raw[: n.value]

    def sign_update(self, session: int, data: bytes) -> None:
        d = ctypes.create_string_buffer(data, len(data))
        self.call("C_SignUpdate", UL(session), ctypes.cast(d, P), UL(len(data)))

    def sign_final(self, session: int) -> bytes:
        n = UL(0)
        self.call("C_SignFinal", UL(session), P(None), ctypes.byref(n))
        out = ctypes.create_string_buffer(n.value)
        self.call("C_SignFinal", UL(session), ctypes.cast(out, P), ctypes.byref(n))
        return out.raw[: n.value]
