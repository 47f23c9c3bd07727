"""SAR_* return codes of GM/T 0016, each mapped to one typed error — in one table.

:func:`error_for` turns a code (plus the facts of the call: which operation,
the retry count the key reported, user or SO PIN) into the exception to
raise.  Codes a library invents get :class:`~zhenglian.errors.SkfError` with
the number shown.
"""

from __future__ import annotations

from typing import NamedTuple

from zhenglian.errors import (
    PinLocked,
    SkfBadResponse,
    SkfCertificateMissing,
    SkfError,
    SkfKeyGenFailed,
    SkfNoRoom,
    SkfNotLoggedIn,
    SkfObjectMissing,
    SkfPinRejected,
    SoPinLocked,
    TokenRemoved,
    WrongPin,
    WrongSoPin,
    ZhenglianError,
)

SAR_OK = 0x00000000
SAR_INVALIDPARAMERR = 0x0A000006
SAR_BUFFER_TOO_SMALL = 0x0A000020
SAR_CERTNOTFOUNTERR = 0x0A00001C
SAR_DEVICE_REMOVED = 0x0A000023
SAR_PIN_INCORRECT = 0x0A000024
SAR_PIN_LOCKED = 0x0A000025


class Sar(NamedTuple):
    name: str
    error: type[ZhenglianError]
    zh: str
    en: str


SAR_ERRORS: dict[int, Sar] = {
    0x0A000001: Sar("SAR_FAIL", SkfError, "失败", "failed"),
    0x0A000002: Sar("SAR_UNKNOWNERR", SkfError, "未知错误", "unknown error"),
    0x0A000003: Sar("SAR_NOTSUPPORTYETERR", SkfError, "UKey 不支持该操作", "not supported by the key"),
    0x0A000004: Sar("SAR_FILEERR", SkfError, "文件操作错误", "file error"),
    0x0A000005: Sar("SAR_INVALIDHANDLEERR", SkfError, "句柄无效", "invalid handle"),
    SAR_INVALIDPARAMERR: Sar("SAR_INVALIDPARAMERR", SkfError, "参数无效", "invalid parameter"),
    0x0A000007: Sar("SAR_READFILEERR", SkfError, "读文件错误", "file read error"),
    0x0A000008: Sar("SAR_WRITEFILEERR", SkfError, "写文件错误", "file write error"),
    0x0A000009: Sar("SAR_NAMELENERR", SkfError, "名称长度错误", "bad name length"),
    0x0A00000A: Sar("SAR_KEYUSAGEERR", SkfError, "密钥用途错误", "wrong key usage"),
    0x0A00000B: Sar("SAR_MODULUSLENERR", SkfError, "模长错误", "bad modulus length"),
    0x0A00000C: Sar("SAR_NOTINITIALIZEERR", SkfError, "未初始化", "not initialised"),
    0x0A00000D: Sar("SAR_OBJERR", SkfError, "对象错误", "object error"),
    0x0A00000E: Sar("SAR_MEMORYERR", SkfError, "内存不足", "out of memory"),
    0x0A00000F: Sar("SAR_TIMEOUTERR", SkfError, "超时", "timed out"),
    0x0A000010: Sar("SAR_INDATALENERR", SkfError, "输入数据长度错误", "bad input length"),
    0x0A000011: Sar("SAR_INDATAERR", SkfError, "输入数据错误", "bad input data"),
    0x0A000012: Sar("SAR_GENRANDERR", SkfKeyGenFailed, "生成随机数错误", "random generation failed"),
    0x0A000013: Sar("SAR_HASHOBJERR", SkfError, "杂凑对象错误", "hash object error"),
    0x0A000014: Sar("SAR_HASHERR", SkfError, "杂凑运算错误", "hash failed"),
    0x0A000015: Sar("SAR_GENRSAKEYERR", SkfKeyGenFailed, "生成 RSA 密钥错误", "RSA key generation failed"),
    0x0A000016: Sar("SAR_RSAMODULUSLENERR", SkfError, "RSA 模长错误", "bad RSA modulus length"),
    0x0A000017: Sar("SAR_CSPIMPRTPUBKEYERR", SkfError, "导入公钥错误", "public key import failed"),
    0x0A000018: Sar("SAR_RSAENCERR", SkfError, "RSA 运算错误", "RSA operation failed"),
    0x0A000019: Sar("SAR_RSADECERR", SkfError, "RSA 解密错误", "RSA decryption failed"),
    0x0A00001A: Sar("SAR_HASHNOTEQUALERR", SkfError, "杂凑值不相等", "hash mismatch"),
    0x0A00001B: Sar("SAR_KEYNOTFOUNTERR", SkfObjectMissing, "密钥", "key"),
    SAR_CERTNOTFOUNTERR: Sar("SAR_CERTNOTFOUNTERR", SkfCertificateMissing, "证书", "certificate"),
    0x0A00001D: Sar("SAR_NOTEXPORTERR", SkfError, "对象不可导出", "not exportable"),
    0x0A00001E: Sar("SAR_DECRYPTPADERR", SkfError, "解密填充错误", "decryption padding error"),
    0x0A00001F: Sar("SAR_MACLENERR", SkfError, "MAC 长度错误", "bad MAC length"),
    SAR_BUFFER_TOO_SMALL: Sar("SAR_BUFFER_TOO_SMALL", SkfBadResponse, "缓冲区不足", "buffer too small"),
    0x0A000021: Sar("SAR_KEYINFOTYPEERR", SkfError, "密钥类型错误", "wrong key type"),
    0x0A000022: Sar("SAR_NOT_EVENTERR", SkfError, "无设备事件", "no device event"),
    SAR_DEVICE_REMOVED: Sar("SAR_DEVICE_REMOVED", TokenRemoved, "UKey 已拔出", "device removed"),
    SAR_PIN_INCORRECT: Sar("SAR_PIN_INCORRECT", WrongPin, "PIN 错误", "wrong PIN"),
    SAR_PIN_LOCKED: Sar("SAR_PIN_LOCKED", PinLocked, "PIN 已锁定", "PIN locked"),
    0x0A000026: Sar("SAR_PIN_INVALID", SkfPinRejected, "PIN 无效", "invalid PIN"),
    0x0A000027: Sar("SAR_PIN_LEN_RANGE", SkfPinRejected, "PIN 长度错误", "PIN length out of range"),
    0x0A000028: Sar("SAR_USER_ALREADY_LOGGED_IN", SkfError, "用户已登录", "already logged in"),
    0x0A000029: Sar("SAR_USER_PIN_NOT_INITIALIZED", SkfError, "PIN 未初始化", "PIN not initialised"),
    0x0A00002A: Sar("SAR_USER_TYPE_INVALID", SkfError, "PIN 类型错误", "invalid PIN type"),
    0x0A00002B: Sar("SAR_APPLICATION_NAME_INVALID", SkfObjectMissing, "该名称的应用", "application of that name"),
    0x0A00002C: Sar("SAR_APPLICATION_EXISTS", SkfError, "应用已存在", "application exists"),
    0x0A00002D: Sar("SAR_USER_NOT_LOGGED_IN", SkfNotLoggedIn, "用户未登录", "not logged in"),
    0x0A00002E: Sar("SAR_APPLICATION_NOT_EXISTS", SkfObjectMissing, "应用", "application"),
    0x0A00002F: Sar("SAR_FILE_ALREADY_EXIST", SkfError, "文件已存在", "file exists"),
    0x0A000030: Sar("SAR_NO_ROOM", SkfNoRoom, "空间不足", "no room on the key"),
    0x0A000031: Sar("SAR_FILE_NOT_EXIST", SkfObjectMissing, "文件或容器", "file or container"),
    0x0A000032: Sar("SAR_REACH_MAX_CONTAINER_COUNT", SkfNoRoom, "容器数已达上限", "container limit reached"),
}


def sar_name(code: int) -> str:
    entry = SAR_ERRORS.get(code)
    return entry.name if entry else f"SAR_0x{code:08X}"


def _locked(admin: bool) -> PinLocked:
    """Locked, with the generic route (the key layer adds the CA's own from its manifest)."""
    route = {"route_zh": "请联系签发该证书的 CA", "route_en": "contact the CA that issued the certificate"}
    return SoPinLocked(**route) if admin else PinLocked(**route)


def error_for(code: int, op: str, *, retry: int | None = None, admin: bool = False,
              container: str = "", sign: bool = True) -> ZhenglianError:
    """The typed error for a non-zero SAR code returned by ``op``."""
    entry = SAR_ERRORS.get(code) or Sar(sar_name(code), SkfError, "未知错误", "unknown error")
    cls = entry.error
    if cls is WrongPin:
        if retry == 0:
            return _locked(admin)
        if retry is None:  # the binding asks SKF_GetPINInfo first; a library that says nothing at all:
            return SkfError(op=op, sar_code=code, sar_zh="PIN 错误（剩余次数未知）",
                            sar_en="wrong PIN (tries left unknown)", sar_name=entry.name)
        return WrongSoPin(tries_left=retry) if admin else WrongPin(tries_left=retry)
    if cls is PinLocked:
        return _locked(admin)
    if cls is TokenRemoved:
        return TokenRemoved()
    if cls is SkfCertificateMissing:
        return SkfCertificateMissing(container=container, serial="",
                                     which_zh="签名" if sign else "加密",
                                     which_en="signing" if sign else "encryption")
    if cls is SkfObjectMissing:
        return SkfObjectMissing(what_zh=entry.zh, what_en=entry.en, op=op)
    if cls is SkfNotLoggedIn:
        return SkfNotLoggedIn(op=op)
    if cls is SkfPinRejected:
        return SkfPinRejected()
    if cls in (SkfNoRoom, SkfKeyGenFailed):
        return cls(op=op, sar_name=entry.name)
    if cls is SkfBadResponse:
        return SkfBadResponse(op=op, detail=f"{entry.name}: {entry.en}")
    return SkfError(op=op, sar_code=code, sar_zh=entry.zh, sar_en=entry.en, sar_name=entry.name)
