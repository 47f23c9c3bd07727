"""The seal picture as a signature's appearance, and the extra widgets that show it.

pyHanko's stamp styles draw a border, leave margins and paint the background
at 60 % opacity; a seal must be none of that: the picture, opaque (its own
transparency kept), exactly its printed size, upright even on a rotated page.
:class:`SealStampStyle` plugs into pyHanko's signer and draws just that.

Each document gets one image XObject for the seal (the compressed bytes come
from :class:`~zhenglian.pdf.seal.EncodedSeal`, made once); every widget's
appearance is a tiny form that paints it with a matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from zhenglian.pdf.geometry import upright_image_matrix
from zhenglian.pdf.placement import Spot
from zhenglian.pdf.seal import EncodedSeal

IMAGE_NAME = "/Seal"
# Widget flags: Print (4) | Locked (128), as pyHanko sets on its own signature widgets.
WIDGET_FLAGS = 4 | 128


class DocumentSeal:
    """The seal's image XObject inside one document being written."""

    def __init__(self, seal: EncodedSeal, writer: Any) -> None:
        self.seal = seal
        self.writer = writer
        self._ref: Any = None

    @property
    def ref(self) -> Any:
        if self._ref is None:
            self._ref = self.seal.add_to(self.writer)
        return self._ref

    def content_for(self, spot: Spot) -> bytes:
        """Content stream painting the picture into ``spot``'s box."""
        x1, y1, x2, y2 = spot.rect
        u = spot.user_unit
        dx, dy, w, h = spot.image
        m = upright_image_matrix(x2 - x1, y2 - y1, spot.box.rotate, dx / u, dy / u, w / u, h / u)
        return b"q " + m.as_pdf() + b" cm " + IMAGE_NAME.encode() + b" Do Q"

    def form_for(self, spot: Spot) -> Any:
        """A form XObject (not yet added) that is the appearance of ``spot``."""
        x1, y1, x2, y2 = spot.rect
        return generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.FloatObject(0), generic.FloatObject(0),
                     generic.FloatObject(round(x2 - x1, 4)), generic.FloatObject(round(y2 - y1, 4))]),
                pdf_name("/Resources"): generic.DictionaryObject({
                    pdf_name("/XObject"): generic.DictionaryObject({pdf_name(IMAGE_NAME): self.ref}),
                }),
            },
            stream_data=self.content_for(spot),
        )

    def add_widget(self, field_ref: Any, spot: Spot) -> Any:
        """Add one more widget (a /Kids entry) of the signature field ``field_ref`` showing ``spot``."""
        writer = self.writer
        if spot.page_ref is not None:  # found by the document's one page-tree walk
            page_ref = generic.IndirectObject(spot.page_ref.idnum, spot.page_ref.generation, writer)
        else:
            page_ref, _ = writer.find_page_for_modification(spot.page_index)
        widget = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(WIDGET_FLAGS),
            pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(round(v, 4)) for v in spot.rect]),
            pdf_name("/P"): page_ref,
            # No /Parent, like the widget pyHanko makes: poppler < 23 (Debian 12,
            # Ubuntu 22.04) takes any kid with /Parent for a separate field and
            # would list each strip as an unsigned signature.  PDF 1.4 widget
            # kids had no /Parent either, so every viewer handles this form.
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): writer.add_object(self.form_for(spot))}),
        })
        widget_ref = writer.add_object(widget)
        field = field_ref.get_object()
        field["/Kids"].append(widget_ref)
        writer.register_annotation(page_ref, widget_ref)
        return widget_ref


@dataclass(frozen=True)
class SealStampStyle(BaseStampStyle):
    """pyHanko stamp style painting the seal picture for one spot, nothing else."""

    border_width: int = 0
    background_opacity: float = 1.0
    doc_seal: Any = None  # DocumentSeal
    spot: Any = None  # Spot

    def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> _SealStamp:
        return _SealStamp(writer=writer, style=self, box=box)


class _SealStamp(BaseStamp):
    def render(self) -> bytes:
        style: SealStampStyle = self.style
        self.set_resource(category=ResourceType.XOBJECT, name=pdf_name(IMAGE_NAME), value=style.doc_seal.ref)
        return style.doc_seal.content_for(style.spot)
