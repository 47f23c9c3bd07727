"""Raw PKCS#11 calls through ctypes: the PIN calls (wipeable buffers) and signing.

python-pkcs11 takes PINs as ``str`` and copies them into immutable ``bytes``
that cannot be wiped.  For C_Login, C_SetPIN and C_InitPIN we therefore call
the module ourselves: ``dlopen`` of the same file returns the library that
python-pkcs11 already loaded (same handle, same state), so a login made here
applies to python-pkcs11's session.  The PIN stays in a ``bytearray`` that the
caller wipes after use.

Signing goes through here too (C_FindObjects, C_GetMechanismList, C_SignInit,
C_Sign): python-pkcs11 cannot name vendor-defined mechanisms or key types
(SM2), and the mechanism must be chosen from what the token offers.

Layout facts: CK_FUNCTION_LIST starts with CK_VERSION (2 bytes) followed by
function pointers in the order of the PKCS#11 v2 header; Windows builds of
Cryptoki pack structures to 1 byte, other platforms use natural alignment.
CK_ULONG is C ``unsigned long`` (4 bytes on Windows, 8 on 64-bit Unix).
"""

from __future__ import annotations

import ctypes
import sys
import threading
from pathlib import Path

CKU_SO = 0
CKU_USER = 1

CKR_OK = 0x0
CKR_PIN_INCORRECT = 0xA0
CKR_PIN_INVALID = 0xA1
CKR_PIN_LEN_RANGE = 0xA2
CKR_PIN_EXPIRED = 0xA3
CKR_PIN_LOCKED = 0xA4
CKR_DEVICE_REMOVED = 0x32
CKR_TOKEN_NOT_PRESENT = 0xE0
CKR_SESSION_HANDLE_INVALID = 0xB3
CKR_SESSION_CLOSED = 0xB0
CKR_USER_ALREADY_LOGGED_IN = 0x100
CKR_USER_NOT_LOGGED_IN = 0x101
CKR_USER_PIN_NOT_INITIALIZED = 0x102
CKR_USER_ANOTHER_ALREADY_LOGGED_IN = 0x104
CKR_FUNCTION_CANCELED = 0x50
CKR_SESSION_READ_ONLY = 0xB5

REMOVED = {CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED}

# CK_FUNCTION_LIST, in order (PKCS#11 v2.40): every caller of a function table uses this one list.
FUNCTION_ORDER = (
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
    "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
    "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
    "C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject",
    "C_GetObjectSize", "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects",
    "C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal",
    "C_DecryptInit", "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest",
    "C_DigestUpdate", "C_DigestKey", "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate", "C_SignFinal",
    "C_SignRecoverInit", "C_SignRecover", "C_VerifyInit", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal",
    "C_VerifyRecoverInit", "C_VerifyRecover", "C_DigestEncryptUpdate", "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate", "C_DecryptVerifyUpdate", "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey",
    "C_UnwrapKey", "C_DeriveKey", "C_SeedRandom", "C_GenerateRandom", "C_GetFunctionStatus",
    "C_CancelFunction", "C_WaitForSlotEvent",
)
# The prefix our raw calls read (up to C_Sign): a table is only read as far as it is used.
_ORDER = FUNCTION_ORDER[: FUNCTION_ORDER.index("C_Sign") + 1]

CKA_CLASS = 0x0
CKA_ID = 0x102
CKO_PRIVATE_KEY = 0x3
CKR_BUFFER_TOO_SMALL = 0x150
MAX_SIGNATURE = 4096  # bytes: RSA-16384 would fit; a module claiming more is not believed
MAX_MECHANISMS = 1024

_WINDOWS = sys.platform.startswith("win")
_FUNCTYPE = ctypes.WINFUNCTYPE if _WINDOWS else ctypes.CFUNCTYPE  # type: ignore[attr-defined]
CK_ULONG = ctypes.c_ulong
CK_RV = CK_ULONG
_PTR = ctypes.c_void_p


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class _FunctionList(ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("version", _Version)] + [(name, _PTR) for name in _ORDER]


class _Mechanism(ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", _PTR), ("ulParameterLen", CK_ULONG)]


class _Attribute(ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("type", CK_ULONG), ("pValue", _PTR), ("ulValueLen", CK_ULONG)]


class TokenInfo(ctypes.Structure):
    """CK_TOKEN_INFO (PKCS#11 v2.40); only flags and the PIN length range are used."""

    if _WINDOWS:
        _pack_ = 1
    _fields_ = [
        ("label", ctypes.c_ubyte * 32), ("manufacturerID", ctypes.c_ubyte * 32),
        ("model", ctypes.c_ubyte * 16), ("serialNumber", ctypes.c_ubyte * 16),
        ("flags", CK_ULONG), ("ulMaxSessionCount", CK_ULONG), ("ulSessionCount", CK_ULONG),
        ("ulMaxRwSessionCount", CK_ULONG), ("ulRwSessionCount", CK_ULONG),
        ("ulMaxPinLen", CK_ULONG), ("ulMinPinLen", CK_ULONG),
        ("ulTotalPublicMemory", CK_ULONG), ("ulFreePublicMemory", CK_ULONG),
        ("ulTotalPrivateMemory", CK_ULONG), ("ulFreePrivateMemory", CK_ULONG),
        ("hardwareVersion", _Version), ("firmwareVersion", _Version), ("utcTime", ctypes.c_ubyte * 16),
    ]


_GETTOKENINFO = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(TokenInfo))
_LOGIN = _FUNCTYPE(CK_RV, CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG)
_LOGOUT = _FUNCTYPE(CK_RV, CK_ULONG)
_SETPIN = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.c_char_p, CK_ULONG, ctypes.c_char_p, CK_ULONG)
_INITPIN = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.c_char_p, CK_ULONG)
_MECHLIST = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(CK_ULONG), ctypes.POINTER(CK_ULONG))
_FINDINIT = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(_Attribute), CK_ULONG)
_FIND = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(CK_ULONG), CK_ULONG, ctypes.POINTER(CK_ULONG))
_FINDFINAL = _FUNCTYPE(CK_RV, CK_ULONG)
_SIGNINIT = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(_Mechanism), CK_ULONG)
_SIGN = _FUNCTYPE(CK_RV, CK_ULONG, ctypes.c_char_p, CK_ULONG, ctypes.c_char_p, ctypes.POINTER(CK_ULONG))


class RawCallError(Exception):
    """A raw call failed: ``rv`` is the module's CKR code (mapped to a typed error by tokens.ckr)."""

    def __init__(self, function: str, rv: int) -> None:
        super().__init__(f"{function} returned {rv:#x}")
        self.function = function
        self.rv = rv


class RawPinCalls:
    """C_Login / C_Logout / C_SetPIN / C_InitPIN, C_GetTokenInfo, and the signing calls of one module."""

    _cache: dict[str, RawPinCalls] = {}
    _cache_lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        loader = ctypes.WinDLL if _WINDOWS else ctypes.CDLL  # type: ignore[attr-defined]
        self._dll = loader(str(path))
        get_list = self._dll.C_GetFunctionList
        get_list.restype = CK_RV
        get_list.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionList))]
        table = ctypes.POINTER(_FunctionList)()
        rv = get_list(ctypes.byref(table))
        if rv != CKR_OK or not table:
            raise OSError(f"C_GetFunctionList returned {rv:#x}")
        fl = table.contents
        self._login = _LOGIN(fl.C_Login)
        self._logout = _LOGOUT(fl.C_Logout)
        self._setpin = _SETPIN(fl.C_SetPIN)
        self._initpin = _INITPIN(fl.C_InitPIN)
        self._tokeninfo = _GETTOKENINFO(fl.C_GetTokenInfo)
        # Signing: a NULL entry (a module without them) is reported when used, not at load.
        self._mechlist = _MECHLIST(fl.C_GetMechanismList) if fl.C_GetMechanismList else None
        self._findinit = _FINDINIT(fl.C_FindObjectsInit) if fl.C_FindObjectsInit else None
        self._find = _FIND(fl.C_FindObjects) if fl.C_FindObjects else None
        self._findfinal = _FINDFINAL(fl.C_FindObjectsFinal) if fl.C_FindObjectsFinal else None
        self._signinit = _SIGNINIT(fl.C_SignInit) if fl.C_SignInit else None
        self._sign = _SIGN(fl.C_Sign) if fl.C_Sign else None

    @classmethod
    def for_module(cls, path: Path) -> RawPinCalls:
        key = str(path)
        with cls._cache_lock:
            calls = cls._cache.get(key)
            if calls is None:
                calls = cls._cache[key] = cls(path)
            return calls

    @staticmethod
    def _buf(pin: bytearray | None) -> tuple[ctypes.Array[ctypes.c_char] | None, int]:
        if pin is None:
            return None, 0
        # A ctypes view over the bytearray's own memory: no copy to wipe later.
        return (ctypes.c_char * len(pin)).from_buffer(pin) if len(pin) else None, len(pin)

    def login(self, session: int, user_type: int, pin: bytearray | None) -> int:
        """pin None: protected authentication path (PIN pad)."""
        buf, n = self._buf(pin)
        return int(self._login(session, user_type, ctypes.cast(buf, ctypes.c_char_p) if buf else None, n))

    def token_info(self, slot_id: int) -> tuple[int, TokenInfo]:
        """C_GetTokenInfo: (rv, info).  python-pkcs11 does not expose the PIN length range."""
        info = TokenInfo()
        rv = int(self._tokeninfo(slot_id, ctypes.byref(info)))
        return rv, info

    def logout(self, session: int) -> int:
        return int(self._logout(session))

    def set_pin(self, session: int, old: bytearray, new: bytearray) -> int:
        ob, on = self._buf(old)
        nb, nn = self._buf(new)
        return int(self._setpin(session, ctypes.cast(ob, ctypes.c_char_p), on, ctypes.cast(nb, ctypes.c_char_p), nn))

    def init_pin(self, session: int, new: bytearray) -> int:
        nb, nn = self._buf(new)
        return int(self._initpin(session, ctypes.cast(nb, ctypes.c_char_p), nn))

    # --- signing ----------------------------------------------------------------

    def mechanisms(self, slot_id: int) -> list[int]:
        """C_GetMechanismList (two calls, bounded)."""
        if self._mechlist is None:
            raise RawCallError("C_GetMechanismList", 0x54)  # CKR_FUNCTION_NOT_SUPPORTED
        count = CK_ULONG(0)
        rv = int(self._mechlist(slot_id, None, ctypes.byref(count)))
        if rv != CKR_OK:
            raise RawCallError("C_GetMechanismList", rv)
        n = min(int(count.value), MAX_MECHANISMS)
        if n == 0:
            return []
        arr = (CK_ULONG * n)()
        count = CK_ULONG(n)
        rv = int(self._mechlist(slot_id, arr, ctypes.byref(count)))
        if rv != CKR_OK:
            raise RawCallError("C_GetMechanismList", rv)
        return [int(arr[i]) for i in range(min(int(count.value), n))]

    def find_private_key(self, session: int, cka_id: bytes) -> int:
        """The handle of the private key with this CKA_ID (a logged-in session sees it)."""
        if self._findinit is None or self._find is None or self._findfinal is None:
            raise RawCallError("C_FindObjectsInit", 0x54)
        cls = CK_ULONG(CKO_PRIVATE_KEY)
        idbuf = ctypes.create_string_buffer(cka_id, len(cka_id))
        template = (_Attribute * 2)(
            _Attribute(CKA_CLASS, ctypes.cast(ctypes.byref(cls), _PTR), ctypes.sizeof(cls)),
            _Attribute(CKA_ID, ctypes.cast(idbuf, _PTR), len(cka_id)),
        )
        rv = int(self._findinit(session, template, 2))
        if rv != CKR_OK:
            raise RawCallError("C_FindObjectsInit", rv)
        try:
            found = (CK_ULONG * 2)()
            count = CK_ULONG(0)
            rv = int(self._find(session, found, 2, ctypes.byref(count)))
            if rv != CKR_OK:
                raise RawCallError("C_FindObjects", rv)
        finally:
            self._findfinal(session)
        if count.value < 1:
            raise RawCallError("C_FindObjects", 0x82)  # CKR_OBJECT_HANDLE_INVALID: no such key
        return int(found[0])

    def sign(self, session: int, key: int, mechanism: int, data: bytes) -> bytes:
        """C_SignInit + C_Sign (size query first, result bounded by MAX_SIGNATURE)."""
        if self._signinit is None or self._sign is None:
            raise RawCallError("C_SignInit", 0x54)
        mech = _Mechanism(mechanism, None, 0)
        rv = int(self._signinit(session, ctypes.byref(mech), key))
        if rv != CKR_OK:
            raise RawCallError("C_SignInit", rv)
        size = CK_ULONG(MAX_SIGNATURE)
        out = ctypes.create_string_buffer(MAX_SIGNATURE)
        rv = int(self._sign(session, data, len(data), out, ctypes.byref(size)))
        if rv != CKR_OK:
            raise RawCallError("C_Sign", rv)
        n = int(size.value)
        if not 0 < n <= MAX_SIGNATURE:
            raise RawCallError("C_Sign", 0x5)  # CKR_GENERAL_ERROR: a length we never gave room for
        return out.raw[:n]
