"""What a PIN is asked for, said in the PIN dialog itself.

A PIN that signs documents must not look like the PIN that logs in: the signing dialog
names the documents (or the requesting web site) and their count, on an amber band; the
login dialog says it logs in to the signing server, on a blue one.  The prompter carries a
:class:`PinContext` to :class:`~zhenglian.ui.pin_dialogs.PinDialog`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QWidget

SHOWN_TITLES = 5  # more than this: the first ones and "… N in all"

SIGN_STYLE = ("background:#fff7ed;border:2px solid #ea580c;border-radius:6px;padding:8px;color:#7c2d12;")
LOGIN_STYLE = ("background:#eff6ff;border:1px solid #93c5fd;border-radius:6px;padding:8px;color:#1e3a8a;")


@dataclass(frozen=True)
class PinContext:
    purpose: str  # "sign" (documents are sealed with this PIN) or "login" (the signing server)
    titles: tuple[str, ...] = ()
    count: int = 0  # documents to seal (may exceed len(titles))
    site: str = ""  # the web page that asked, when it came from the browser
    server: str = ""  # the signing server's address, for a login

    @classmethod
    def signing(cls, titles: Sequence[str], site: str = "") -> PinContext:
        return cls("sign", tuple(titles), len(titles), site)

    @classmethod
    def login(cls, server: str, site: str = "") -> PinContext:
        return cls("login", server=server, site=site)


def window_title(ctx: PinContext | None) -> str | None:
    if ctx is None:
        return None
    if ctx.purpose == "sign":
        return QCoreApplication.translate("PinContext", "Seal documents with your PIN")
    return QCoreApplication.translate("PinContext", "Log in to the signing server")


def describe(ctx: PinContext) -> str:
    """The band's text (rich text, every outside string escaped)."""
    site = html.escape(ctx.site)
    if ctx.purpose == "sign":
        n = ctx.count or len(ctx.titles)
        if site:
            head = QCoreApplication.translate("PinContext", "The web page <b>{site}</b> asks to seal {n} document(s):")
        else:
            head = QCoreApplication.translate("PinContext", "The PIN seals {n} document(s):")
        lines = [head.format(site=site, n=n)]
        lines += [f"• {html.escape(t)}" for t in ctx.titles[:SHOWN_TITLES]]
        if n > SHOWN_TITLES:
            lines.append(QCoreApplication.translate("PinContext", "… {n} in all").format(n=n))
        return "<br>".join(lines)
    server = html.escape(ctx.server)
    if site:
        return QCoreApplication.translate(
            "PinContext", "The web page <b>{site}</b> asks to seal a document. First log in to the signing "
                          "server {server} with the PIN; nothing is signed yet.").format(site=site, server=server)
    return QCoreApplication.translate(
        "PinContext", "Log in to the signing server {server}; nothing is signed yet.").format(server=server)


def band(ctx: PinContext | None, parent: QWidget | None = None) -> QLabel | None:
    """The coloured band at the top of the PIN dialog, or None without a context."""
    if ctx is None:
        return None
    label = QLabel(describe(ctx), parent)
    label.setObjectName("pinContext")
    label.setWordWrap(True)
    label.setStyleSheet(SIGN_STYLE if ctx.purpose == "sign" else LOGIN_STYLE)
    return label
