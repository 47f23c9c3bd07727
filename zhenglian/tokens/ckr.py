"""One table for PKCS#11 return codes: CKR value → name → the user-facing error.

Every place that meets a PKCS#11 failure (python-pkcs11's exceptions, our raw
ctypes calls for the PIN and for signing) turns it into a typed error here, so
"the key was pulled out" or "the PIN is locked" reads the same wherever it
happened.  Failed PIN calls that spent a try are the one exception: they need
the key's state afterwards and are turned into errors by
:func:`zhenglian.tokens.pin.failure` (which uses this table for the rest).

A module's own text is never shown: it could echo input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from zhenglian import errors

log = logging.getLogger(__name__)

# CKR values (PKCS#11 v2.40, pkcs11t.h).  Only the ones that mean something to an
# operator are named; the rest are shown as "CKR 0x…".
NAMES: dict[int, str] = {
    0x000: "CKR_OK",
    0x001: "CKR_CANCEL",
    0x002: "CKR_HOST_MEMORY",
    0x003: "CKR_SLOT_ID_INVALID",
    0x005: "CKR_GENERAL_ERROR",
    0x006: "CKR_FUNCTION_FAILED",
    0x007: "CKR_ARGUMENTS_BAD",
    0x020: "CKR_DATA_INVALID",
    0x021: "CKR_DATA_LEN_RANGE",
    0x030: "CKR_DEVICE_ERROR",
    0x031: "CKR_DEVICE_MEMORY",
    0x032: "CKR_DEVICE_REMOVED",
    0x050: "CKR_FUNCTION_CANCELED",
    0x054: "CKR_FUNCTION_NOT_SUPPORTED",
    0x060: "CKR_KEY_HANDLE_INVALID",
    0x063: "CKR_KEY_TYPE_INCONSISTENT",
    0x068: "CKR_KEY_FUNCTION_NOT_PERMITTED",
    0x070: "CKR_MECHANISM_INVALID",
    0x071: "CKR_MECHANISM_PARAM_INVALID",
    0x082: "CKR_OBJECT_HANDLE_INVALID",
    0x090: "CKR_OPERATION_ACTIVE",
    0x091: "CKR_OPERATION_NOT_INITIALIZED",
    0x0A0: "CKR_PIN_INCORRECT",
    0x0A1: "CKR_PIN_INVALID",
    0x0A2: "CKR_PIN_LEN_RANGE",
    0x0A3: "CKR_PIN_EXPIRED",
    0x0A4: "CKR_PIN_LOCKED",
    0x0B0: "CKR_SESSION_CLOSED",
    0x0B1: "CKR_SESSION_COUNT",
    0x0B3: "CKR_SESSION_HANDLE_INVALID",
    0x0B5: "CKR_SESSION_READ_ONLY",
    0x0B6: "CKR_SESSION_EXISTS",
    0x0B7: "CKR_SESSION_READ_ONLY_EXISTS",
    0x0C0: "CKR_SIGNATURE_INVALID",
    0x0C1: "CKR_SIGNATURE_LEN_RANGE",
    0x0E0: "CKR_TOKEN_NOT_PRESENT",
    0x0E1: "CKR_TOKEN_NOT_RECOGNIZED",
    0x0E2: "CKR_TOKEN_WRITE_PROTECTED",
    0x100: "CKR_USER_ALREADY_LOGGED_IN",
    0x101: "CKR_USER_NOT_LOGGED_IN",
    0x102: "CKR_USER_PIN_NOT_INITIALIZED",
    0x103: "CKR_USER_TYPE_INVALID",
    0x104: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    0x150: "CKR_BUFFER_TOO_SMALL",
    0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
}
BY_NAME = {v: k for k, v in NAMES.items()}

REMOVED = frozenset({0x032, 0x0E0, 0x0E1, 0x0B0, 0x0B3, 0x003, 0x060, 0x082})
PIN_LOCKED = 0x0A4
PIN_INCORRECT = 0x0A0
PIN_BAD_FORM = frozenset({0x0A1, 0x0A2})
CANCELLED = frozenset({0x001, 0x050})
MECHANISM = frozenset({0x070, 0x071, 0x063, 0x068})


def name(rv: int) -> str:
    return NAMES.get(rv, f"CKR {rv:#x}")


def error_for(rv: int, *, locked: Callable[[], errors.PinLocked] | None = None,
              where: str = "") -> errors.ZhenglianError:
    """The typed error for a failed call.  ``locked`` builds PinLocked with the unlock route."""
    if rv in REMOVED:
        return errors.TokenRemoved()
    if rv == PIN_LOCKED:
        return locked() if locked is not None else errors.PinLocked(
            route_zh="请联系签发该证书的 CA", route_en="contact the CA that issued the certificate")
    if rv in PIN_BAD_FORM:
        return errors.PinPolicyViolation(problems_zh="UKey 不接受该 PIN 的长度或字符",
                                         problems_en="the key does not accept this PIN's length or characters")
    if rv in CANCELLED:
        return errors.PinCancelled()
    if rv in MECHANISM:
        return errors.MechanismUnsupported(mechanism=name(rv))
    return token_error(name(rv), where)


# What an operator reads for the codes keys answer most; the code itself stays beside it, for support.
_PLAIN: dict[str, tuple[str, str]] = {
    "CKR_USER_NOT_LOGGED_IN": ("UKey 未登录", "the key is not logged in"),
    "CKR_DEVICE_ERROR": ("UKey 无响应或出错", "the key did not answer or reported a fault"),
    "CKR_DEVICE_MEMORY": ("UKey 存储空间不足", "the key is out of memory"),
    "CKR_SESSION_HANDLE_INVALID": ("与 UKey 的连接已中断", "the connection to the key was lost"),
    "CKR_SESSION_CLOSED": ("与 UKey 的连接已中断", "the connection to the key was lost"),
    "CKR_SESSION_COUNT": ("UKey 同时打开的连接过多", "the key has too many connections open"),
    "CKR_FUNCTION_NOT_SUPPORTED": ("UKey 的驱动不支持这项操作", "the key's driver does not support this"),
}


def token_error(code_name: str, where: str = "") -> errors.TokenError:
    """A key failure in words, with its code; the driver file goes to the log, not on screen."""
    if where:
        log.info("key call failed: %s (%s)", code_name, where)
    what_zh, what_en = _PLAIN.get(code_name, ("UKey 返回了错误", "the key returned an error"))
    return errors.TokenError(what_zh=what_zh, what_en=what_en, detail=code_name)


def rv_of(exc: BaseException) -> int | None:
    """The CKR value behind a python-pkcs11 exception (its class names the code)."""
    cls = type(exc).__name__
    for candidate in _EXC_NAMES.get(cls, ()):
        if candidate in BY_NAME:
            return BY_NAME[candidate]
    return None


# python-pkcs11's exception classes → the CKR they are raised for (pkcs11/_pkcs11.pxd map_rv_to_error).
_EXC_NAMES: dict[str, tuple[str, ...]] = {
    "DeviceRemoved": ("CKR_DEVICE_REMOVED",), "TokenNotPresent": ("CKR_TOKEN_NOT_PRESENT",),
    "TokenNotRecognised": ("CKR_TOKEN_NOT_RECOGNIZED",), "SessionHandleInvalid": ("CKR_SESSION_HANDLE_INVALID",),
    "SessionClosed": ("CKR_SESSION_CLOSED",), "SlotIDInvalid": ("CKR_SLOT_ID_INVALID",),
    "KeyHandleInvalid": ("CKR_KEY_HANDLE_INVALID",), "ObjectHandleInvalid": ("CKR_OBJECT_HANDLE_INVALID",),
    "PinLocked": ("CKR_PIN_LOCKED",), "PinIncorrect": ("CKR_PIN_INCORRECT",), "PinInvalid": ("CKR_PIN_INVALID",),
    "PinLenRange": ("CKR_PIN_LEN_RANGE",), "PinExpired": ("CKR_PIN_EXPIRED",),
    "FunctionCancelled": ("CKR_FUNCTION_CANCELED",), "MechanismInvalid": ("CKR_MECHANISM_INVALID",),
    "MechanismParamInvalid": ("CKR_MECHANISM_PARAM_INVALID",), "KeyTypeInconsistent": ("CKR_KEY_TYPE_INCONSISTENT",),
    "UserNotLoggedIn": ("CKR_USER_NOT_LOGGED_IN",), "GeneralError": ("CKR_GENERAL_ERROR",),
    "FunctionFailed": ("CKR_FUNCTION_FAILED",), "DeviceError": ("CKR_DEVICE_ERROR",),
    "DeviceMemory": ("CKR_DEVICE_MEMORY",), "FunctionNotSupported": ("CKR_FUNCTION_NOT_SUPPORTED",),
    "SessionCount": ("CKR_SESSION_COUNT",), "SessionReadOnly": ("CKR_SESSION_READ_ONLY",),
    "SessionReadOnlyExists": ("CKR_SESSION_READ_ONLY_EXISTS",), "UserAlreadyLoggedIn": ("CKR_USER_ALREADY_LOGGED_IN",),
    "AnotherUserAlreadyLoggedIn": ("CKR_USER_ANOTHER_ALREADY_LOGGED_IN",),
    "UserPinNotInitialized": ("CKR_USER_PIN_NOT_INITIALIZED",), "DataLenRange": ("CKR_DATA_LEN_RANGE",),
    "DataInvalid": ("CKR_DATA_INVALID",), "HostMemory": ("CKR_HOST_MEMORY",), "ArgumentsBad": ("CKR_ARGUMENTS_BAD",),
}


def from_exception(exc: BaseException, *, locked: Callable[[], errors.PinLocked] | None = None,
                   where: str = "") -> errors.ZhenglianError:
    """python-pkcs11 exception → typed error, through the same table."""
    if isinstance(exc, errors.ZhenglianError):
        return exc
    rv = rv_of(exc)
    if rv is None:
        return token_error(type(exc).__name__, where)
    return error_for(rv, locked=locked, where=where)
