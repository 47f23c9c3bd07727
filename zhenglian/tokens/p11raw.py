"""The four PIN calls of PKCS#11, made through ctypes with wipeable buffers.

python-pkcs11 takes PINs as ``str`` and copies them into immutable ``bytes``
that cannot be wiped.  For C_Login, C_SetPIN and C_InitPIN we therefore call
the module ourselves: ``dlopen`` of the same file returns the library that
python-pkcs11 already loaded (same handle, same state), so a login made here
applies to python-pkcs11's session.  The PIN stays in a ``bytearray`` that the
caller wipes after use.

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

_ORDER = (
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
    "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
    "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
    "C_SetOperationState", "C_Login", "C_Logout",
)

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


class RawPinCalls:
    """C_Login / C_Logout / C_SetPIN / C_InitPIN (and C_GetTokenInfo) of one loaded module."""

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
