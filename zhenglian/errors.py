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
    REGISTER = 13


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
    zh = "UKey 操作失败：{what_zh}（{detail}）"
    en = "Key operation failed: {what_en} ({detail})"
    hint_zh = "请拔下 UKey 重新插入后再试；如仍失败，请运行“zhenglian doctor”并把结果发给技术支持。"
    hint_en = ("Unplug the key, plug it in again and retry; if it still fails, run 'zhenglian doctor' and send the "
               "result to technical support.")


# --- PIN -------------------------------------------------------------------

class WrongPin(ZhenglianError):
    code = "wrong_pin"
    exit_code = ExitCode.WRONG_PIN
    zh = "PIN 错误，{left_zh}"
    en = "Wrong PIN, {left_en}"

    def __init__(self, tries_left: int, exact: bool = True) -> None:
        # ``exact`` False: the count is the client's own (tries made elsewhere are not in it).
        super().__init__(tries_left=tries_left,
                         left_zh=f"{'' if exact else '最多'}还可尝试 {tries_left} 次",
                         left_en=f"{'' if exact else 'at most '}{tries_left} tries left")


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


class PinUnreadable(ZhenglianError):
    """A PIN whose characters cannot be encoded (a lone surrogate from a non-UTF-8 terminal or pipe).

    Carries no fact at all: the text it was raised for is the PIN.
    """

    code = "pin_unreadable"
    exit_code = ExitCode.USAGE
    zh = "PIN 含有无法识别的字符，请检查输入法"
    en = "The PIN holds characters that cannot be read; check the input method"
    hint_zh = "PIN 未提交到 UKey，不计入错误次数。"
    hint_en = "The PIN was not sent to the key; no try was used."


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


class RenewalInsecure(ZhenglianError):
    code = "renewal_insecure"
    exit_code = ExitCode.CONFIG
    zh = "续期服务地址 {url} 未使用 HTTPS，已拒绝连接（只有本机 127.0.0.1 可用 http），证书未更改"
    en = "The renewal service {url} does not use HTTPS; refused (plain http only for 127.0.0.1); the certificate is unchanged"
    hint_zh = "请向 CA 确认以 https:// 开头的续期服务地址。"
    hint_en = "Ask the CA for the renewal service's https:// address."


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
    zh = "无法写入 {path}（{detail_zh}），未生成文件"
    en = "Cannot write {path} ({detail_en}); no file was written"
    hint_zh = "请检查磁盘剩余空间和该文件夹的写入权限，或换一个保存位置后再试。"
    hint_en = "Check the free disk space and that the folder may be written to, or choose another place, then retry."

    # What the operating system said, in words (its own text is English, or the C locale's).
    _BY_ERRNO: ClassVar[dict[str, tuple[str, str]]] = {
        "ENOSPC": ("磁盘空间不足", "the disk is full"), "EDQUOT": ("超出磁盘配额", "the disk quota is used up"),
        "EACCES": ("没有写入权限", "no permission to write there"), "EPERM": ("没有写入权限", "no permission to write there"),
        "EROFS": ("该位置只读", "the place is read-only"), "ENOENT": ("文件夹不存在", "no such folder"),
        "EISDIR": ("这是一个文件夹", "it is a folder"), "ENAMETOOLONG": ("文件名过长", "the file name is too long"),
    }

    @classmethod
    def of(cls, path: object, exc: BaseException) -> OutputWriteFailed:
        """The error for ``exc`` met while writing ``path``."""
        import errno as errno_names

        name = errno_names.errorcode.get(getattr(exc, "errno", None) or -1, "")
        zh, en = cls._BY_ERRNO.get(name, ("系统错误 " + (name or type(exc).__name__),
                                          "system error " + (name or type(exc).__name__)))
        return cls(path=str(path), detail_zh=zh, detail_en=en)


class OutputIsFolder(ZhenglianError):
    code = "output_is_folder"
    exit_code = ExitCode.USAGE
    zh = "输出位置 {path} 是一个文件夹，而不是文件名，未签署"
    en = "The output {path} is a folder, not a file name; not signed"
    hint_zh = "请在文件夹后加上文件名，或用 --out-dir 指定输出文件夹。"
    hint_en = "Add a file name after the folder, or give the folder with --out-dir."


# --- PDF documents (signing and verification) ------------------------------

class DocumentNotFound(ZhenglianError):
    code = "document_not_found"
    exit_code = ExitCode.DOCUMENT
    zh = "找不到或无法读取文件 {path}"
    en = "Cannot find or read {path}"


class DocumentTooComplex(ZhenglianError):
    code = "document_too_complex"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 到第 {page} 页为止的内容展开后过大（超过 {limit_mb} MB），无法在其中查找文字，未签署"
    en = "{path} is too large to search for text: its content up to page {page} expands beyond {limit_mb} MB; not signed"
    hint_zh = "请改用 --page 与 --at 指定盖章位置，或向发送方重新获取文件。"
    hint_en = "Give the position with --page and --at instead, or ask the sender for the document again."


class DocumentTooComplexToShow(DocumentTooComplex):
    """The same budget (pdf/textbudget), met before PDFium draws the pages for the preview."""

    code = "document_too_complex_to_show"
    zh = "{path} 到第 {page} 页为止的内容展开后过大（超过 {limit_mb} MB），无法显示预览"
    en = "{path} is too large to preview: its content up to page {page} expands beyond {limit_mb} MB"
    hint_zh = "文档未被显示；请向发送方重新获取文件。"
    hint_en = "The document was not drawn; ask the sender for the document again."


class PageTooSlowToShow(ZhenglianError):
    """A page PDFium did not finish drawing in the preview's time (pdf/rendering.RENDER_SECONDS)."""

    code = "page_too_slow_to_show"
    exit_code = ExitCode.DOCUMENT
    zh = "第 {page} 页的内容过于繁复，{seconds} 秒内未能画完，预览中不显示此页"
    en = "Page {page} is too intricate to draw within {seconds} s; it is not shown in the preview"
    hint_zh = "其他页面仍可查看；文档本身未受影响。"
    hint_en = "The other pages can still be viewed; the document itself is unchanged."


class DocumentCorrupt(ZhenglianError):
    code = "document_corrupt"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 不是完好的 PDF 文件（{detail}），未签署"
    en = "{path} is not an intact PDF ({detail}); not signed"
    hint_zh = "请向发送方重新获取文件，或用 PDF 软件“另存为”后再签。"
    hint_en = "Get the file again from its sender, or re-save it with a PDF program, then sign."


class DocumentUnreadable(DocumentCorrupt):
    """The same broken document met by a verification: it says so, not "not signed"."""

    zh = "{path} 不是完好的 PDF 文件（{detail}），无法核验其中的签名"
    en = "{path} is not an intact PDF ({detail}); its signatures cannot be checked"
    hint_zh = "请向发送方重新获取文件。"
    hint_en = "Ask the sender for the document again."


class DocumentEncrypted(ZhenglianError):
    code = "document_encrypted"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 已加密，需要打开密码"
    en = "{path} is encrypted and needs its password"
    hint_zh = "命令行：加 --password-stdin 并从标准输入提供文档密码。"
    hint_en = "Command line: add --password-stdin and give the document password on standard input."


class DocumentPasswordWrong(ZhenglianError):
    code = "document_password_wrong"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 的文档密码不正确"
    en = "Wrong document password for {path}"


class DocumentUnsupportedEncryption(ZhenglianError):
    code = "document_encryption_unsupported"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 使用证书加密（{detail}），无法签署"
    en = "{path} is encrypted to certificates ({detail}); it cannot be signed"


class DocumentLocked(ZhenglianError):
    code = "document_locked"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 不允许再修改：{reason_zh}"
    en = "{path} does not allow changes: {reason_en}"
    hint_zh = "请向文件的发送方索取未锁定的版本。"
    hint_en = "Ask the sender for a version that is not locked."


class OutputIsInput(ZhenglianError):
    code = "output_is_input"
    exit_code = ExitCode.USAGE
    zh = "输出文件不能与输入文件相同（{path}）：原文件永远不会被改动"
    en = "The output must not be the input ({path}): the original is never changed"


class PageOutOfRange(ZhenglianError):
    code = "page_out_of_range"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 只有 {pages} 页，没有第 {page} 页"
    en = "{path} has {pages} pages; there is no page {page}"


class PlacementOffPage(ZhenglianError):
    code = "placement_off_page"
    exit_code = ExitCode.DOCUMENT
    zh = "盖章位置 ({x_mm}, {y_mm}) mm 不在第 {page} 页内（该页可见尺寸 {width_mm} × {height_mm} mm，原点为左上角）"
    en = "Position ({x_mm}, {y_mm}) mm is outside page {page} (visible size {width_mm} × {height_mm} mm, origin top left)"


class AnchorNotFound(ZhenglianError):
    code = "anchor_not_found"
    exit_code = ExitCode.DOCUMENT
    zh = "在 {path} 中找不到文字“{text}”{which_zh}"
    en = "Text \"{text}\" not found in {path}{which_en}"
    hint_zh = "请检查关键字（全角/半角括号也要一致），或改用 --page 与 --at 指定位置。扫描件中的文字无法查找。"
    hint_en = "Check the text (full-width and half-width brackets differ), or give --page and --at. Scanned pages have no searchable text."


class AnchorAmbiguous(ZhenglianError):
    code = "anchor_ambiguous"
    exit_code = ExitCode.DOCUMENT
    zh = "文字“{text}”在 {path} 中出现 {count} 次（第 {pages} 页），请用 --match N 指定第几处，或 --match all 全部盖章"
    en = "Text \"{text}\" occurs {count} times in {path} (pages {pages}); choose one with --match N, or all with --match all"


class TooManySealSpots(ZhenglianError):
    code = "too_many_seal_spots"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 要盖章 {count} 处，超过每份文件最多 {limit} 处的限制，未签署"
    en = "{path} would take the seal in {count} places, more than the {limit} allowed in one document; not signed"
    hint_zh = "请减少盖章处：用 --match N 指定第几处，或用 --pages 限定骑缝章的页码范围；也可把文件拆分后分别签署。"
    hint_en = ("Stamp fewer places: choose one with --match N, or limit the cross-page seal with --pages; or split "
               "the document and sign the parts.")


class SignatureFieldNotFound(ZhenglianError):
    code = "signature_field_not_found"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 中没有名为“{name}”的签名域（已有：{available}）"
    en = "{path} has no signature field named \"{name}\" (present: {available})"


class SignatureFieldFilled(ZhenglianError):
    code = "signature_field_filled"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 的签名域“{name}”已经签过名"
    en = "Signature field \"{name}\" in {path} is already signed"


class SignatureFieldLocked(ZhenglianError):
    """An earlier signature's field lock (FieldMDP, /Lock) covers the field the seal would go into."""

    code = "signature_field_locked"
    exit_code = ExitCode.DOCUMENT
    zh = "{path} 中签名域“{by}”的签名锁定了{what_zh}：在此签章会使该签名失效，未签署"
    en = "The signature in field \"{by}\" of {path} locks {what_en}: sealing there would invalidate it; not signed"
    hint_zh = "请用 --field 指定未被锁定的空白签名域（{fields}）；若没有，请向文件的发送方索取可以签章的版本。"
    hint_en = ("Use --field with an empty signature field that is not locked ({fields}); if there is none, ask the "
               "sender for a version that can still be signed.")


class SigningFailed(ZhenglianError):
    code = "signing_failed"
    exit_code = ExitCode.DOCUMENT
    zh = "签署 {path} 失败（{detail}），未生成文件，原文件未改动"
    en = "Signing {path} failed ({detail}); no file was written and the original is unchanged"


class TimestampFailed(ZhenglianError):
    code = "timestamp_failed"
    exit_code = ExitCode.SERVER
    zh = "时间戳服务器 {url} 未能提供时间戳（{detail}），未生成文件"
    en = "The timestamp server {url} gave no timestamp ({detail}); no file was written"
    hint_zh = "请检查网络和时间戳服务器地址，或去掉 --timestamp 后只做不带时间戳的签名。"
    hint_en = "Check the network and the server address, or sign without --timestamp."


class TrustFileInvalid(ZhenglianError):
    code = "trust_file_invalid"
    exit_code = ExitCode.CONFIG
    zh = "信任证书文件 {path} 无法读取：{detail}"
    en = "Trusted certificate file {path} is unreadable: {detail}"


# --- signing server and tasks (zhenglian.server, zhenglian.tasks) -------------

class ServerNotConfigured(ZhenglianError):
    code = "server_not_configured"
    exit_code = ExitCode.SERVER
    zh = "未设置签署服务器地址"
    en = "No signing server is configured"
    hint_zh = "请用 --server URL 指定，或在设置中填写 server_url。"
    hint_en = "Give --server URL, or set server_url in the settings."


class ServerInsecure(ZhenglianError):
    code = "server_insecure"
    exit_code = ExitCode.SERVER
    zh = "签署服务器地址 {url} 未使用 HTTPS，已拒绝连接（只有本机 127.0.0.1 可用 http）"
    en = "The signing server {url} does not use HTTPS; refused (plain http only for 127.0.0.1)"


class ServerUnreachable(ZhenglianError):
    code = "server_unreachable"
    exit_code = ExitCode.SERVER
    zh = "无法连接签署服务器 {origin}（{detail_zh}）"
    en = "Cannot reach the signing server {origin} ({detail_en})"
    hint_zh = "请检查网络和服务器地址；已签署的文件保存在待上传队列中，连接恢复后会自动上传。"
    hint_en = "Check the network and the server address; signed files wait in the outbox and are uploaded when it is back."


class ServerError(ZhenglianError):
    code = "server_error"
    exit_code = ExitCode.SERVER
    zh = "签署服务器出错（{status}）：{detail_zh}"
    en = "The signing server failed ({status}): {detail_en}"
    hint_zh = "请稍后再试；已签署的文件不会丢失，会在服务器恢复后自动上传。"
    hint_en = "Try again later; signed files are kept and uploaded once the server recovers."


class ServerRefused(ZhenglianError):
    """A 4xx with the server's own reason (its JSON {error, message_zh, message_en})."""

    code = "server_refused"
    exit_code = ExitCode.SERVER
    zh = "签署服务器拒绝了请求：{reason_zh}"
    en = "The signing server refused the request: {reason_en}"

    @property
    def reason(self) -> str:
        return str(self.facts.get("reason", ""))

    @property
    def status(self) -> int:
        return int(self.facts.get("status", 0))


class AuthRequired(ZhenglianError):
    code = "auth_required"
    exit_code = ExitCode.SERVER
    zh = "需要用 UKey 登录签署服务器 {origin}（输入 PIN）"
    en = "Log in to the signing server {origin} with the key (PIN needed)"


class AuthExpired(AuthRequired):
    code = "auth_expired"
    zh = "与签署服务器 {origin} 的登录已过期，需要重新登录（输入 PIN）"
    en = "The login to the signing server {origin} expired; log in again (PIN needed)"


class LoginChallengeMismatch(ZhenglianError):
    code = "login_challenge_mismatch"
    exit_code = ExitCode.SERVER
    zh = "服务器给出的登录挑战属于 {got}，与所连接的 {expected} 不符，UKey 未签名"
    en = "The login challenge names {got}, not the server contacted ({expected}); the key signed nothing"


class TaskDocumentMismatch(ZhenglianError):
    code = "task_document_mismatch"
    exit_code = ExitCode.SERVER
    zh = "任务“{title}”下载的文件与服务器给出的 SHA-256 不符，未签署"
    en = "The document of task \"{title}\" does not match the server's SHA-256; not signed"


class TaskNotPending(ZhenglianError):
    code = "task_not_pending"
    exit_code = ExitCode.SERVER
    zh = "任务“{title}”的状态是“{status_zh}”，不能签署"
    en = "Task \"{title}\" is {status}; it cannot be signed"


class TaskSealMissing(ZhenglianError):
    code = "task_seal_missing"
    exit_code = ExitCode.SERVER
    zh = "任务“{title}”要求“{seal_type}”，但当前证书没有该类型的印章（可用：{available}）"
    en = "Task \"{title}\" requires a {seal_type}, which this certificate has no seal for (available: {available})"


# --- the web-page bridge (zhenglian.bridge: 127.0.0.1 service for the signing web page) ---
# Refusals of a request carry the HTTP status the bridge answers with; errors of
# a signing job are reported to the page in the job's JSON (docs/bridge.md).

class BridgeRefused(ZhenglianError):
    """Base of the bridge's refusals of a request (4xx)."""

    code = "bad_request"
    http_status: ClassVar[int] = 400
    zh = "请求格式不正确：{detail_zh}"
    en = "Malformed request: {detail_en}"


class BridgeBadRequest(BridgeRefused):
    code = "bad_request"


class BridgeHostNotAllowed(BridgeRefused):
    code = "host_not_allowed"
    http_status = 421
    zh = "请求的主机名无效（只接受 127.0.0.1 或 localhost 加本服务端口）"
    en = "Wrong Host header (only 127.0.0.1 or localhost with this service's port)"


class BridgeOriginNotAllowed(BridgeRefused):
    code = "origin_not_allowed"
    http_status = 403
    zh = "网页 {origin} 不在本机证联客户端允许的签署系统中"
    en = "The web page {origin} is not one of the signing systems this zhenglian client allows"
    hint_zh = "如果这是贵单位使用的签署系统，请在证联的设置中把它加入允许的网站（allowed_origins）。"
    hint_en = "If this is your institution's signing system, add it to the allowed sites (allowed_origins) in zhenglian's settings."


class BridgeServerNotAllowed(BridgeRefused):
    code = "server_not_allowed"
    http_status = 403
    zh = "签署服务器 {server} 不在本机证联客户端的签署服务器列表中，未连接"
    en = "The signing server {server} is not one this zhenglian client is set up for; not contacted"


class BridgeNotFound(BridgeRefused):
    code = "not_found"
    http_status = 404
    zh = "没有该接口或签署作业"
    en = "No such endpoint or job"


class BridgeTooLarge(BridgeRefused):
    code = "too_large"
    http_status = 413
    zh = "请求过大（上限 {limit} 字节）"
    en = "Request too large (limit {limit} bytes)"


class BridgeRateLimited(BridgeRefused):
    code = "rate_limited"
    http_status = 429
    zh = "请求过于频繁，请稍后再试"
    en = "Too many requests; try again shortly"


class BridgeBusy(BridgeRefused):
    code = "busy"
    http_status = 409
    zh = "证联客户端正在处理另一个签署请求，请先在客户端中完成或取消它"
    en = "zhenglian is handling another signing request; finish or cancel it in the client first"


class BridgePortsBusy(ZhenglianError):
    code = "bridge_ports_busy"
    zh = "网页签署服务无法启动：本机端口 {ports} 均被占用"
    en = "The web-signing service cannot start: ports {ports} on this computer are all in use"
    hint_zh = "网页将无法调用本客户端签章。请关闭占用这些端口的程序（或另一个证联）后重新启动证联。"
    hint_en = "The signing web page cannot reach this client. Close the program using those ports (or another zhenglian) and restart zhenglian."


class SignDeclined(ZhenglianError):
    code = "cancelled"
    exit_code = ExitCode.CANCELLED
    zh = "已在证联客户端中取消签署"
    en = "Signing was cancelled in the zhenglian client"


class WrongInstitution(ZhenglianError):
    code = "wrong_institution"
    exit_code = ExitCode.NO_KEY
    zh = "网页请求签署机构 {wanted} 的任务，但插入的 UKey 属于：{have}"
    en = "The page asks to sign for institution {wanted}, but the keys plugged in belong to: {have}"
    hint_zh = "请插入该机构的 UKey 后，在网页上重新点击“开始签名”。"
    hint_en = "Plug in that institution's key and click 开始签名 on the page again."


class SeveralKeys(ZhenglianError):
    code = "several_keys"
    exit_code = ExitCode.NO_KEY
    zh = "插入了多个 UKey（{names}），无法确定用哪一个签署"
    en = "Several keys are plugged in ({names}); cannot tell which one to sign with"
    hint_zh = "请只保留要使用的 UKey，然后在网页上重新点击“开始签名”。"
    hint_en = "Leave only the key to use plugged in, then click 开始签名 on the page again."


class TicketInvalid(ZhenglianError):
    code = "ticket_invalid"
    exit_code = ExitCode.SERVER
    zh = "签署凭据无效、已使用或已过期，或不属于所插 UKey 的机构"
    en = "The signing ticket is unknown, used or expired, or belongs to another institution than the key's"
    hint_zh = "请在网页上重新点击“开始签名”（每次都会取得新的凭据）。"
    hint_en = "Click 开始签名 on the page again (each click gets a new ticket)."


class TicketTaskMismatch(ZhenglianError):
    code = "ticket_mismatch"
    exit_code = ExitCode.SERVER
    zh = "签署凭据对应的任务（{got}）与网页所说的任务（{expected}）不符，未签署"
    en = "The ticket names task {got}, not the task the page named ({expected}); nothing was signed"


# --- key layer: mechanisms and signatures from the key ---------------------------

class MechanismUnsupported(ZhenglianError):
    code = "mechanism_unsupported"
    exit_code = ExitCode.DRIVER
    zh = "UKey 不支持所需的签名算法（{mechanism}）"
    en = "The key does not offer the signing mechanism needed ({mechanism})"
    hint_zh = "请确认驱动版本，或联系 CA 技术支持（zhenglian doctor 列出了 UKey 支持的算法）"
    hint_en = "Check the driver version or contact the CA's support (zhenglian doctor lists the key's mechanisms)"


class KeySignatureInvalid(ZhenglianError):
    code = "key_signature_invalid"
    exit_code = ExitCode.DRIVER
    zh = "UKey 返回的签名与证书不符（{detail}），未写入任何文件"
    en = "The signature returned by the key does not match its certificate ({detail}); nothing was written"
    hint_zh = "文档未改动。请重新插拔 UKey 后再试；仍失败请联系 CA 技术支持"
    hint_en = "The document is unchanged. Re-plug the key and try again; if it persists, contact the CA's support"
# --- SKF (GM/T 0016) libraries (zhenglian.tokens.skf) ---------------------
# Every SAR_* code a library returns is mapped to one of these (or to
# WrongPin / WrongSoPin / PinLocked / SoPinLocked / TokenRemoved) in the one
# table zhenglian.tokens.skf.SAR_ERRORS.

class SkfNotSkfLibrary(DriverInvalid):
    code = "skf_not_skf"
    zh = "{path} 不是 SKF（GM/T 0016）库：{detail}"
    en = "{path} is not an SKF (GM/T 0016) library: {detail}"
    hint_zh = "请选择 CA 提供的 SKF 接口库（通常文件名含 SKF 或 GM），或其 PKCS#11 驱动。"
    hint_en = "Choose the CA's SKF interface library (its name usually contains SKF or GM), or its PKCS#11 module."


class SkfMissingFunctions(DriverInvalid):
    code = "skf_missing_functions"
    zh = "SKF 库 {path} 缺少必需的函数：{missing}"
    en = "The SKF library {path} lacks required functions: {missing}"
    hint_zh = "该库版本过旧或不完整，请安装 CA 提供的最新驱动。"
    hint_en = "The library is old or incomplete; install the CA's current driver."


class SkfWrongArchitecture(DriverInvalid):
    code = "skf_wrong_architecture"
    zh = "{path} 是 {machine} 程序用的库，本程序是 {ours}，无法直接加载"
    en = "{path} is a library for {machine} programs; this program is {ours} and cannot load it"
    hint_zh = "部分 CA 只提供 32 位 SKF 库：请向 CA 索取 64 位驱动，或改用该 UKey 的 PKCS#11 驱动。"
    hint_en = "Some CAs ship only a 32-bit SKF library: ask the CA for a 64-bit driver, or use the key's PKCS#11 module."


class SkfError(TokenError):
    code = "skf_error"
    zh = "UKey 操作 {op} 失败：{sar_zh}（{sar_name}，0x{sar_code:08X}）"
    en = "Key operation {op} failed: {sar_en} ({sar_name}, 0x{sar_code:08X})"


class SkfBadResponse(TokenError):
    code = "skf_bad_response"
    zh = "UKey 驱动 {op} 返回的数据无效：{detail}"
    en = "The key's driver returned invalid data from {op}: {detail}"
    hint_zh = "请重新插拔 UKey；若仍失败，请重新安装该 CA 的驱动。"
    hint_en = "Unplug and replug the key; if that does not help, reinstall the CA's driver."


class SkfNotLoggedIn(TokenError):
    code = "skf_not_logged_in"
    zh = "UKey 要求先验证 PIN 才能执行 {op}"
    en = "The key requires the PIN to be verified before {op}"


class SkfObjectMissing(TokenError):
    code = "skf_object_missing"
    zh = "UKey 上找不到{what_zh}（{op}）"
    en = "The key holds no {what_en} ({op})"


class SkfCertificateMissing(NoCertificate):
    code = "skf_certificate_missing"
    zh = "UKey 容器 {container} 中没有{which_zh}证书"
    en = "Container {container} on the key holds no {which_en} certificate"


class SkfPinRejected(ZhenglianError):
    code = "skf_pin_rejected"
    exit_code = ExitCode.PIN_POLICY
    zh = "UKey 拒绝了该 PIN 的格式（长度或字符不符合要求）"
    en = "The key rejected the PIN's format (length or characters)"
# --- SM2 cryptography (helper "sm2crypto") ---------------------------------


class SM2SignatureMalformed(ZhenglianError):
    code = "sm2_signature_malformed"
    exit_code = ExitCode.CERTIFICATE
    zh = "SM2 签名格式不正确（{detail}）"
    en = "The SM2 signature is malformed ({detail})"


class SM2InvalidPublicKey(ZhenglianError):
    code = "sm2_public_key_invalid"
    exit_code = ExitCode.CERTIFICATE
    zh = "证书中的 SM2 公钥不可用（{detail}）"
    en = "The certificate's SM2 public key is unusable ({detail})"
# --- seal-use register (zhenglian.register: 用印登记) -------------------------
# Exit code ExitCode.REGISTER (13): the register cannot be read or written, or
# its chain is broken.  Every message names the entry number when there is one.

class RegisterError(ZhenglianError):
    code = "register_error"
    exit_code = ExitCode.REGISTER
    zh = "用印登记出错：{detail_zh}"
    en = "Seal-use register error: {detail_en}"


class RegisterCorrupt(RegisterError):
    code = "register_corrupt"
    zh = "用印登记文件 {path} 已损坏或不是登记文件（{detail}）"
    en = "The seal-use register {path} is damaged or not a register ({detail})"
    hint_zh = "请勿删除该文件，将其复制留存并联系技术支持；在此之前不会覆盖它。"
    hint_en = "Do not delete the file; keep a copy and contact support. It is never overwritten."


class RegisterTooNew(RegisterError):
    code = "register_too_new"
    zh = "用印登记文件 {path} 由更新版本的证联创建（格式版本 {version}），本版本只支持到 {supported}"
    en = "The seal-use register {path} was written by a newer zhenglian (format {version}); this one reads up to {supported}"
    hint_zh = "请升级证联客户端。"
    hint_en = "Upgrade zhenglian."


class RegisterWriteFailed(RegisterError):
    code = "register_write_failed"
    zh = "无法写入用印登记（{detail}）：本次用印未登记，签署结果不予交付"
    en = "Cannot write the seal-use register ({detail}): this use was not recorded, so its result is not handed on"
    hint_zh = "请检查磁盘空间和数据目录的权限后重试。"
    hint_en = "Check the free disk space and the data directory's permissions, then try again."


class RegisterBusy(RegisterError):
    code = "register_busy"
    zh = "用印登记正被另一个证联进程占用超过 {seconds} 秒，未能写入"
    en = "The seal-use register was held by another zhenglian process for over {seconds} s; nothing was written"


class RegisterInvalidEntry(RegisterError):
    code = "register_invalid_entry"
    exit_code = ExitCode.USAGE
    zh = "用印登记条目的字段 {field} 无效：{problem}"
    en = "Seal-use register entry field {field} is invalid: {problem}"


class RegisterChainBroken(RegisterError):
    code = "register_chain_broken"
    zh = "用印登记第 {seq} 条{problem_zh}，登记可能被改动"
    en = "Seal-use register entry {seq} {problem_en}; the register may have been altered"
    hint_zh = "运行“zhenglian register verify”查看详情；请保留该文件并告知印章管理员。"
    hint_en = "Run 'zhenglian register verify' for details; keep the file and tell the seal custodian."
# --- pdf: documents certified by their sender (area "pdf") ---------------------------------


class DocumentCertified(ZhenglianError):
    code = "document_certified"
    exit_code = ExitCode.DOCUMENT
    zh = ("{path} 已由发送方做了认证签名（DocMDP P={level}），只允许在文件中已有的空白签名域里签章；"
          "在其他位置盖章（{what_zh}）会破坏发送方的认证，未签署")
    en = ("{path} is certified by its sender (DocMDP P={level}): a seal may only go into an empty signature field "
          "already in the document; stamping elsewhere ({what_en}) would break the certification; not signed")
    hint_zh = ("请用 --field 指定文件中的空白签名域（空白签名域：{fields}）；若没有，请向发送方索取带有供盖章用的"
               "空白签名域的文件。")
    hint_en = ("Use --field with an empty signature field of the document (empty fields: {fields}); if there is "
               "none, ask the sender for a document with an empty signature field for the seal.")
# --- keys: SKF (GM/T 0016) as a second key backend (area "skfbackend") ---------------------


class RenewalUnsupportedBackend(RenewalUnsupportedKey):
    code = "renewal_unsupported_backend"
    zh = "该 UKey 的 SKF 驱动缺少在线续期所需的函数（{missing}），无法在 UKey 上生成密钥并写入证书"
    en = ("This key's SKF library lacks what online renewal needs ({missing}): it cannot make a key pair on "
          "the key or write the certificate to it")
    hint_zh = "请使用 CA 自带的证书客户端续期；若 CA 同时提供该 UKey 的 PKCS#11 驱动，安装后即可在线续期。"
    hint_en = "Use the CA's own certificate client; if the CA also ships a PKCS#11 module for the key, install it to renew online."


# --- tray app and web page, the operator's journeys (area "ui16") ---------------------------------


class KeyOfOtherInstitution(ZhenglianError):
    """The page's institution is not that of any key plugged in; the page is not told whose keys are in."""

    code = "wrong_institution"
    exit_code = ExitCode.NO_KEY
    zh = "网页请求签署机构 {wanted} 的任务，但插入的 UKey 不属于该机构"
    en = "The page asks to sign for institution {wanted}, but no key of that institution is plugged in"
    hint_zh = "请插入该机构的 UKey 后，在网页上重新点击“开始签名”。"
    hint_en = "Plug in that institution's key and click 开始签名 on the page again."


class SeveralKeysPlugged(ZhenglianError):
    """Several keys could sign and none is logged in; the page is not told whose they are."""

    code = "several_keys"
    exit_code = ExitCode.NO_KEY
    zh = "插入了 {count} 个 UKey，无法确定用哪一个签署"
    en = "{count} keys are plugged in; cannot tell which one to sign with"
    hint_zh = "请只保留要使用的 UKey，然后在网页上重新点击“开始签名”。"
    hint_en = "Leave only the key to use plugged in, then click 开始签名 on the page again."


# --- keys: SKF online renewal and hot-plug (area "skfrenew") ----------------------------------


class SkfNoRoom(TokenError):
    """SAR_NO_ROOM / SAR_REACH_MAX_CONTAINER_COUNT: the key cannot hold another key pair."""

    code = "skf_no_room"
    zh = "UKey 空间已满，无法执行 {op}（{sar_name}）"
    en = "The key has no room left for {op} ({sar_name})"
    hint_zh = "UKey 上原有的证书未受影响。请联系 CA 清理 UKey 上不用的容器，或使用 CA 自带的客户端续期。"
    hint_en = ("The certificate already on the key is untouched. Ask the CA to remove unused containers from the "
               "key, or renew with the CA's own client.")


class SkfKeyGenFailed(TokenError):
    """SAR_GENRSAKEYERR / SAR_GENRANDERR: the key could not make a key pair."""

    code = "skf_keygen_failed"
    zh = "UKey 未能生成新密钥对（{op}：{sar_name}）"
    en = "The key could not make a new key pair ({op}: {sar_name})"
    hint_zh = "UKey 上原有的证书未受影响。请重新插拔 UKey 后再试；若仍失败，请联系 CA。"
    hint_en = "The certificate already on the key is untouched. Replug the key and try again; if it fails again, contact the CA."
