"""The UI language of this process, for the few texts that come bilingual
from Qt-free code (driver manifests, typed errors)."""

from __future__ import annotations

current = "zh_CN"


def set_language(language: str) -> None:
    global current
    current = language


def pick(zh: str, en: str) -> str:
    return en if current.startswith("en") else zh


def error_text(exc: BaseException) -> str:
    """A typed error's message in the UI language, with what to do next."""
    from zhenglian.errors import ZhenglianError, describe

    if not isinstance(exc, ZhenglianError):
        return describe(exc)
    hint_zh, hint_en = exc.hint()
    if current.startswith("en"):
        return "\n".join(t for t in (exc.message_en(), hint_en) if t)
    return "\n".join(t for t in (exc.message_zh(), hint_zh) if t)
