"""Where seals go: the placement requests and their resolution into spots.

Coordinates (the one convention, see docs/signing.md):

* pages are numbered from 1;
* a position is the **centre of the seal**, in millimetres, measured from the
  **top-left corner of the visible page** (the crop box, turned by the
  page's /Rotate as a viewer shows it), x to the right, y downwards.

A request becomes one or more :class:`Spot` (page, rectangle in user space,
how the picture sits in it).  Spots that share a seal become the widgets of
one signature, so a verifier sees one signature however many places (and
cross-page strips) show it.  A request for an existing signature field is a
signature of its own, because that field is the document author's.

A document its sender certified with DocMDP P=2 or P=3 takes seals only in
its existing empty signature fields: a new field or widget would break the
certification (see :func:`_check_certified`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zhenglian import errors
from zhenglian.pdf import anchors, textbudget
from zhenglian.pdf.document import OpenedPdf
from zhenglian.pdf.geometry import MM, PageBox, page_box
from zhenglian.pdf.seal import SealLike
from zhenglian.register.model import MAX_PLACEMENTS

ALL = "all"
MAX_SPOTS = MAX_PLACEMENTS  # seal spots in one document: one limit with what the register records


@dataclass(frozen=True)
class AtPosition:
    """The seal centred at (x_mm, y_mm) on ``page`` (1-based)."""

    page: int
    x_mm: float
    y_mm: float
    seal: SealLike | None = None


@dataclass(frozen=True)
class AtAnchor:
    """The seal centred on a text such as "（盖章）".

    ``match``: 1-based occurrence, or ``"all"``; ``None`` means "the only one"
    (several occurrences are then refused rather than guessed).
    ``offset_mm``: shift of the seal centre from the text centre (x right, y down).
    """

    text: str
    match: int | str | None = None
    offset_mm: tuple[float, float] = (0.0, 0.0)
    seal: SealLike | None = None


@dataclass(frozen=True)
class InField:
    """An existing, empty signature field, by its (fully qualified) name."""

    name: str
    seal: SealLike | None = None


Placement = AtPosition | AtAnchor | InField


@dataclass(frozen=True)
class CrossPage:
    """骑缝章: the seal cut into vertical strips at the right edge of pages.

    ``first_page``/``last_page``: 1-based, inclusive (default: all pages).
    ``y_mm``: centre of the strips from the top of each page (default: the middle).
    """

    first_page: int | None = None
    last_page: int | None = None
    y_mm: float | None = None
    seal: SealLike | None = None


@dataclass(frozen=True)
class Spot:
    """One widget: a rectangle on a page and where the picture sits in it.

    ``rect`` is in user space; ``image`` is (dx, dy, w, h) in visible points
    relative to the rectangle's visible top-left corner (dx < 0 shows a
    slice, as for cross-page strips: the widget's box clips the rest).
    """

    page_index: int
    rect: tuple[float, float, float, float]
    box: PageBox
    image: tuple[float, float, float, float]
    kind: str  # "seal", "strip", "field"
    field_name: str | None = None
    page_ref: Any = None  # the page's Reference (from the one page-tree walk), if known

    @property
    def user_unit(self) -> float:
        return self.box.user_unit

    def describe(self) -> dict[str, Any]:
        """Where the seal shows, in the user's convention (mm from the visible top-left)."""
        corners = [self.box.to_visible(x, y) for x in (self.rect[0], self.rect[2]) for y in (self.rect[1], self.rect[3])]
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return {"page": self.page_index + 1, "kind": self.kind,
                "x_mm": round((min(xs) + max(xs)) / 2 / MM, 2), "y_mm": round((min(ys) + max(ys)) / 2 / MM, 2),
                "width_mm": round((max(xs) - min(xs)) / MM, 2), "height_mm": round((max(ys) - min(ys)) / MM, 2)}


@dataclass
class SpotGroup:
    """Spots shown by one signature, with one seal."""

    seal: SealLike
    spots: list[Spot]
    existing_field: str | None = None


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _seal_spot(doc: OpenedPdf, index: int, box: PageBox, cx: float, cy: float, w_mm: float, h_mm: float,
               kind: str = "seal") -> Spot:
    w, h = w_mm * MM, h_mm * MM
    x0, y0 = cx - w / 2, cy - h / 2
    return Spot(index, box.user_rect(x0, y0, w, h), box, (0.0, 0.0, w, h), kind,
                page_ref=doc.page_refs[index].reference)


def _page_index(doc: OpenedPdf, page: int) -> int:
    if not isinstance(page, int) or not 1 <= page <= doc.page_count:
        raise errors.PageOutOfRange(path=doc.name, page=page, pages=doc.page_count)
    return page - 1


def _at_position(doc: OpenedPdf, p: AtPosition, seal: SealLike) -> list[Spot]:
    index = _page_index(doc, p.page)
    box = page_box(doc.page(index))
    cx, cy = p.x_mm * MM, p.y_mm * MM
    if not box.contains_visible(cx, cy):
        w, h = box.visible_size_mm
        raise errors.PlacementOffPage(page=p.page, x_mm=_fmt(p.x_mm), y_mm=_fmt(p.y_mm),
                                      width_mm=_fmt(w), height_mm=_fmt(h))
    return [_seal_spot(doc, index, box, cx, cy, seal.width_mm, seal.height_mm)]


def _pick(doc: OpenedPdf, a: AtAnchor, hits: list[anchors.AnchorHit]) -> list[anchors.AnchorHit]:
    if a.match == ALL:
        return hits
    if a.match is None:
        if len(hits) > 1:
            pages = ", ".join(sorted({str(h.page_index + 1) for h in hits}, key=int))
            raise errors.AnchorAmbiguous(text=a.text, path=doc.name, count=len(hits), pages=pages)
        return hits
    n = int(a.match)
    if not 1 <= n <= len(hits):
        raise errors.AnchorNotFound(text=a.text, path=doc.name, which_zh=f"的第 {n} 处（只有 {len(hits)} 处）",
                                    which_en=f" a {n}th time (only {len(hits)} found)")
    return [hits[n - 1]]


def _at_anchor(doc: OpenedPdf, a: AtAnchor, seal: SealLike) -> list[Spot]:
    textbudget.check_document(doc)  # before PDFium expands the pages
    hits = anchors.find(doc.pdfium_source(), a.text, password=doc.password, name=doc.name)
    if not hits:
        raise errors.AnchorNotFound(text=a.text, path=doc.name, which_zh="", which_en="")
    spots = []
    boxes: dict[int, PageBox] = {}
    for hit in _pick(doc, a, hits):
        box = boxes.get(hit.page_index) or page_box(doc.page(hit.page_index))
        boxes[hit.page_index] = box
        cx, cy = box.to_visible(*hit.centre)
        cx, cy = cx + a.offset_mm[0] * MM, cy + a.offset_mm[1] * MM
        spots.append(_seal_spot(doc, hit.page_index, box, cx, cy, seal.width_mm, seal.height_mm))
    return spots


def _widget_page(doc: OpenedPdf, widget_ref: Any, widget: Any) -> int | None:
    """The page a widget is on: its /P, else the page whose /Annots lists it (pages looked up once)."""
    from pyhanko.pdf_utils import generic

    from zhenglian.pdf.pdftree import resolve

    try:
        p = widget.raw_get("/P")
        if isinstance(p, generic.IndirectObject):
            index = doc.page_index(p)
            if index is not None:
                return index
    except KeyError:
        pass
    target = getattr(widget_ref, "reference", widget_ref)
    for i in range(doc.page_count):
        page = doc.page(i)
        try:
            annots = resolve(page.raw_get("/Annots"))
        except KeyError:
            continue
        if not isinstance(annots, generic.ArrayObject):
            continue
        for k in range(len(annots)):
            if getattr(annots.raw_get(k), "reference", None) == target:
                return i
    return None


def _in_field(doc: OpenedPdf, f: InField, seal: SealLike) -> list[Spot]:
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.fields import enumerate_sig_fields

    found = None
    names = []
    for name, value, ref in enumerate_sig_fields(doc.reader):
        names.append(name)
        if name == f.name:
            found = (value, ref)
    if found is None:
        raise errors.SignatureFieldNotFound(path=doc.name, name=f.name, available=", ".join(names) or "-")
    value, ref = found
    if value is not None:
        raise errors.SignatureFieldFilled(path=doc.name, name=f.name)
    field = ref.get_object()
    widget, widget_ref = field, ref
    if "/Kids" in field:
        kids = field["/Kids"]
        if len(kids) != 1:
            raise errors.SigningFailed(path=doc.name, detail=f"field {f.name} has {len(kids)} widgets")
        widget_ref = kids[0]
        widget = widget_ref.get_object() if isinstance(widget_ref, generic.IndirectObject) else widget_ref
    try:
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    except (KeyError, TypeError, ValueError):
        x1 = y1 = x2 = y2 = 0.0
    rect = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    index = _widget_page(doc, widget_ref, widget)
    if index is None or rect[2] - rect[0] < 1 or rect[3] - rect[1] < 1:
        raise errors.SigningFailed(path=doc.name, detail=f"field {f.name} is invisible (no page or zero size)")
    box = page_box(doc.page(index))
    # The seal at its true size, centred in the field; shrunk only if the field is smaller.
    vx = [box.to_visible(x, y) for x in (rect[0], rect[2]) for y in (rect[1], rect[3])]
    vw = (max(c[0] for c in vx) - min(c[0] for c in vx))
    vh = (max(c[1] for c in vx) - min(c[1] for c in vx))
    w, h = seal.width_mm * MM, seal.height_mm * MM
    scale = min(1.0, vw / w, vh / h)
    w, h = w * scale, h * scale
    return [Spot(index, rect, box, ((vw - w) / 2, (vh - h) / 2, w, h), "field", field_name=f.name,
                 page_ref=doc.page_refs[index].reference)]


def _cross_page(doc: OpenedPdf, c: CrossPage, seal: SealLike) -> list[Spot]:
    first = c.first_page or 1
    last = c.last_page or doc.page_count
    _page_index(doc, first)
    _page_index(doc, last)
    if last - first + 1 < 2:
        raise errors.UsageError(detail="骑缝章至少需要两页 / a cross-page seal needs at least two pages")
    n = last - first + 1
    w, h = seal.width_mm * MM, seal.height_mm * MM
    strip = w / n
    spots = []
    for k, index in enumerate(range(first - 1, last)):
        box = page_box(doc.page(index))
        vw, vh = box.visible_size_pt
        cy = c.y_mm * MM if c.y_mm is not None else vh / 2
        if not 0 <= cy <= vh:
            raise errors.PlacementOffPage(page=index + 1, x_mm=_fmt(vw / MM), y_mm=_fmt(cy / MM),
                                          width_mm=_fmt(vw / MM), height_mm=_fmt(vh / MM))
        x0, y0 = vw - strip, cy - h / 2
        spots.append(Spot(index, box.user_rect(x0, y0, strip, h), box, (-k * strip, 0.0, w, h), "strip",
                          page_ref=doc.page_refs[index].reference))
    return spots


def _check_certified(doc: OpenedPdf, groups: Sequence[SpotGroup]) -> None:
    """A document certified with P=2 or P=3 takes approval signatures only in its empty signature fields.

    Filling a field the certifier prepared is an allowed change; a new field
    or widget (a seal at a position, on an anchor, the cross-page strips) is
    not — the certification would be broken.  Refused before the PIN.
    """
    extra = [s for g in groups for s in (g.spots if g.existing_field is None else g.spots[1:])]
    if not extra:
        return
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        empty = [name for name, value, _ref in enumerate_sig_fields(doc.reader, filled_status=False)]
    except Exception:  # noqa: BLE001 - only the hint loses the list
        empty = []
    kinds = {s.kind for s in extra}
    what_zh = "、".join(k for k, v in (("骑缝章", "strip"), ("指定位置或锚点", "seal")) if v in kinds) or "新签名域"
    what_en = ", ".join(k for k, v in (("cross-page seal", "strip"), ("a position or anchor", "seal")) if v in kinds) \
        or "a new signature field"
    raise errors.DocumentCertified(path=doc.name, level=doc.certified, what_zh=what_zh, what_en=what_en,
                                   fields=", ".join(empty) or "无 / none")


def resolve(doc: OpenedPdf, placements: Sequence[Placement], default_seal: SealLike | None,
            cross_page: CrossPage | None = None) -> list[SpotGroup]:
    """Turn requests into spot groups (one signature each), checking everything on the way."""
    groups: list[SpotGroup] = []
    by_seal: dict[int, SpotGroup] = {}

    def seal_of(requested: SealLike | None) -> SealLike:
        seal = requested or default_seal
        if seal is None:
            raise errors.UsageError(detail="没有可用的印章 / no seal to stamp with")
        return seal

    def add(seal: SealLike, spots: list[Spot]) -> None:
        group = by_seal.get(id(seal))
        if group is None:
            group = by_seal[id(seal)] = SpotGroup(seal, [])
            groups.append(group)
        group.spots.extend(spots)

    if not placements and cross_page is None:
        raise errors.UsageError(detail="请指定盖章位置 / say where the seal goes (--page/--at, --anchor or --field)")
    for p in placements:
        seal = seal_of(p.seal)
        if isinstance(p, AtPosition):
            add(seal, _at_position(doc, p, seal))
        elif isinstance(p, AtAnchor):
            add(seal, _at_anchor(doc, p, seal))
        elif isinstance(p, InField):
            if any(g.existing_field == p.name for g in groups):
                raise errors.UsageError(detail=f"签名域 {p.name} 重复 / field {p.name} given twice")
            groups.append(SpotGroup(seal, _in_field(doc, p, seal), existing_field=p.name))
        else:  # pragma: no cover - typing guards this
            raise TypeError(type(p).__name__)
    if cross_page is not None:
        seal = seal_of(cross_page.seal)
        add(seal, _cross_page(doc, cross_page, seal))
    count = sum(len(g.spots) for g in groups)
    if count > MAX_SPOTS:  # the register keeps every spot of a signed document: refused here, before the PIN
        raise errors.TooManySealSpots(path=doc.name, count=count, limit=MAX_SPOTS)
    if doc.certified in (2, 3):
        _check_certified(doc, groups)
    return groups
