"""Page geometry: from "what the user sees" to PDF user space, and back.

Everyone who places a seal thinks in the page as it appears on screen or on
paper: millimetres from the top-left corner, x to the right, y downwards.  A
PDF page is drawn in *user space* (points, origin bottom-left, y upwards) and
only then cut to its crop box and turned by its ``/Rotate`` entry.  This module
holds that one conversion, so placement, anchors, cross-page strips and the
position tests all agree:

* the visible page is the crop box (intersected with the media box, as
  viewers do), turned clockwise by ``/Rotate``;
* visible coordinates: origin at the top-left corner of the visible page,
  x to the right, y down, in points (``MM`` converts from millimetres);
* ``/UserUnit`` (PDF 1.6) scales user space; it is honoured.

Everything is an :class:`Affine` so that a seal drawn inside a widget on a
rotated page is turned back upright by the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MM = 72.0 / 25.4  # points per millimetre


@dataclass(frozen=True)
class Affine:
    """A PDF transformation matrix ``[a b c d e f]``: x' = a x + c y + e, y' = b x + d y + f."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    def apply(self, x: float, y: float) -> tuple[float, float]:
        return self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f

    def then(self, other: Affine) -> Affine:
        """This transformation followed by ``other``."""
        return Affine(
            a=self.a * other.a + self.b * other.c,
            b=self.a * other.b + self.b * other.d,
            c=self.c * other.a + self.d * other.c,
            d=self.c * other.b + self.d * other.d,
            e=self.e * other.a + self.f * other.c + other.e,
            f=self.e * other.b + self.f * other.d + other.f,
        )

    def inverse(self) -> Affine:
        det = self.a * self.d - self.b * self.c
        if abs(det) < 1e-12:
            raise ValueError("singular matrix")
        a, b, c, d = self.d / det, -self.b / det, -self.c / det, self.a / det
        return Affine(a, b, c, d, -(a * self.e + c * self.f), -(b * self.e + d * self.f))

    def as_pdf(self) -> bytes:
        return b" ".join(_num(v) for v in (self.a, self.b, self.c, self.d, self.e, self.f))


def _num(v: float) -> bytes:
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode("ascii")


def visible_to_box(width: float, height: float, rotate: int) -> Affine:
    """Map visible coordinates of a ``width`` × ``height`` visible area to the
    unrotated box it came from (origin bottom-left, y up).

    ``rotate`` is the page's clockwise display rotation.  For 90/270 the box's
    own width is the visible height.
    """
    r = rotate % 360
    if r == 0:  # x stays, y flips
        return Affine(1, 0, 0, -1, 0, height)
    if r == 90:  # visible top-left is the box's bottom-left; x→up, y→right
        return Affine(0, 1, 1, 0, 0, 0)
    if r == 180:
        return Affine(-1, 0, 0, 1, width, 0)
    if r == 270:  # visible top-left is the box's top-right; x→down, y→left
        return Affine(0, -1, -1, 0, height, width)
    raise ValueError(f"page rotation must be a multiple of 90, not {rotate}")


@dataclass(frozen=True)
class PageBox:
    """The visible part of one page: its crop box in user space and its rotation."""

    llx: float
    lly: float
    urx: float
    ury: float
    rotate: int = 0  # 0, 90, 180, 270 (clockwise)
    user_unit: float = 1.0  # points per user-space unit

    @property
    def box_width(self) -> float:
        return self.urx - self.llx

    @property
    def box_height(self) -> float:
        return self.ury - self.lly

    @property
    def visible_size_pt(self) -> tuple[float, float]:
        """Width and height of the page as seen, in points."""
        w, h = self.box_width * self.user_unit, self.box_height * self.user_unit
        return (h, w) if self.rotate in (90, 270) else (w, h)

    @property
    def visible_size_mm(self) -> tuple[float, float]:
        w, h = self.visible_size_pt
        return w / MM, h / MM

    @property
    def visible_to_user(self) -> Affine:
        """Visible points (top-left origin, y down) to user-space units."""
        w, h = self.visible_size_pt
        s = 1.0 / self.user_unit
        return (Affine(s, 0, 0, s, 0, 0)
                .then(visible_to_box(w * s, h * s, self.rotate))
                .then(Affine(1, 0, 0, 1, self.llx, self.lly)))

    def to_user(self, x_pt: float, y_pt: float) -> tuple[float, float]:
        return self.visible_to_user.apply(x_pt, y_pt)

    def to_visible(self, ux: float, uy: float) -> tuple[float, float]:
        return self.visible_to_user.inverse().apply(ux, uy)

    def contains_visible(self, x_pt: float, y_pt: float) -> bool:
        w, h = self.visible_size_pt
        return -0.01 <= x_pt <= w + 0.01 and -0.01 <= y_pt <= h + 0.01

    def user_rect(self, x_pt: float, y_pt: float, w_pt: float, h_pt: float) -> tuple[float, float, float, float]:
        """User-space rectangle (x1, y1, x2, y2) of a visible rectangle given by
        its top-left corner and size in points."""
        corners = [self.to_user(x_pt + dx, y_pt + dy) for dx in (0, w_pt) for dy in (0, h_pt)]
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return min(xs), min(ys), max(xs), max(ys)


def _rect(value: Any) -> tuple[float, float, float, float] | None:
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _inherited(page: Any, key: str) -> Any:
    """A page attribute, looked up the page tree as the spec says (depth-limited)."""
    node = page
    for _ in range(64):
        try:
            return node[key]
        except KeyError:
            pass
        try:
            node = node["/Parent"]
        except KeyError:
            return None
    return None


def page_box(page: Any) -> PageBox:
    """The :class:`PageBox` of a pyHanko page dictionary.

    Missing or broken boxes fall back as viewers do: crop box → media box →
    A4 (a page without a media box is broken, but should not stop signing).
    """
    media = _rect(_inherited(page, "/MediaBox")) or (0.0, 0.0, 595.276, 841.89)
    crop = _rect(_inherited(page, "/CropBox")) or media
    llx, lly = max(crop[0], media[0]), max(crop[1], media[1])
    urx, ury = min(crop[2], media[2]), min(crop[3], media[3])
    if urx - llx < 1 or ury - lly < 1:  # crop box outside the media box: viewers show the media box
        llx, lly, urx, ury = media
    try:
        rotate = int(_inherited(page, "/Rotate") or 0) % 360
    except (TypeError, ValueError):
        rotate = 0
    if rotate % 90:
        rotate = 0  # invalid; viewers ignore it
    try:
        unit = float(page.get("/UserUnit", 1.0)) or 1.0
    except (TypeError, ValueError, AttributeError):
        unit = 1.0
    return PageBox(llx, lly, urx, ury, rotate, unit)


def upright_image_matrix(box_w: float, box_h: float, rotate: int, dx: float, dy: float,
                         img_w: float, img_h: float) -> Affine:
    """Matrix that paints an image (the unit square) upright as seen on a page
    turned by ``rotate``, inside an appearance box of ``box_w`` × ``box_h``
    user units (the unrotated widget rectangle).

    ``dx, dy`` is where the image's top-left corner goes, in visible units
    relative to the widget's visible top-left corner; ``img_w, img_h`` its
    visible size.  Negative ``dx`` shifts the image left (used to show only a
    slice of it, the form's bounding box clipping the rest).
    """
    vis_w, vis_h = (box_h, box_w) if rotate in (90, 270) else (box_w, box_h)
    # unit square (u right, v up) -> visible coordinates of the widget
    unit_to_visible = Affine(img_w, 0, 0, -img_h, dx, dy + img_h)
    return unit_to_visible.then(visible_to_box(vis_w, vis_h, rotate))
