"""Deployment defaults: the values an installer or an administrator sets for every user.

A fresh install must not show an empty 签署服务器: the deployment ships the signing server of
the institution it is built for (the Dongguan housing provident fund's, in
``config/defaults.json`` beside the code).  Read-only files, read in this order — a later one
overrides an earlier one, the user's own settings override them all:

1. ``<install root>/config/defaults.json`` — shipped with the package (build.spec, the Linux
   package, the Windows installer);
2. frozen builds: ``config/defaults.json`` beside the executable (an installer may write it);
3. ``/etc/zhenglian/defaults.json`` (Linux, macOS) or ``%PROGRAMDATA%\\zhenglian\\defaults.json``
   (Windows) — the machine's administrator.

``$ZHENGLIAN_DEFAULTS`` names the one file to read instead (tests; an empty value reads none).

The files come from outside the program, so they are bounded like anything else: at most
:data:`MAX_BYTES`, nesting depth bounded, only the keys of :data:`ALLOWED` with the right
types, URLs checked.  A bad file is reported (logged, and kept in :attr:`Defaults.problems`
for 诊断信息) and skipped — never fatal; a bad value skips only that value.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from zhenglian import paths, safejson
from zhenglian.netaddr import plain_http_to_another_machine

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024
MAX_DEPTH = 4
MAX_TEXT = 2048
MAX_ITEMS = 64
ENV = "ZHENGLIAN_DEFAULTS"

# What a deployment may preset, with the type each value must have.  Only settings an
# institution decides for its operators; nothing that touches keys or PINs.
ALLOWED: dict[str, type] = {
    "server_url": str,
    "timestamp_url": str,
    "est_url": str,
    "ca_bundle": str,
    "allowed_origins": list,
    "language": str,
    "reminder_days": list,
    "task_poll_s": int,
}
URL_KEYS = ("server_url", "timestamp_url", "est_url")
TLS_KEYS = ("server_url", "est_url")  # a time-stamp authority's answers are signed: http is usual there
LANGUAGES = ("zh_CN", "en_US")


@dataclass
class Defaults:
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # key -> the file it came from
    problems: list[str] = field(default_factory=list)  # "file: what is wrong" (zh / en)


def candidate_files() -> list[Path]:
    override = os.environ.get(ENV)
    if override is not None:
        return [Path(override).expanduser()] if override.strip() else []
    found = [paths.install_root() / "config" / "defaults.json"]
    if getattr(sys, "frozen", False):
        beside = Path(sys.executable).resolve().parent / "config" / "defaults.json"
        if beside not in found:
            found.append(beside)
    if sys.platform == "win32":
        program_data = os.environ.get("PROGRAMDATA")
        if program_data:
            found.append(Path(program_data) / "zhenglian" / "defaults.json")
    else:
        found.append(Path("/etc/zhenglian/defaults.json"))
    return found


def _url_ok(value: str) -> bool:
    if not value:
        return True  # an empty value means "none"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unmatched IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def _check(key: str, value: Any) -> str | None:
    """None when ``value`` may be used for ``key``, else what is wrong (zh / en)."""
    kind = ALLOWED[key]
    if type(value) is not kind:
        return f"{key} 类型错误 / {key} has the wrong type"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"{key} 过长 / {key} is too long"
        if key in URL_KEYS and not _url_ok(value):
            return f"{key} 不是有效的网址 / {key} is not a valid address"
        if key in TLS_KEYS and plain_http_to_another_machine(value):
            return f"{key} 未使用 HTTPS（http 只可用于本机）/ {key} does not use HTTPS (http is for this machine only)"
        if key == "language" and value not in LANGUAGES:
            return f"{key} 不受支持 / {key} is not supported"
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return f"{key} 项目过多 / {key} has too many items"
        item = str if key == "allowed_origins" else int
        if not all(type(v) is item for v in value):
            return f"{key} 的项目类型错误 / {key} has items of the wrong type"
        if key == "allowed_origins" and not all(len(v) <= MAX_TEXT and _url_ok(v) for v in value):
            return f"{key} 含无效的网址 / {key} holds an invalid address"
        if key == "reminder_days" and not all(0 < v <= 3650 for v in value):
            return f"{key} 超出范围 / {key} is out of range"
    if key == "task_poll_s" and not 5 <= value <= 86400:
        return f"{key} 超出范围 / {key} is out of range"
    return None


def read_file(file: Path) -> tuple[dict[str, Any], list[str]]:
    """(the usable values, the problems) of one defaults file; a missing file is neither."""
    try:
        with file.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [f"{file}: 无法读取 / cannot be read ({type(exc).__name__})"]
    if len(data) > MAX_BYTES:
        return {}, [f"{file}: 文件过大 / the file is too large (> {MAX_BYTES // 1024} KB)"]
    try:
        raw = safejson.loads(data, MAX_DEPTH)
    except ValueError:
        return {}, [f"{file}: 不是有效的 JSON / not valid JSON"]
    if not isinstance(raw, dict):
        return {}, [f"{file}: 顶层应为对象 / the top level must be an object"]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key.startswith("_"):
            continue  # notes for the administrator ("_about")
        if key not in ALLOWED:
            problems.append(f"{file}: 未知的设置项 {key[:64]!r} / unknown setting")
            continue
        wrong = _check(key, value)
        if wrong is not None:
            problems.append(f"{file}: {wrong}")
            continue
        values[key] = value
    return values, problems


def load(files: Sequence[Path] | None = None) -> Defaults:
    out = Defaults()
    for file in candidate_files() if files is None else files:
        values, problems = read_file(file)
        for p in problems:
            log.warning("deployment defaults: %s", p)
        out.problems.extend(problems)
        out.values.update(values)
        out.sources.update({k: str(file) for k in values})
    return out
