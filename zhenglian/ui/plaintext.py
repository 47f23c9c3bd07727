"""Outside text (server task titles and reasons, certificate and driver names) in Qt widgets.

A ``QLabel`` or ``QMessageBox`` in its default ``Qt.AutoText`` renders text
that merely looks like HTML as rich text: a task title ``<img src=…>`` or
``<a href=…>`` would become a picture or a link.  Labels that show outside
text are set to plain text (:func:`plain_label`); where a label is rich on
purpose (bold title, line breaks), each outside value goes through
:func:`rich_escape` first.
"""

from __future__ import annotations

import html
import sys
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def rich_escape(value: Any) -> str:
    """An outside value for a rich-text label: shown as its characters, never as markup."""
    return html.escape("" if value is None else str(value), quote=True)


def plain_label(label: QLabel) -> QLabel:
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


_MARKUP = str.maketrans({"<": "＜", ">": "＞", "&": "＆"})


def notification_safe(text: str) -> str:
    """Text for a tray notification: on Linux the desktop's notification server may render the body as
    markup (freedesktop ``body-markup``: a task title ``<a href=…>`` would be a link), while Qt's own
    balloon shows it plain; the full-width ＜ ＞ ＆ read the same in both and are never markup."""
    return text.translate(_MARKUP) if sys.platform.startswith("linux") else text


def message(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> None:
    """``QMessageBox.warning``/``information``, with the text shown as plain text."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
