"""Icons from the SVGs in resources/icons, sharp at any scale, with a count badge.

Without a badge, an icon comes from PNGs rendered ahead of time from its SVG
(``resources/icons/png/``, made by ``scripts/icons.py`` with :func:`render`
below, checked by ``scripts/icons.py --check``): the tray icon is shown before
QtSvg and PySide6's ``Qt`` namespace are loaded (≈ 35 ms of the icon's time).
A badge is painted on the SVG's rendering, once the application is up.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap

from zhenglian.paths import resources_dir

if TYPE_CHECKING:
    from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 20, 22, 24, 32, 40, 48, 64, 128)


def png_dir() -> Path:
    return resources_dir() / "icons" / "png"


def png_path(name: str, size: int) -> Path:
    """The pre-rendered ``size`` px PNG of the SVG ``name`` (e.g. tray-nokey.svg → tray-nokey-22.png)."""
    return png_dir() / f"{Path(name).stem}-{size}.png"


@cache
def _renderer(name: str) -> QSvgRenderer:
    from PySide6.QtSvg import QSvgRenderer

    return QSvgRenderer(str(resources_dir() / "icons" / name))


def render(name: str, size: int, badge: str | None = None) -> QPixmap:
    """``name``'s SVG at ``size`` px, with ``badge`` painted in its corner (also makes the PNGs)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QPainter

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


def _prerendered(name: str) -> QIcon | None:
    paths = [png_path(name, size) for size in SIZES]
    if not all(p.is_file() for p in paths):
        return None  # a source tree without the PNGs: render the SVG
    ic = QIcon()
    for size, path in zip(SIZES, paths, strict=True):
        ic.addFile(str(path), QSize(size, size))
    return ic


def icon(name: str, badge: int = 0) -> QIcon:
    """``name`` is a file in resources/icons; ``badge`` > 0 paints the count."""
    if badge <= 0:
        ready = _prerendered(name)
        if ready is not None:
            return ready
    text = None if badge <= 0 else (str(badge) if badge < 100 else "99+")
    ic = QIcon()
    for size in SIZES:
        ic.addPixmap(render(name, size, text))
    return ic


TRAY_ICON = {
    "no_key": "tray-nokey.svg",
    "ready": "tray-ready.svg",
    "pending": "tray-ready.svg",
    "attention": "tray-attention.svg",
}
