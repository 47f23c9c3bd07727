"""Driver manifests: one TOML file per CA (or key maker) under ``drivers/``.

Code never hard-codes a vendor: names, module files, USB ids, issuer
patterns, PIN policy and support contacts all come from here.  A malformed
manifest raises :class:`~zhenglian.errors.ManifestError` naming the file and
field; :func:`load_all` reports it and keeps loading the others.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import paths
from zhenglian.errors import ManifestError
from zhenglian.netaddr import plain_http_to_another_machine

KINDS = ("ca", "maker", "demo", "user")
PIN_CLASSES = ("upper", "lower", "digit", "special")
_USB_ID = re.compile(r"^[0-9A-Fa-f]{4}:([0-9A-Fa-f]{4}|\*)$")


@dataclass(frozen=True)
class PinPolicy:
    """Rules for a new PIN (the CA's advice) and the key's hard limits."""

    max_tries: int = 10
    initial: str | None = None  # the CA's known factory PIN, if public
    min_length: int = 4  # what the key accepts at all
    max_length: int = 16
    new_min_length: int = 8  # what a new PIN must have (CA's advice)
    require: tuple[str, ...] = PIN_CLASSES


@dataclass(frozen=True)
class Support:
    hotline: tuple[str, ...] = ()
    qq: str = ""
    website: str = ""
    counter_zh: str = ""
    hours_zh: str = ""
    hours_en: str = ""
    mail_to_zh: str = ""


@dataclass(frozen=True)
class Renewal:
    """How the CA renews a certificate: online while valid, on paper once expired.

    ``est_url`` is the CA's EST (RFC 7030) base URL, e.g.
    ``https://ca.example/.well-known/est``; empty when the CA publishes none
    (no real CA does today — the demo CA's URL comes from the settings or
    ``--est-url``).  ``new_key``: the CA wants a fresh key pair on the key
    (True) or a request signed with the current key (False).  Fees are in
    CNY for the paper route (0 = not known: ask the CA).
    """

    est_url: str = ""
    new_key: bool = True
    fee_cert_per_year: int = 0
    fee_seal_per_year: int = 0
    reissue_fee: int = 0
    years: tuple[int, int] = (1, 5)


@dataclass(frozen=True)
class Sm2Entry:
    """One ``[[sm2]]`` entry: how this driver signs with SM2 (there is no standard number).

    ``hashes``: ``"token"`` (the key computes Z with the default ID and e itself; give it the
    message) or ``"client"`` (give it e = SM3(Z‖M)).  ``output``: ``"raw"`` (r‖s), ``"der"`` or
    ``"auto"`` (64 bytes are r‖s).  ``verified``: read from a real key (else from public
    headers).  Whatever the entry says, every signature is checked against the certificate.
    """

    mechanism: int
    hashes: str = "token"
    output: str = "auto"
    verified: bool = False


SM2_HASHES = ("token", "client")
SM2_OUTPUTS = ("raw", "der", "auto")
MAX_SM2_ENTRIES = 16


@dataclass(frozen=True)
class Manifest:
    id: str
    kind: str
    name_zh: str
    name_en: str
    file: Path
    full_name_zh: str = ""
    full_name_en: str = ""
    modules: dict[str, tuple[str, ...]] = field(default_factory=dict)  # os -> names
    module_dirs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # os -> dirs
    skf_modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    module_env: dict[str, str] = field(default_factory=dict)
    rescan: str = "slotlist"  # or "reinitialize"
    usb_ids: tuple[str, ...] = ()
    issuer_patterns: tuple[re.Pattern[str], ...] = ()
    pin: PinPolicy = field(default_factory=PinPolicy)
    support: Support = field(default_factory=Support)
    vendor_client_name_zh: str = ""
    vendor_client_name_en: str = ""
    vendor_client: dict[str, tuple[str, ...]] = field(default_factory=dict)
    renewal: Renewal = field(default_factory=Renewal)
    # [modules] prefer: which backend serves a key both a PKCS#11 module and an SKF library
    # reach ("pkcs11" | "skf"; None: PKCS#11, except SKF for SM2 keys — see docs/keys.md)
    prefer_backend: str | None = None
    sm2: tuple[Sm2Entry, ...] = ()

    @property
    def is_ca(self) -> bool:
        return self.kind == "ca"

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    def display(self) -> str:
        return f"{self.name_zh} ({self.name_en})"

    def matches_issuer(self, issuer_values: list[str]) -> bool:
        return any(p.search(v) for p in self.issuer_patterns for v in issuer_values)

    def matches_usb(self, vid: str, pid: str) -> bool:
        vid, pid = vid.upper(), pid.upper()
        return any(u == f"{vid}:{pid}" or u == f"{vid}:*" for u in self.usb_ids)

    def unlock_route_zh(self) -> str:
        s = self.support
        parts = [f"填写《机构数字证书申请表》勾选“解锁”，携 UKey 到{self.name_zh}办理"]
        if s.counter_zh:
            parts.append(f"地址：{s.counter_zh}")
        if s.hours_zh:
            parts.append(f"时间：{s.hours_zh}")
        if s.hotline:
            parts.append("热线：" + " / ".join(s.hotline))
        if s.website:
            parts.append(f"网站：{s.website}")
        return "；".join(parts)

    def unlock_route_en(self) -> str:
        s = self.support
        parts = [f"fill in the certificate application form, tick 解锁 (unlock), bring the key to {self.name_en}"]
        if s.counter_zh:
            parts.append(f"address: {s.counter_zh}")
        if s.hours_en:
            parts.append(f"hours: {s.hours_en}")
        if s.hotline:
            parts.append("hotline: " + " / ".join(s.hotline))
        if s.website:
            parts.append(f"web: {s.website}")
        return "; ".join(parts)


def current_os() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


# --- validation helpers ----------------------------------------------------

class _Reader:
    def __init__(self, file: Path, data: dict[str, Any]) -> None:
        self.file = file
        self.data = data

    def fail(self, name: str, problem: str) -> ManifestError:
        return ManifestError(file=str(self.file), field=name, problem=problem)

    def get(self, dotted: str, typ: type | tuple[type, ...], default: Any = ..., ) -> Any:
        node: Any = self.data
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict):
                table = ".".join(parts[:i])
                raise self.fail(table, "应为表（[section]）/ must be a table ([section])")
            if part not in node:
                if default is ...:
                    raise self.fail(dotted, "缺失 / is missing")
                return default
            node = node[part]
        if not isinstance(node, typ) or (typ is int and isinstance(node, bool)):
            names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise self.fail(dotted, f"类型应为 {names} / must be {names}")
        return node

    def strings(self, dotted: str) -> tuple[str, ...]:
        value = self.get(dotted, list, [])
        if not all(isinstance(v, str) for v in value):
            raise self.fail(dotted, "应为字符串列表 / must be a list of strings")
        return tuple(value)


def parse(file: Path, data: dict[str, Any]) -> Manifest:
    r = _Reader(file, data)
    ident = r.get("id", str)
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", ident):
        raise r.fail("id", "只能含小写字母、数字、- 和 _ / must be lower-case letters, digits, - or _")
    kind = r.get("kind", str)
    if kind not in KINDS:
        raise r.fail("kind", f"应为 {'/'.join(KINDS)} 之一 / must be one of {', '.join(KINDS)}")

    modules: dict[str, tuple[str, ...]] = {}
    dirs: dict[str, tuple[str, ...]] = {}
    skf: dict[str, tuple[str, ...]] = {}
    for os_name in ("windows", "linux", "macos"):
        modules[os_name] = r.strings(f"modules.{os_name}")
        dirs[os_name] = r.strings(f"modules.{os_name}_dirs")
        skf[os_name] = r.strings(f"modules.skf_{os_name}")
    env = r.get("modules.env", dict, {})
    if not all(isinstance(v, str) for v in env.values()):
        raise r.fail("modules.env", "值应为字符串 / values must be strings")
    rescan = r.get("modules.rescan", str, "slotlist")
    if rescan not in ("slotlist", "reinitialize"):
        raise r.fail("modules.rescan", "应为 slotlist 或 reinitialize / must be slotlist or reinitialize")

    prefer = r.get("modules.prefer", str, None)
    if prefer not in (None, "pkcs11", "skf"):
        raise r.fail("modules.prefer", "应为 pkcs11 或 skf / must be pkcs11 or skf")

    usb = r.strings("usb.ids")
    for u in usb:
        if not _USB_ID.match(u):
            raise r.fail("usb.ids", f"“{u}”不是 VID:PID / '{u}' is not VID:PID")

    patterns = []
    for p in r.strings("issuer.patterns"):
        try:
            patterns.append(re.compile(p, re.IGNORECASE))
        except re.error as exc:
            raise r.fail("issuer.patterns", f"正则表达式无效 / invalid regular expression: {exc}") from None

    max_tries = r.get("pin.max_tries", int, 10)
    if not 1 <= max_tries <= 255:
        raise r.fail("pin.max_tries", "应在 1–255 之间 / must be 1–255")
    min_len = r.get("pin.min_length", int, 4)
    max_len = r.get("pin.max_length", int, 16)
    if not 1 <= min_len <= max_len:
        raise r.fail("pin.min_length", "应不大于 max_length / must not exceed max_length")
    pin_table = data.get("pin", {})
    require = r.strings("pin.policy.require") if isinstance(pin_table, dict) and "policy" in pin_table \
        else PIN_CLASSES
    for cls in require:
        if cls not in PIN_CLASSES:
            raise r.fail("pin.policy.require", f"未知字符类别 {cls} / unknown class {cls}")
    pin = PinPolicy(
        max_tries=max_tries,
        initial=r.get("pin.initial", str, None),
        min_length=min_len,
        max_length=max_len,
        new_min_length=r.get("pin.policy.min_length", int, 8),
        require=tuple(require),
    )

    support = Support(
        hotline=r.strings("support.hotline"),
        qq=r.get("support.qq", str, ""),
        website=r.get("support.website", str, ""),
        counter_zh=r.get("support.counter_zh", str, ""),
        hours_zh=r.get("support.hours_zh", str, ""),
        hours_en=r.get("support.hours_en", str, ""),
        mail_to_zh=r.get("support.mail_to_zh", str, ""),
    )
    renewal = _renewal(r)
    return Manifest(
        id=ident,
        kind=kind,
        name_zh=r.get("names.zh", str),
        name_en=r.get("names.en", str),
        full_name_zh=r.get("names.full_zh", str, ""),
        full_name_en=r.get("names.full_en", str, ""),
        file=file,
        modules=modules,
        module_dirs=dirs,
        skf_modules=skf,
        module_env=dict(env),
        rescan=rescan,
        usb_ids=usb,
        issuer_patterns=tuple(patterns),
        pin=pin,
        support=support,
        vendor_client_name_zh=r.get("vendor_client.name_zh", str, ""),
        vendor_client_name_en=r.get("vendor_client.name_en", str, ""),
        vendor_client={o: r.strings(f"vendor_client.{o}") for o in ("windows", "linux", "macos")},
        renewal=renewal,
        prefer_backend=prefer,
        sm2=_sm2(r),
    )


def _renewal(r: _Reader) -> Renewal:
    """The optional ``[renewal]`` table."""
    url = r.get("renewal.est_url", str, "").strip()
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise r.fail("renewal.est_url", "应为 http(s):// 地址或留空 / must be an http(s):// URL or empty")
    if plain_http_to_another_machine(url):
        raise r.fail("renewal.est_url", "应为 https:// 地址（http 只可用于本机）/ must be https:// (http is for this machine only)")
    fees = {}
    for name in ("fee_cert_per_year", "fee_seal_per_year", "reissue_fee"):
        value = r.get(f"renewal.{name}", int, 0)
        if value < 0:
            raise r.fail(f"renewal.{name}", "不能为负数 / must not be negative")
        fees[name] = value
    years = r.get("renewal.years", list, [1, 5])
    if (len(years) != 2 or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            or not 1 <= years[0] <= years[1] <= 10):
        raise r.fail("renewal.years", "应为 [最少, 最多] 年，1–10 / must be [min, max] years, 1–10")
    return Renewal(est_url=url.rstrip("/"), new_key=r.get("renewal.new_key", bool, True),
                   years=(years[0], years[1]), **fees)


def _sm2(r: _Reader) -> tuple[Sm2Entry, ...]:
    """The optional ``[[sm2]]`` array of tables, in the order written (tried in that order)."""
    entries = r.get("sm2", list, [])
    if len(entries) > MAX_SM2_ENTRIES:
        raise r.fail("sm2", f"最多 {MAX_SM2_ENTRIES} 项 / at most {MAX_SM2_ENTRIES} entries")
    out: list[Sm2Entry] = []
    for i, entry in enumerate(entries):
        where = f"sm2[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(where, "应为表（[[sm2]]）/ must be a table ([[sm2]])")
        sub = _Reader(r.file, {where: entry})  # errors name sm2[i].field
        raw = sub.get(f"{where}.mechanism", (int, str))
        try:
            mechanism = int(raw, 0) if isinstance(raw, str) else raw
        except ValueError:
            raise r.fail(f"{where}.mechanism", f"“{raw}”不是数字 / '{raw}' is not a number") from None
        if isinstance(mechanism, bool) or not 0 <= mechanism <= 0xFFFFFFFF:
            raise r.fail(f"{where}.mechanism", "应为 0–0xFFFFFFFF / must be 0–0xFFFFFFFF")
        hashes = sub.get(f"{where}.hashes", str, "token")
        if hashes not in SM2_HASHES:
            raise r.fail(f"{where}.hashes", "应为 token 或 client / must be token or client")
        output = sub.get(f"{where}.output", str, "auto")
        if output not in SM2_OUTPUTS:
            raise r.fail(f"{where}.output", "应为 raw、der 或 auto / must be raw, der or auto")
        out.append(Sm2Entry(mechanism, hashes, output, sub.get(f"{where}.verified", bool, False)))
    return tuple(out)


# --- reading a file defensively ----------------------------------------------
# A manifest is a few KB of hand-written TOML; anything far outside that is refused with a
# clear message, never a crash (a GBK- or UTF-16-saved file, a binary, a nesting bomb).

MAX_MANIFEST_BYTES = 256 * 1024
MAX_NESTING = 16  # brackets/braces and dotted-key tables; real manifests use 3


def _fail(file: Path, field_name: str, problem: str) -> ManifestError:
    return ManifestError(file=str(file), field=field_name, problem=problem)


def _read_bounded(file: Path) -> bytes:
    try:
        with file.open("rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise _fail(file, "(file)", f"无法读取 / cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _fail(file, "(file)", f"超过 {MAX_MANIFEST_BYTES // 1024} KB / larger than "
                                    f"{MAX_MANIFEST_BYTES // 1024} KB")
    return raw


def _decode(file: Path, raw: bytes) -> str:
    """UTF-8 text (a UTF-8 BOM, as Windows Notepad writes, is allowed); else a clear error."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(file, "(encoding)", "是 UTF-16 编码，请另存为 UTF-8 / is UTF-16: save it as UTF-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        raise _fail(file, "(encoding)", "不是文本文件（含 NUL 字节）/ is not a text file (NUL bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            raw.decode("gb18030")
            looks = "看起来是 GBK/GB18030 编码，请另存为 UTF-8 / looks like GBK/GB18030: save it as UTF-8"
        except UnicodeDecodeError:
            looks = "不是 UTF-8 文本 / is not UTF-8 text"
        raise _fail(file, "(encoding)", f"{looks}（第 {exc.start} 字节 / byte {exc.start}）") from None


_SPECIAL = re.compile(r"""[#"'\[\]{}]""")


def _bracket_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings and comments (before tomllib recurses into it)."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        found = _SPECIAL.search(text, i)
        if found is None:
            break
        i = found.start()
        c = text[i]
        if c == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if c == '"' and text[i] == "\\":
                    i += 1
                elif len(quote) == 1 and text[i] == "\n":
                    break  # unterminated: tomllib reports it
                i += 1
            i += len(quote)
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                return deepest
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _data_depth(data: Any) -> int:
    """Nesting depth of parsed TOML (dicts and lists), iteratively."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_NESTING:
            return d
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, d + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def load_file(file: Path) -> Manifest:
    """One manifest, or ManifestError naming the file and what is wrong — never another exception."""
    text = _decode(file, _read_bounded(file))
    too_deep = _fail(file, "(TOML)", f"嵌套超过 {MAX_NESTING} 层 / nested deeper than {MAX_NESTING} levels")
    if _bracket_depth(text) > MAX_NESTING:
        raise too_deep
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(file, "(TOML)", f"语法错误 / syntax error: {exc}") from None
    except RecursionError:
        raise too_deep from None
    if _data_depth(data) > MAX_NESTING:
        raise too_deep
    try:
        return parse(file, data)
    except ManifestError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, re.error, RecursionError) as exc:
        # A table where a value belongs, or the reverse, in a place parse() does not check by name.
        raise _fail(file, "(schema)", f"结构不符 / unexpected structure ({type(exc).__name__})") from None


@dataclass
class ManifestSet:
    manifests: list[Manifest]
    errors: list[ManifestError]

    def by_id(self, ident: str) -> Manifest | None:
        return next((m for m in self.manifests if m.id == ident), None)

    def cas(self) -> list[Manifest]:
        return [m for m in self.manifests if m.is_ca]

    def ca_for_issuer(self, issuer_values: list[str]) -> Manifest | None:
        return next((m for m in self.cas() if m.matches_issuer(issuer_values)), None)

    def for_usb(self, vid: str, pid: str) -> Manifest | None:
        """The CA whose keys carry this exact id, else a maker with a wildcard."""
        exact = [m for m in self.manifests if f"{vid.upper()}:{pid.upper()}" in m.usb_ids]
        if exact:
            return exact[0]
        return next((m for m in self.manifests if m.matches_usb(vid, pid)), None)


def user_drivers_dir() -> Path:
    """``<data_dir>/drivers``: manifests support staff add or correct without reinstalling."""
    return paths.data_dir() / "drivers"


MAX_MANIFEST_FILES = 200


def _load_dir(directory: Path, errors: list[ManifestError]) -> list[Manifest]:
    """Every ``*.toml`` of one folder; a bad file is reported and skipped, ids unique within it."""
    try:
        files = sorted(f for f in directory.glob("*.toml") if f.is_file())
    except OSError:
        return []
    out: list[Manifest] = []
    seen: set[str] = set()
    for file in files[:MAX_MANIFEST_FILES]:
        try:
            m = load_file(file)
        except ManifestError as exc:
            errors.append(exc)
            continue
        if m.id in seen:
            errors.append(ManifestError(file=str(file), field="id", problem=f"与其他清单重复 / duplicates another manifest: {m.id}"))
            continue
        seen.add(m.id)
        out.append(m)
    return out


def load_all(directory: Path | None = None, user_directory: Path | None = None) -> ManifestSet:
    """The shipped manifests, then the user's (``<data_dir>/drivers``): a user file with a
    shipped id replaces that manifest; a new id is added.  ``directory`` given alone (tests)
    reads only that folder."""
    errors: list[ManifestError] = []
    manifests = _load_dir(directory or paths.drivers_dir(), errors)
    if user_directory is None and directory is None:
        user_directory = user_drivers_dir()
    if user_directory is not None and user_directory.is_dir():
        index = {m.id: i for i, m in enumerate(manifests)}
        for m in _load_dir(user_directory, errors):
            if m.id in index:
                manifests[index[m.id]] = m
            else:
                index[m.id] = len(manifests)
                manifests.append(m)
    return ManifestSet(manifests, errors)


def expand(path: str) -> str:
    """Expand {home} (the data directory), %VAR% (Windows style), $VAR and ~ in a manifest path."""
    if "{home}" in path:
        path = path.replace("{home}", str(paths.data_dir()))
    expanded = re.sub(r"%([^%]+)%", lambda m: os.environ.get(m.group(1), m.group(0)), path)
    return os.path.expanduser(os.path.expandvars(expanded))


def candidate_paths(m: Manifest, os_name: str | None = None, skf: bool = False) -> list[Path]:
    """Every file path where this manifest's modules may be, in search order.

    ``{home}`` in a name or folder is the data directory (the demo's software keys live there).
    """
    os_name = os_name or current_os()
    names = (m.skf_modules if skf else m.modules).get(os_name, ())
    home = str(paths.data_dir())
    dirs = tuple(d.replace("{home}", home) for d in m.module_dirs.get(os_name, ()))
    out: list[Path] = []
    for name in names:
        name = expand(name.replace("{home}", home))
        if os.path.isabs(name):
            out.append(Path(name))
            continue
        out.extend(Path(expand(d)) / name for d in dirs)
    return out
