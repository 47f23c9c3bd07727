"""Icons from the SVGs in resources/icons, sharp at any scale, with a count badge."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from zhenglian.paths import resources_dir

SIZES = (16, 20, 22, 24, 32, 40, 48, 64, 128)


@cache
def _renderer(name: str) -> QSvgRenderer:
    return QSvgRenderer(str(resources_dir() / "icons" / name))


def _pixmap(name: str, size: int, badge: str | None) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(name).render(p, QRectF(0, 0, size, size))
    if badge:
        d = size * 0.58
        rect = QRectF(size - d, 0, d, d)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#1d4ed8"))
        p.drawEllipse(rect)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, int(d * (0.62 if len(badge) == 1 else 0.5))))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)
    p.end()
    return pm


def icon(name: str, badge: int = 0) -> QIcon:
    """``name`` is a file in resources/icons; ``badge`` > 0 paints the count."""
    text = None if badge <= 0 else (str(badge) if badge < 100 else "99+")
    ic = QIcon()
    for size in SIZES:
        ic.addPixmap(_pixmap(name, size, text))
    return ic


TRAY_ICON = {
    "no_key": "tray-nokey.svg",
    "ready": "tray-ready.svg",
    "pending": "tray-ready.svg",
    "attention": "tray-attention.svg",
}
