"""A Chinese TrueType font for the paper forms, embedded in the PDF.

reportlab embeds TrueType outlines only: the Noto CJK fonts of most Linux
systems are CFF (PostScript) inside, and reportlab refuses them.  So we look
for a 宋体-like TrueType font — Windows' SimSun, AR PL UMing
(Debian/Ubuntu ``fonts-arphic-uming``), WenQuanYi — or the file named by
``$ZHENGLIAN_FORM_FONT`` (``path`` or ``path#index`` for a .ttc), and fail
with :class:`~zhenglian.errors.FormFontMissing` when there is none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from zhenglian import errors

FONT_NAME = "ZhenglianFormFont"

_WINDOWS = ("simsun.ttc", "simsunb.ttf", "simhei.ttf", "simfang.ttf", "msyh.ttc")
_UNIX = (
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/System/Library/Fonts/Supplemental/Songti.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)


def _candidates() -> list[tuple[Path, int]]:
    out: list[tuple[Path, int]] = []
    env = os.environ.get("ZHENGLIAN_FORM_FONT")
    if env:
        path, _, index = env.partition("#")
        out.append((Path(path).expanduser(), int(index) if index.isdigit() else 0))
    windir = os.environ.get("WINDIR") or os.environ.get("SYSTEMROOT")
    if windir:
        out += [(Path(windir) / "Fonts" / name, 0) for name in _WINDOWS]
    out += [(Path(p), 0) for p in _UNIX]
    fc = shutil.which("fc-list")
    if fc:
        try:
            listing = subprocess.run([fc, ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in sorted(listing.splitlines()):
            path = line.split(":")[0].strip()
            if path.lower().endswith((".ttf", ".ttc")):
                out.append((Path(path), 0))
    return out


@lru_cache(maxsize=1)
def register() -> str:
    """Register the first usable font with reportlab; returns its name (or raises FormFontMissing)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    tried: list[str] = []
    for path, index in _candidates():
        if not path.is_file() or str(path) in tried:
            continue
        tried.append(str(path))
        try:
            font = TTFont(FONT_NAME, str(path), subfontIndex=index)
        except (TTFError, OSError, ValueError):
            continue  # CFF outlines, or not a font
        if ord("章") not in font.face.charToGlyph:
            continue
        pdfmetrics.registerFont(font)
        return FONT_NAME
    searched = ", ".join(tried) or "simsun.ttc, uming.ttc, wqy-zenhei.ttc"
    raise errors.FormFontMissing(searched=searched)
