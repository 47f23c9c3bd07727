"""Draw a standard round Chinese organisation seal as a transparent PNG.

Used where no seal image comes with the key (the demo keys, a CA that stores
only the certificate) and to preview a seal.  The layout follows the common
practice for enterprise seals (国发〔1999〕25号 and the seal-makers' usage):
a round seal of 40 or 42 mm, a red outer ring, a five-pointed star in the
centre, the organisation's name clockwise along the upper arc starting at the
lower left, characters upright towards the centre, and for special-purpose
seals (合同专用章 …) the purpose as one horizontal line under the star.

All dimensions are in millimetres for a 42 mm seal and scale with the
diameter, so a 40 mm seal keeps the same proportions.  The drawing is done on
a grey-scale mask at twice the target resolution and reduced, which gives
smooth edges without depending on the font renderer's anti-aliasing; the mask
becomes the alpha channel of a single red colour, so the background is truly
transparent and the colour is exactly the seal colour everywhere.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zhenglian import errors

FONT_ENV = "ZHENGLIAN_SEAL_FONT"
SEAL_RED = (230, 0, 18)  # #E60012: the usual red of seal ink in e-seal images
DEFAULT_DPI = 600
DIAMETERS_MM = (40.0, 42.0)

# The seal types operators meet; any other text is accepted as a purpose too.
OFFICIAL_SEAL = "公章"
SEAL_TYPES = (OFFICIAL_SEAL, "合同专用章", "抵押业务专用章", "信贷业务专用章")

_SUPERSAMPLE = 2
_MM_PER_INCH = 25.4


@dataclass(frozen=True)
class FontChoice:
    """A font file, the face inside it, and how much to embolden it.

    Seal lettering is heavy; light faces (宋体, 仿宋) get an outline stroke of
    ``embolden`` × glyph height so they hold up next to the ring.
    """

    path: str
    index: int = 0
    embolden: float = 0.0


def _windows_fonts() -> Path:
    return Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"


def font_candidates() -> list[tuple[str, float]]:
    """Font files to try, best first, with the emboldening each needs.

    A serif CJK face (宋体 style) is preferred, as on real seals; a sans face
    is the fallback.  ``$ZHENGLIAN_SEAL_FONT`` always wins.
    """
    out: list[tuple[str, float]] = []
    env = os.environ.get(FONT_ENV)
    if env:
        out.append((env, 0.0))
    for base in ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
                 "/usr/share/fonts/google-noto-cjk", "/usr/share/fonts/opentype/noto-cjk"):
        out.append((f"{base}/NotoSerifCJK-Bold.ttc", 0.0))
        out.append((f"{base}/NotoSerifCJK-Black.ttc", 0.0))
    win = _windows_fonts()
    out += [(str(win / "simsun.ttc"), 0.035), (str(win / "simfang.ttf"), 0.04),
            (str(win / "simhei.ttf"), 0.0), (str(win / "simkai.ttf"), 0.035)]
    out += [("/System/Library/Fonts/Supplementary/Songti.ttc", 0.02),
            ("/System/Library/Fonts/STHeiti Medium.ttc", 0.0)]
    for base in ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
                 "/usr/share/fonts/google-noto-cjk"):
        out.append((f"{base}/NotoSerifCJK-Regular.ttc", 0.03))
        out.append((f"{base}/NotoSansCJK-Bold.ttc", 0.0))
        out.append((f"{base}/NotoSansCJK-Regular.ttc", 0.03))
    out += [("/usr/share/fonts/truetype/arphic/uming.ttc", 0.035),
            ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0.0),
            ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0.0)]
    return out


def _simplified_chinese_face(path: str) -> int:
    """Index of the Simplified Chinese face in a collection (.ttc), else 0.

    Noto CJK collections start with the Japanese face, whose glyph shapes
    differ from the Chinese ones for several common characters.
    """
    if not path.lower().endswith(".ttc"):
        return 0
    for index in range(16):
        try:
            family = ImageFont.truetype(path, 16, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC") or "SimSun" in family or "Songti SC" in family:
            return index
    return 0


@functools.lru_cache(maxsize=4)
def _find_font(candidates: tuple[tuple[str, float], ...]) -> FontChoice:
    for path, embolden in candidates:
        if not Path(path).is_file():
            continue
        index = _simplified_chinese_face(path)
        try:
            ImageFont.truetype(path, 16, index=index)
        except OSError:
            continue  # not a font file PIL can read
        return FontChoice(path, index, embolden)
    names = sorted({Path(p).name for p, _ in candidates})
    raise errors.SealFontMissing(searched=", ".join(names))


def find_font() -> FontChoice:
    """The first usable CJK font; raises :class:`errors.SealFontMissing`."""
    return _find_font(tuple(font_candidates()))


@functools.lru_cache(maxsize=32)
def _font(choice: FontChoice, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(choice.path, size, index=choice.index)


# --- geometry --------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Seal geometry in millimetres for a 42 mm seal (scaled for others)."""

    ring_width: float = 1.2
    star_radius: float = 7.0  # outer radius: a 14 mm star
    name_gap: float = 0.8  # ring's inner edge to the top of the name characters
    name_height: float = 6.2
    name_max_width: float = 6.0
    name_min_width: float = 2.4
    name_fill: float = 0.82  # character width / spacing along the arc
    purpose_height: float = 4.4
    purpose_max_width: float = 3.8
    purpose_top: float = 8.6  # below the centre
    purpose_gap: float = 0.3  # between purpose characters


def arc_span_degrees(n_chars: int, purpose: bool = False) -> float:
    """How much of the circle the name covers: 210–250°, longer names more.

    A long name squeezed into 210° would need unreadably narrow characters;
    a name of fewer than eight characters spread over 210° would look
    scattered, so it gets about 30° a character instead (as seal makers do).
    With a purpose line under the star the arc stops at 225° so its ends
    stay clear of that line.
    """
    if n_chars <= 1:
        return 0.0
    if n_chars < 8:
        return max(120.0, 30.0 * (n_chars - 1))
    return max(210.0, min(225.0 if purpose else 250.0, 150.0 + 7.5 * n_chars))


@dataclass(frozen=True)
class _Canvas:
    image: Image.Image
    px_per_mm: float
    centre: float

    def px(self, mm: float) -> float:
        return mm * self.px_per_mm


def _new_canvas(diameter_mm: float, dpi: float) -> tuple[_Canvas, int]:
    size = round(diameter_mm / _MM_PER_INCH * dpi)
    big = size * _SUPERSAMPLE
    image = Image.new("L", (big, big), 0)
    return _Canvas(image, big / diameter_mm, big / 2), size


def _draw_ring(c: _Canvas, radius_mm: float, width_mm: float) -> None:
    r = c.px(radius_mm)
    w = max(1, round(c.px(width_mm)))
    box = (c.centre - r, c.centre - r, c.centre + r, c.centre + r)
    ImageDraw.Draw(c.image).ellipse(box, outline=255, width=w)


def star_points(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    """A regular five-pointed star, one point straight up."""
    inner = outer * math.sin(math.radians(18)) / math.sin(math.radians(126))
    points = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.radians(-90 + 36 * i)
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _draw_star(c: _Canvas, radius_mm: float) -> None:
    ImageDraw.Draw(c.image).polygon(star_points(c.centre, c.centre, c.px(radius_mm)), fill=255)


# --- lettering -------------------------------------------------------------

_CELL_MARGIN = 0.1  # room around the reference cell for strokes that reach past it


def _glyph(choice: FontChoice, ch: str, width_px: float, height_px: float) -> Image.Image:
    """One character, scaled so that a full character is ``width_px`` × ``height_px``.

    Every character is drawn in the same cell, the one a full-size character
    (国) fills, so small characters (一, 口) keep their natural size and place
    instead of being stretched.  The cell has a margin for strokes that reach
    past it (the hooks of 司, 东), so nothing is clipped.
    """
    font = _font(choice, max(8, round(height_px / 0.86)))
    left, top, right, bottom = font.getbbox("国")
    cell_w, cell_h = right - left, bottom - top
    stroke = round(choice.embolden * cell_h)
    mx, my = round(cell_w * _CELL_MARGIN) + stroke, round(cell_h * _CELL_MARGIN) + stroke
    img = Image.new("L", (cell_w + 2 * mx, cell_h + 2 * my), 0)
    ImageDraw.Draw(img).text((mx - left, my - top), ch, font=font, fill=255,
                             stroke_width=stroke, stroke_fill=255)
    sx, sy = width_px / cell_w, height_px / cell_h
    size = (max(2, round(img.width * sx)), max(2, round(img.height * sy)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _paste_centred(c: _Canvas, glyph: Image.Image, x: float, y: float) -> None:
    c.image.paste(255, (round(x - glyph.width / 2), round(y - glyph.height / 2)), glyph)


def _draw_name(c: _Canvas, choice: FontChoice, name: str, lay: Layout, outer_mm: float,
               purpose: bool) -> None:
    """The name along the upper arc, clockwise from the lower left."""
    chars = [ch for ch in name if not ch.isspace()]
    if not chars:
        return
    top = outer_mm - lay.ring_width - lay.name_gap  # radius of the characters' tops
    mid = top - lay.name_height / 2  # radius of the characters' centres
    span = arc_span_degrees(len(chars), purpose)
    step = span / (len(chars) - 1) if len(chars) > 1 else 0.0
    pitch_mm = math.radians(step) * mid if step else lay.name_max_width
    width = max(lay.name_min_width, min(lay.name_max_width, pitch_mm * lay.name_fill))
    for i, ch in enumerate(chars):
        angle = -span / 2 + i * step  # degrees clockwise from 12 o'clock
        glyph = _glyph(choice, ch, c.px(width), c.px(lay.name_height))
        glyph = glyph.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True)
        a = math.radians(angle)
        x = c.centre + c.px(mid) * math.sin(a)
        y = c.centre - c.px(mid) * math.cos(a)
        _paste_centred(c, glyph, x, y)


def _draw_purpose(c: _Canvas, choice: FontChoice, text: str, lay: Layout, outer_mm: float) -> None:
    """The purpose (合同专用章 …) as one centred line under the star."""
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return
    # Keep the line inside the chord at its lower edge, with a margin.
    inner = outer_mm - lay.ring_width
    bottom = lay.purpose_top + lay.purpose_height
    chord = 2 * math.sqrt(max(0.0, inner**2 - bottom**2)) * 0.74
    width = min(lay.purpose_max_width, chord / len(chars) - lay.purpose_gap)
    y = c.centre + c.px(lay.purpose_top + lay.purpose_height / 2)
    pitch = width + lay.purpose_gap
    x0 = c.centre - c.px(pitch * (len(chars) - 1) / 2)
    for i, ch in enumerate(chars):
        glyph = _glyph(choice, ch, c.px(width), c.px(lay.purpose_height))
        _paste_centred(c, glyph, x0 + c.px(pitch) * i, y)


def _purpose_of(seal_type: str) -> str:
    """The line under the star: none for 公章, the type text otherwise."""
    text = (seal_type or "").strip()
    return "" if text in ("", OFFICIAL_SEAL) else text


_UNSCALED = ("name_fill",)


def _scaled(lay: Layout, factor: float) -> Layout:
    return Layout(**{k: v if k in _UNSCALED else v * factor for k, v in lay.__dict__.items()})


def render_mask(organization: str, seal_type: str = OFFICIAL_SEAL, diameter_mm: float = 42.0,
                dpi: float = DEFAULT_DPI, font: FontChoice | None = None) -> Image.Image:
    """The seal as a grey-scale mask (255 = ink) at the target resolution."""
    if diameter_mm <= 0 or dpi <= 0:
        raise ValueError("diameter and dpi must be positive")
    choice = font or find_font()
    lay = _scaled(Layout(), diameter_mm / 42.0)
    canvas, size = _new_canvas(diameter_mm, dpi)
    outer = diameter_mm / 2 - 0.15 * diameter_mm / 42.0  # keep the ring off the image edge
    _draw_ring(canvas, outer, lay.ring_width)
    _draw_star(canvas, lay.star_radius)
    purpose = _purpose_of(seal_type)
    _draw_name(canvas, choice, organization.strip(), lay, outer, bool(purpose))
    if purpose:
        _draw_purpose(canvas, choice, purpose, lay, outer)
    return canvas.image.resize((size, size), Image.Resampling.LANCZOS)


def colourise(mask: Image.Image, colour: tuple[int, int, int] = SEAL_RED) -> Image.Image:
    """RGBA image: one colour everywhere, the mask as alpha (transparent background)."""
    image = Image.new("RGBA", mask.size, (*colour, 0))
    image.putalpha(mask)
    return image


def render_seal(organization: str, seal_type: str = OFFICIAL_SEAL, diameter_mm: float = 42.0,
                dpi: float = DEFAULT_DPI, colour: tuple[int, int, int] = SEAL_RED,
                font: FontChoice | None = None) -> Image.Image:
    """The seal as an RGBA image, ``diameter_mm`` / 25.4 × ``dpi`` pixels square."""
    return colourise(render_mask(organization, seal_type, diameter_mm, dpi, font), colour)


def render_seal_png(organization: str, seal_type: str = OFFICIAL_SEAL, diameter_mm: float = 42.0,
                    dpi: float = DEFAULT_DPI, colour: tuple[int, int, int] = SEAL_RED,
                    font: FontChoice | None = None) -> bytes:
    """The seal as PNG bytes, with the resolution recorded so viewers show it at true size."""
    image = render_seal(organization, seal_type, diameter_mm, dpi, colour, font)
    return encode_png(image, dpi)


def encode_png(image: Image.Image, dpi: float | None = None) -> bytes:
    buf = io.BytesIO()
    # Level 6, not ``optimize``: 10× faster for 2 % more bytes.
    kwargs: dict[str, object] = {"compress_level": 6}
    if dpi:
        kwargs["dpi"] = (dpi, dpi)
    image.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def known_types() -> Iterable[str]:
    return SEAL_TYPES
