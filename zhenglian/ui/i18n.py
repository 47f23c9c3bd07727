"""Qt translations for the whole UI: English source strings, Chinese by default.

Every visible string in zhenglian/ui is written in English through
``self.tr()`` or ``QCoreApplication.translate(context, text)``;
``scripts/i18n.sh`` extracts them into ``resources/i18n/zhenglian_zh_CN.ts``
(pyside6-lupdate), where the Chinese translations live, and compiles that
to the ``.qm`` file loaded here (pyside6-lrelease).  English needs no file:
it is the source.  Qt's own strings (standard dialogs) come from Qt's
``qtbase_zh_CN.qm`` when PySide6 ships it.

Messages of :mod:`zhenglian.errors` already carry both languages ("one
message in one place"); :func:`error_text` picks the one matching the UI.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from zhenglian import paths
from zhenglian.errors import ZhenglianError

log = logging.getLogger(__name__)

DEFAULT = "zh_CN"
LANGUAGES = ("zh_CN", "en_US")

_current = DEFAULT
_installed: list[QTranslator] = []


def i18n_dir() -> Path:
    return paths.resources_dir() / "i18n"


def normalise(language: str | None) -> str:
    """"zh", "zh-CN", "zh_CN.UTF-8" → zh_CN; "en…" → en_US; anything else → the default (zh_CN)."""
    if not language:
        return DEFAULT
    lang = language.replace("-", "_").split(".")[0].lower()
    if lang.startswith("en"):
        return "en_US"
    return DEFAULT


def install_translator(app: QCoreApplication, language: str | None = DEFAULT) -> list[QTranslator]:
    """Load the UI's translation for ``language`` into ``app`` (replacing an earlier one)."""
    global _current
    for tr in _installed:
        app.removeTranslator(tr)
    _installed.clear()
    lang = normalise(language)
    _current = lang
    QLocale.setDefault(QLocale(lang))
    if lang == "en_US":
        return []
    ours = QTranslator(app)
    if ours.load(f"zhenglian_{lang}", str(i18n_dir())):
        app.installTranslator(ours)
        _installed.append(ours)
    else:
        log.warning("translation zhenglian_%s not found in %s", lang, i18n_dir())
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qtbase = QTranslator(app)
    if qtbase.load(f"qtbase_{lang}", qt_dir):
        app.installTranslator(qtbase)
        _installed.append(qtbase)
    extra = QTranslator(app)  # Qt's own words that qtbase lacks (its file dialog): installed last, asked first
    if extra.load(f"qtbase_extra_{lang}", str(i18n_dir())):
        app.installTranslator(extra)
        _installed.append(extra)
    return list(_installed)


def current_language() -> str:
    return _current


def is_chinese() -> bool:
    return _current.startswith("zh")


def pick(zh: str, en: str) -> str:
    """Of a text that Qt-free code gives in both languages, the UI's one."""
    return zh if is_chinese() else en


def error_text(exc: BaseException, with_hint: bool = True) -> str:
    """An error's message (and what to do next) in the UI's language."""
    message, hint = error_parts(exc)
    return message + "\n" + hint if with_hint and hint else message


def error_parts(exc: BaseException) -> tuple[str, str]:
    """(what happened, what to do next — "" when nothing) in the UI's language.

    Anything that is not one of our typed errors gets one plain sentence: its type goes
    to the log only (a class name means nothing to an operator; its text could carry data).
    """
    if not isinstance(exc, ZhenglianError):
        log.error("unexpected error shown as the generic message: %s", type(exc).__name__)
        return (QCoreApplication.translate(
                    "ErrorText", "The operation did not finish: the program ran into an unexpected problem. "
                                 "The details are in the log."),
                QCoreApplication.translate(
                    "ErrorText", "Try again. If it happens again, copy the Diagnostics page for technical support."))
    zh = is_chinese()
    screen = screen_message(exc)
    message = screen if screen is not None else (exc.message_zh() if zh else exc.message_en())
    hint = screen_hint(exc)
    if hint is None:
        hint_zh, hint_en = exc.hint()
        hint = hint_zh if zh else hint_en
    return message, hint or ""


def screen_message(exc: ZhenglianError) -> str | None:
    """The message for a screen where the error's own one speaks of command-line options."""
    if exc.code == "anchor_ambiguous":
        return QCoreApplication.translate("ScreenHints", 'The text "{text}" occurs {count} times in {path} (pages {pages}); the signing server must '
                   'say which one to stamp.').format(**{k: exc.facts.get(k, "") for k in ("text", "count", "path",
                                                                                             "pages")})
    if exc.code == "key_ambiguous":
        return QCoreApplication.translate("ScreenHints", "Several keys are plugged in: choose one in the list.")
    return None


def screen_hint(exc: ZhenglianError) -> str | None:
    """What to do next, said for a window (the error's own hint may name command-line options).

    None: the error's own hint does; "" : no hint on screen."""
    hints = {
        "anchor_not_found": QCoreApplication.translate("ScreenHints", "The document has no such text where the seal should go (full-width and "
                                "half-width brackets differ; scanned pages have no text). Ask the sender to "
                                "check the task."),
        "initial_pin": QCoreApplication.translate(
            "ScreenHints", "Nothing was signed. Choose a PIN of your own in the window that opens now, then "
                           "sign again."),
        "final_try_unconfirmed": QCoreApplication.translate("ScreenHints", "Make sure the PIN is right, then confirm the last try."),
        "renewal_not_configured": QCoreApplication.translate("ScreenHints", "Ask the CA to renew the certificate."),
        "timestamp_failed": QCoreApplication.translate("ScreenHints", "Check the network and the timestamp server address in Settings."),
        "server_not_configured": QCoreApplication.translate("ScreenHints", "Enter the signing server's address in Settings."),
        "document_certified": QCoreApplication.translate("ScreenHints", "Ask the sender for a document with an empty signature field for the seal."),
        "signature_field_locked": QCoreApplication.translate(
            "ScreenHints", "Ask the sender for a document with an empty signature field that earlier signatures do not "
                           "lock."),
        "document_encrypted": QCoreApplication.translate("ScreenHints", "This document is protected by a password and cannot be signed here."),
        "token_error": QCoreApplication.translate("ScreenHints", "Unplug the key, plug it in again and try again. If it still fails, copy the Diagnostics page for technical support."),
    }
    if exc.code in hints:
        return hints[exc.code]
    hint_zh, hint_en = exc.hint()
    if "--" in hint_zh or "--" in hint_en or "zhenglian " in hint_en:
        return ""  # a command-line hint means nothing in a window
    return None
