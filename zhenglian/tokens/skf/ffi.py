"""GM/T 0016-2012 (SKF) structures and function prototypes for ctypes.

Layouts are byte-packed as in the standard's header; ULONG is 32 bits (as on
Windows, where vendors' SKF DLLs come from).  Out-parameters declared
``ULONG *`` or ``BOOL *`` are passed as 8-byte zeroed cells (see
:func:`out_ulong`): a Linux library built with a 64-bit ``unsigned long`` or
``long BOOL`` then writes inside our memory, and on little-endian machines the
low 32 bits hold the value either way.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int32,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)

ULONG = c_uint32
BOOL = c_int32
HANDLE = c_void_p
_P = c_void_p  # every pointer argument: we pass byref()/arrays, checked by us

ECC_FIELD = 64  # bytes of each coordinate / r / s field (512 bits)
MAX_RSA_MODULUS_LEN = 256
MAX_RSA_EXPONENT_LEN = 4

ADMIN_TYPE = 0
USER_TYPE = 1
DEV_ABSENT_STATE = 0
DEV_PRESENT_STATE = 1
CONTAINER_EMPTY, CONTAINER_RSA, CONTAINER_ECC = 0, 1, 2
EVENT_INSERTED, EVENT_REMOVED = 1, 2

SGD_SM3 = 0x00000001
SGD_SHA1 = 0x00000002
SGD_SHA256 = 0x00000004
SGD_RSA = 0x00010000
SGD_SM2_1 = 0x00020200


class VERSION(Structure):
    _pack_ = 1
    _fields_ = [("major", c_uint8), ("minor", c_uint8)]


class DEVINFO(Structure):
    _pack_ = 1
    _fields_ = [
        ("Version", VERSION),
        ("Manufacturer", c_char * 64),
        ("Issuer", c_char * 64),
        ("Label", c_char * 32),
        ("SerialNumber", c_char * 32),
        ("HWVersion", VERSION),
        ("FirmwareVersion", VERSION),
        ("AlgSymCap", ULONG),
        ("AlgAsymCap", ULONG),
        ("AlgHashCap", ULONG),
        ("DevAuthAlgId", ULONG),
        ("TotalSpace", ULONG),
        ("FreeSpace", ULONG),
        ("MaxECCBufferSize", ULONG),
        ("MaxBufferSize", ULONG),
        ("Reserved", c_uint8 * 64),
    ]


class RSAPUBLICKEYBLOB(Structure):
    _pack_ = 1
    _fields_ = [
        ("AlgID", ULONG),
        ("BitLen", ULONG),
        ("Modulus", c_uint8 * MAX_RSA_MODULUS_LEN),
        ("PublicExponent", c_uint8 * MAX_RSA_EXPONENT_LEN),
    ]


class ECCPUBLICKEYBLOB(Structure):
    _pack_ = 1
    _fields_ = [
        ("BitLen", ULONG),
        ("XCoordinate", c_uint8 * ECC_FIELD),
        ("YCoordinate", c_uint8 * ECC_FIELD),
    ]


class ECCSIGNATUREBLOB(Structure):
    _pack_ = 1
    _fields_ = [("r", c_uint8 * ECC_FIELD), ("s", c_uint8 * ECC_FIELD)]


assert ctypes.sizeof(DEVINFO) == 294
assert ctypes.sizeof(RSAPUBLICKEYBLOB) == 268
assert ctypes.sizeof(ECCPUBLICKEYBLOB) == 132
assert ctypes.sizeof(ECCSIGNATUREBLOB) == 128

# name -> argument types; every function returns ULONG (a SAR_* code).
PROTOTYPES: dict[str, tuple[type, ...]] = {
    "SKF_WaitForDevEvent": (c_char_p, _P, _P),
    "SKF_CancelWaitForDevEvent": (),
    "SKF_EnumDev": (BOOL, c_char_p, _P),
    "SKF_ConnectDev": (c_char_p, _P),
    "SKF_DisConnectDev": (HANDLE,),
    "SKF_GetDevState": (c_char_p, _P),
    "SKF_GetDevInfo": (HANDLE, POINTER(DEVINFO)),
    "SKF_EnumApplication": (HANDLE, c_char_p, _P),
    "SKF_OpenApplication": (HANDLE, c_char_p, _P),
    "SKF_CloseApplication": (HANDLE,),
    "SKF_GetPINInfo": (HANDLE, ULONG, _P, _P, _P),
    "SKF_VerifyPIN": (HANDLE, ULONG, _P, _P),
    "SKF_ChangePIN": (HANDLE, ULONG, _P, _P, _P),
    "SKF_UnblockPIN": (HANDLE, _P, _P, _P),
    "SKF_ClearSecureState": (HANDLE,),
    "SKF_EnumContainer": (HANDLE, c_char_p, _P),
    "SKF_OpenContainer": (HANDLE, c_char_p, _P),
    "SKF_CloseContainer": (HANDLE,),
    "SKF_GetContainerType": (HANDLE, _P),
    "SKF_ExportCertificate": (HANDLE, BOOL, _P, _P),
    "SKF_ExportPublicKey": (HANDLE, BOOL, _P, _P),
    # online renewal: a container, a key pair made in it, the CA's certificate written beside it
    "SKF_CreateContainer": (HANDLE, c_char_p, _P),
    "SKF_DeleteContainer": (HANDLE, c_char_p),
    "SKF_GenECCKeyPair": (HANDLE, ULONG, POINTER(ECCPUBLICKEYBLOB)),
    "SKF_GenRSAKeyPair": (HANDLE, ULONG, POINTER(RSAPUBLICKEYBLOB)),
    "SKF_ImportCertificate": (HANDLE, BOOL, _P, ULONG),
    "SKF_ECCSignData": (HANDLE, _P, ULONG, POINTER(ECCSIGNATUREBLOB)),
    "SKF_RSASignData": (HANDLE, _P, ULONG, _P, _P),
    "SKF_DigestInit": (HANDLE, ULONG, _P, _P, ULONG, _P),
    "SKF_Digest": (HANDLE, _P, ULONG, _P, _P),
    "SKF_DigestUpdate": (HANDLE, _P, ULONG),
    "SKF_DigestFinal": (HANDLE, _P, _P),
    "SKF_CloseHandle": (HANDLE,),
}

# Without these a library cannot list, log in or sign: refused at load.
REQUIRED = (
    "SKF_EnumDev", "SKF_ConnectDev", "SKF_DisConnectDev", "SKF_GetDevInfo",
    "SKF_EnumApplication", "SKF_OpenApplication", "SKF_CloseApplication",
    "SKF_GetPINInfo", "SKF_VerifyPIN", "SKF_ChangePIN",
    "SKF_EnumContainer", "SKF_OpenContainer", "SKF_CloseContainer", "SKF_GetContainerType",
    "SKF_ExportCertificate",
)


# Without these a library cannot renew a certificate on the key (checked when a renewal starts).
RENEWAL = ("SKF_CreateContainer", "SKF_DeleteContainer", "SKF_GenECCKeyPair", "SKF_GenRSAKeyPair",
           "SKF_ImportCertificate", "SKF_ExportPublicKey")


def out_ulong(value: int = 0) -> c_uint64:
    """An 8-byte cell for a ``ULONG *`` / ``BOOL *`` out-parameter."""
    return c_uint64(value & 0xFFFFFFFF)


def low32(cell: c_uint64) -> int:
    return int(cell.value) & 0xFFFFFFFF


def field_text(raw: bytes) -> str:
    """A fixed-size CHAR[] field: up to the first NUL, UTF-8 or else GB18030."""
    raw = raw.split(b"\0", 1)[0].strip()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", "replace")


def bind(lib: ctypes.CDLL) -> tuple[dict[str, ctypes._CFuncPtr], list[str]]:
    """Prototype every SKF function the library exports; returns (functions, missing required)."""
    funcs: dict[str, ctypes._CFuncPtr] = {}
    for name, argtypes in PROTOTYPES.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            continue
        f.argtypes = list(argtypes)
        f.restype = ULONG
        funcs[name] = f
    missing = [n for n in REQUIRED if n not in funcs]
    return funcs, missing
