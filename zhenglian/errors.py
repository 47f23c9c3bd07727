"""Every error the user can meet, as a type, each mapped to one message here.

Code below raises these types with facts (paths, counts, names); this module
alone turns them into words.  Messages are Chinese first, then English.  No
error ever carries a PIN: constructors take only the facts listed in their
templates.

Exit codes of the command line come from the same table, so a script can tell
"wrong PIN" from "no key" without parsing text (see docs/cli.md).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ExitCode:
    OK = 0
    ERROR = 1
    USAGE = 2
    NO_KEY = 3
    DRIVER = 4
    WRONG_PIN = 5
    PIN_LOCKED = 6
    CANCELLED = 7
    PIN_POLICY = 8
    CERTIFICATE = 9
    CONFIG = 10
    DOCUMENT = 11
    SERVER = 12


class ZhenglianError(Exception):
    """Base of all user-facing errors.

    Subclasses set ``code`` (stable, machine-readable), ``exit_code`` and the
    ``zh`` / ``en`` message templates; ``facts`` fill the templates.
    """

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = ExitCode.ERROR
    zh: ClassVar[str] = "发生错误：{detail}"
    en: ClassVar[str] = "An error occurred: {detail}"
    # What the user can do next; optional.
    hint_zh: ClassVar[str] = ""
    hint_en: ClassVar[str] = ""

    def __init__(self, **facts: Any) -> None:
        self.facts = facts
        super().__init__(self.message_en())

    def _fmt(self, template: str) -> str:
        try:
            return template.format(**self.facts)
        except (KeyError, IndexError, ValueError):
            return template

    def message_zh(self) -> str:
        return self._fmt(self.zh)

    def message_en(self) -> str:
        return self._fmt(self.en)

    def hint(self) -> tuple[str, str]:
        return self._fmt(self.hint_zh), self._fmt(self.hint_en)

    def user_message(self) -> str:
        """Chinese first, then English, then what to do next."""
        lines = [self.message_zh(), self.message_en()]
        hz, he = self.hint()
        if hz:
            lines.append(hz)
        if he:
            lines.append(he)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message_zh": self.message_zh(),
            "message_en": self.message_en(),
            "exit_code": self.exit_code,
        }


# --- configuration ---------------------------------------------------------

class ManifestError(ZhenglianError):
    code = "manifest_invalid"
    exit_code = ExitCode.CONFIG
    zh = "驱动清单 {file} 有误：字段 {field} {problem}"
    en = "Driver manifest {file} is invalid: field {field} {problem}"


class ConfigError(ZhenglianError):
    code = "config_invalid"
    exit_code = ExitCode.CONFIG
    zh = "设置文件 {file} 有误：{problem}"
    en = "Settings file {file} is invalid: {problem}"


class UsageError(ZhenglianError):
    code = "usage"
    exit_code = ExitCode.USAGE
    zh = "用法错误：{detail}"
    en = "Usage error: {detail}"


# --- drivers (PKCS#11 modules) ---------------------------------------------

class DriverError(ZhenglianError):
    code = "driver_error"
    exit_code = ExitCode.DRIVER
    zh = "驱动 {path} 出错：{detail}"
    en = "Driver {path} failed: {detail}"


class DriverMissing(DriverError):
    code = "driver_missing"
    zh = "找不到驱动文件 {path}"
    en = "Driver file not found: {path}"
    hint_zh = "请安装该 CA 的 UKey 驱动，或在设置中指定驱动文件的正确位置。"
    hint_en = "Install the CA's UKey driver, or point the settings at the right module file."


class DriverInvalid(DriverError):
    code = "driver_invalid"
    zh = "{path} 不是可用的 PKCS#11 驱动：{detail}"
    en = "{path} is not a usable PKCS#11 module: {detail}"
    hint_zh = "请确认选择的是 CA 提供的 PKCS#11 驱动文件（.dll / .so），且与本程序位数一致（64 位）。"
    hint_en = "Check that the file is the CA's PKCS#11 module (.dll / .so) and matches this program (64-bit)."


class DriverInitFailed(DriverError):
    code = "driver_init_failed"
    zh = "驱动 {path} 初始化失败：{detail}"
    en = "Driver {path} failed to initialise: {detail}"
    hint_zh = "请重新插拔 UKey；若仍失败，请重新安装该 CA 的驱动。"
    hint_en = "Unplug and replug the key; if that does not help, reinstall the CA's driver."


# --- keys ------------------------------------------------------------------

class NoKey(ZhenglianError):
    code = "no_key"
    exit_code = ExitCode.NO_KEY
    zh = "未检测到 UKey{which}"
    en = "No key found{which_en}"
    hint_zh = "请插入 UKey 后重试；若已插入，请运行“zhenglian doctor”查看驱动情况。"
    hint_en = "Plug in the key and try again; if it is plugged in, run 'zhenglian doctor'."

    def __init__(self, serial: str | None = None) -> None:
        super().__init__(
            which=f"（序列号 {serial}）" if serial else "",
            which_en=f" (serial {serial})" if serial else "",
        )


class KeyAmbiguous(ZhenglianError):
    code = "key_ambiguous"
    exit_code = ExitCode.NO_KEY
    zh = "插入了多个 UKey（{serials}），请用 --key 指定序列号"
    en = "Several keys are plugged in ({serials}); choose one with --key SERIAL"


class TokenRemoved(ZhenglianError):
    code = "token_removed"
    exit_code = ExitCode.NO_KEY
    zh = "UKey 已被拔出，操作未完成"
    en = "The key was removed; the operation did not complete"
    hint_zh = "请重新插入 UKey 后再试，未完成的文件保持原样。"
    hint_en = "Plug the key back in and try again; unfinished documents are unchanged."


class TokenError(ZhenglianError):
    code = "token_error"
    exit_code = ExitCode.DRIVER
    zh = "UKey 操作失败：{detail}"
    en = "Key operation failed: {detail}"


# --- PIN -------------------------------------------------------------------

class WrongPin(ZhenglianError):
    code = "wrong_pin"
    exit_code = ExitCode.WRONG_PIN
    zh = "PIN 错误，还可尝试 {tries_left} 次"
    en = "Wrong PIN, {tries_left} tries left"


class PinLocked(ZhenglianError):
    code = "pin_locked"
    exit_code = ExitCode.PIN_LOCKED
    zh = "UKey 的 PIN 已锁定，不能再输入 PIN"
    en = "The key's PIN is locked; no PIN can be entered"
    hint_zh = "解锁须由 CA 办理（免费）：{route_zh}"
    hint_en = "Only the CA can unlock it (free of charge): {route_en}"


class PinCancelled(ZhenglianError):
    code = "cancelled"
    exit_code = ExitCode.CANCELLED
    zh = "已取消"
    en = "Cancelled"


class PinPolicyViolation(ZhenglianError):
    code = "pin_policy"
    exit_code = ExitCode.PIN_POLICY
    zh = "PIN 不符合要求：{problems_zh}（未提交到 UKey，不计入错误次数）"
    en = "The PIN does not meet the rules: {problems_en} (not sent to the key; no try used)"


# --- certificates ----------------------------------------------------------

class CertificateExpired(ZhenglianError):
    code = "certificate_expired"
    exit_code = ExitCode.CERTIFICATE
    zh = "证书已于 {not_after} 过期，电子印章随之失效"
    en = "The certificate expired on {not_after}; its seal expired with it"
    hint_zh = "过期证书须填写纸质申请表办理“更新续期”，详见“证书续期”。"
    hint_en = "An expired certificate is renewed with the CA's paper form; see 'Renew certificate'."


class CertificateNotYetValid(ZhenglianError):
    code = "certificate_not_yet_valid"
    exit_code = ExitCode.CERTIFICATE
    zh = "证书自 {not_before} 起才生效"
    en = "The certificate is not valid before {not_before}"
    hint_zh = "请检查电脑的日期和时间。"
    hint_en = "Check the computer's date and time."


class NoCertificate(ZhenglianError):
    code = "no_certificate"
    exit_code = ExitCode.CERTIFICATE
    zh = "UKey（序列号 {serial}）上没有可用于签名的证书"
    en = "The key (serial {serial}) holds no signing certificate"


def describe(exc: BaseException) -> str:
    """A message for any exception, for the last-resort handler.

    Known errors speak for themselves; anything else gets a generic sentence
    naming only the exception type, never its text (which could carry data).
    """
    if isinstance(exc, ZhenglianError):
        return exc.user_message()
    return ZhenglianError(detail=type(exc).__name__).user_message()


# --- seals -----------------------------------------------------------------

class SealFontMissing(ZhenglianError):
    code = "seal_font_missing"
    exit_code = ExitCode.CONFIG
    zh = "找不到可用于制作印章的中文字体（已查找：{searched}）"
    en = "No Chinese font found to draw the seal (looked for: {searched})"
    hint_zh = "请安装宋体/仿宋或 Noto CJK 字体（Debian/Ubuntu：fonts-noto-cjk），或用环境变量 ZHENGLIAN_SEAL_FONT 指定字体文件。"
    hint_en = "Install SimSun/FangSong or a Noto CJK font (Debian/Ubuntu: fonts-noto-cjk), or set ZHENGLIAN_SEAL_FONT to a font file."


class SealInvalid(ZhenglianError):
    code = "seal_invalid"
    exit_code = ExitCode.CERTIFICATE
    zh = "电子印章数据无效：{detail}"
    en = "The electronic seal data is invalid: {detail}"


class FinalTryNotConfirmed(ZhenglianError):
    code = "final_try_unconfirmed"
    exit_code = ExitCode.CANCELLED
    zh = "只剩最后一次尝试机会，再错 UKey 将被锁定；未经确认不会提交 PIN"
    en = "Only one try is left and a wrong PIN locks the key; the PIN is not sent without confirmation"
    hint_zh = "确认 PIN 无误后再试（命令行：加 --confirm-final-try）。"
    hint_en = "Make sure the PIN is right, then confirm (command line: add --confirm-final-try)."


class InitialPinInUse(ZhenglianError):
    code = "initial_pin"
    exit_code = ExitCode.PIN_POLICY
    zh = "UKey 仍在使用出厂初始 PIN，请立即修改"
    en = "The key still uses its factory PIN; change it now"
    hint_zh = "运行“zhenglian pin change”或在托盘菜单选择“修改PIN”。"
    hint_en = "Run 'zhenglian pin change' or choose 修改PIN (Change PIN) in the tray menu."


class SealImportFailed(ZhenglianError):
    code = "seal_import_failed"
    exit_code = ExitCode.USAGE
    zh = "无法导入印章：{problem_zh}"
    en = "Cannot import the seal: {problem_en}"


# --- PIN (SO / administrator PIN) -----------------------------------------

class WrongSoPin(WrongPin):
    code = "wrong_so_pin"
    zh = "管理员 PIN（SO PIN）错误，还可尝试 {tries_left} 次"
    en = "Wrong SO (administrator) PIN, {tries_left} tries left"


class SoPinLocked(PinLocked):
    code = "so_pin_locked"
    zh = "UKey 的管理员 PIN（SO PIN）已锁定，不能再用它解锁"
    en = "The key's SO (administrator) PIN is locked; it can no longer unlock the key"
    hint_zh = "请联系 CA 办理：{route_zh}"
    hint_en = "Contact the CA: {route_en}"


class VendorClientMissing(ZhenglianError):
    code = "vendor_client_missing"
    exit_code = ExitCode.DRIVER
    zh = "未找到{name}，请先安装该 CA 的驱动与客户端"
    en = "{name_en} was not found; install the CA's driver and client first"


# --- certificate lifecycle (renewal, CA service forms) ---------------------

class RenewalNotConfigured(ZhenglianError):
    code = "renewal_not_configured"
    exit_code = ExitCode.CONFIG
    zh = "{ca} 未提供在线续期服务地址，无法在线续期"
    en = "{ca_en} publishes no online renewal address; the certificate cannot be renewed online"
    hint_zh = "请联系 CA 办理续期，或用 --est-url 指定续期服务地址（演示 CA：zhenglian.reference.est）。"
    hint_en = "Ask the CA to renew it, or give the renewal service with --est-url (demo CA: zhenglian.reference.est)."


class RenewalNetworkError(ZhenglianError):
    code = "renewal_network"
    exit_code = ExitCode.SERVER
    zh = "无法连接 CA 的续期服务 {url}（{detail}），证书未更改"
    en = "Cannot reach the CA's renewal service {url} ({detail}); the certificate is unchanged"
    hint_zh = "UKey 上原证书仍可正常使用。请检查网络后重试。"
    hint_en = "The key's current certificate still works. Check the network and try again."


class RenewalRefused(ZhenglianError):
    code = "renewal_refused"
    exit_code = ExitCode.SERVER
    zh = "CA 拒绝了续期申请（HTTP {status}：{reason}），证书未更改"
    en = "The CA refused the renewal (HTTP {status}: {reason}); the certificate is unchanged"
    hint_zh = "UKey 上原证书仍可正常使用。请联系 CA 客服了解原因。"
    hint_en = "The key's current certificate still works. Ask the CA's helpdesk why."


class RenewalBadCertificate(ZhenglianError):
    code = "renewal_bad_certificate"
    exit_code = ExitCode.CERTIFICATE
    zh = "CA 返回的新证书未通过检查：{problem_zh}；新证书未写入 UKey"
    en = "The certificate the CA returned failed a check: {problem_en}; it was not written to the key"
    hint_zh = "UKey 上原证书仍可正常使用。请联系 CA 客服。"
    hint_en = "The key's current certificate still works. Contact the CA's helpdesk."


class RenewalKeyRemoved(TokenRemoved):
    code = "renewal_key_removed"
    zh = "续期过程中 UKey 被拔出（{stage_zh}），续期未完成"
    en = "The key was removed during renewal ({stage_en}); the renewal did not complete"
    hint_zh = "原证书仍在 UKey 上。{saved_zh}请重新插入 UKey 后再运行续期。"
    hint_en = "The current certificate is still on the key. {saved_en}Plug the key back in and renew again."


class RenewalUnsupportedKey(ZhenglianError):
    code = "renewal_unsupported_key"
    exit_code = ExitCode.CERTIFICATE
    zh = "暂不支持在线续期 {key_type} 密钥的证书"
    en = "Online renewal of a certificate with a {key_type} key is not supported yet"
    hint_zh = "请使用 CA 自带的证书客户端续期，或联系 CA。"
    hint_en = "Use the CA's own certificate client, or contact the CA."


class FormFontMissing(ZhenglianError):
    code = "form_font_missing"
    exit_code = ExitCode.CONFIG
    zh = "找不到可嵌入申请表的中文 TrueType 字体（已查找：{searched}）"
    en = "No Chinese TrueType font found to embed in the form (looked for: {searched})"
    hint_zh = "请安装宋体（Windows 自带 simsun.ttc）或 fonts-arphic-uming / fonts-wqy-zenhei，或用环境变量 ZHENGLIAN_FORM_FONT 指定字体文件。"
    hint_en = "Install SimSun (simsun.ttc, part of Windows) or fonts-arphic-uming / fonts-wqy-zenhei, or set ZHENGLIAN_FORM_FONT to a font file."


class CertificateNotRemembered(ZhenglianError):
    code = "certificate_not_remembered"
    exit_code = ExitCode.NO_KEY
    zh = "未插入 UKey，且没有记录过{which}证书"
    en = "No key is plugged in and no {which_en}certificate was seen before"
    hint_zh = "请插入 UKey，或用 --cert-sha256 指定以前见过的证书（见“zhenglian renew --list”）。"
    hint_en = "Plug the key in, or pick a certificate seen before with --cert-sha256 (see 'zhenglian renew --list')."


class OutputWriteFailed(ZhenglianError):
    code = "output_write_failed"
    exit_code = ExitCode.DOCUMENT
    zh = "无法写入 {path}（{detail}），未生成文件"
    en = "Cannot write {path} ({detail}); no file was written"


# --- PIN (SO / administrator PIN) -----------------------------------------

class WrongSoPin(WrongPin):
    code = "wrong_so_pin"
    zh = "管理员 PIN（SO PIN）错误，还可尝试 {tries_left} 次"
    en = "Wrong SO (administrator) PIN, {tries_left} tries left"


class SoPinLocked(PinLocked):
    code = "so_pin_locked"
    zh = "UKey 的管理员 PIN（SO PIN）已锁定，不能再用它解锁"
    en = "The key's SO (administrator) PIN is locked; it can no longer unlock the key"
    hint_zh = "请联系 CA 办理：{route_zh}"
    hint_en = "Contact the CA: {route_en}"
