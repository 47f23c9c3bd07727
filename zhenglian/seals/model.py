"""A seal as the rest of the client sees it: a named picture bound to one certificate.

Wherever a seal comes from — an SESeal on the key, the signing server, or a
PNG the user imported — it ends up as one :class:`Seal`: a transparent PNG,
its printed size in millimetres, and the SHA-256 fingerprint of the
certificate it belongs to.  A seal is valid exactly as long as that
certificate (国发〔1999〕25号 practice, and the CA's terms), so ``valid_from``
/ ``valid_to`` carry the certificate's dates when the source has none.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from zhenglian import errors

if TYPE_CHECKING:  # Pillow is imported when a picture is decoded, not at start-up
    from PIL import Image

SealSource = Literal["key", "server", "file"]
SOURCES: tuple[str, ...] = ("key", "server", "file")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_PIXELS = 4096 * 4096  # a seal picture is ≈1000 px; refuse decompression bombs


@dataclass(frozen=True)
class Seal:
    """One seal that can be stamped, bound to one certificate."""

    id: str  # stable within its source: esID on the key, server id, import id
    name: str  # 印章名称
    seal_type: str  # 公章, 合同专用章, 抵押业务专用章, 信贷业务专用章, other text, or ""
    png: bytes = field(repr=False)  # RGBA PNG, transparent background
    width_mm: float
    height_mm: float
    cert_sha256: str  # hex SHA-256 of the bound certificate's DER
    source: SealSource
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    # For an SESeal: does its certList name the certificate (None: no SESeal,
    # e.g. a plain image object or an import), and its signature check.
    names_certificate: bool | None = None
    signature: str | None = None  # "valid" / "unsupported" (unknown algorithm) / None
    origin: str = ""  # where it was found: data-object label, file name, server id

    @cached_property
    def image(self) -> Image.Image:
        """The picture as an RGBA PIL image, decoded once per Seal.

        Stamping many documents with one seal should reuse this object
        (re-decoding a 992 px PNG per document costs ≈25 ms).
        """
        return decode_image(self.png)

    @property
    def size_px(self) -> tuple[int, int]:
        return self.image.size

    def is_valid_at(self, when: dt.datetime | None = None) -> bool:
        when = when or dt.datetime.now(dt.UTC)
        if self.valid_from is not None and when < self.valid_from:
            return False
        return not (self.valid_to is not None and when > self.valid_to)

    def to_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """JSON-ready facts (no picture bytes)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.seal_type,
            "width_mm": self.width_mm,
            "height_mm": self.height_mm,
            "cert_sha256": self.cert_sha256,
            "source": self.source,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "valid_now": self.is_valid_at(now),
            "names_certificate": self.names_certificate,
            "signature": self.signature,
            "origin": self.origin,
        }


def decode_image(data: bytes) -> Image.Image:
    """Decode a seal picture to RGBA; :class:`errors.SealInvalid` if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > _MAX_PIXELS:
                raise errors.SealInvalid(detail=f"picture too large ({img.width}×{img.height} px)")
            img.load()
            return img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise errors.SealInvalid(detail=f"picture unreadable ({type(exc).__name__})") from None


def _has_transparency(img: Image.Image) -> bool:
    alpha = img.getchannel("A")
    return alpha.getextrema()[0] < 255


def _white_to_transparent(img: Image.Image) -> Image.Image:
    """Make a seal scanned or exported on white transparent.

    Alpha = 255 − min(R, G, B): white paper vanishes, saturated red ink stays
    opaque, and anti-aliased edges fade smoothly.  Without this a JPEG seal
    would cover the text under it with a white square.
    """
    r, g, b, _ = img.split()
    from PIL import ImageChops

    darkest = ImageChops.darker(ImageChops.darker(r, g), b)
    alpha = darkest.point(lambda v: 255 - v)
    out = img.copy()
    out.putalpha(alpha)
    return out


def normalise_picture(data: bytes) -> bytes:
    """Any seal picture (PNG, JPEG, BMP, GIF) as a PNG with transparency.

    A PNG that already has transparency is kept byte for byte; anything else
    is decoded, its white background made transparent, and re-encoded.
    """
    from zhenglian.pdf.seal import remember_decodable

    img = decode_image(data)
    if data.startswith(PNG_MAGIC) and _has_transparency(img):
        remember_decodable(data)  # decoded in full just now: signing need not check it again
        return data
    out = io.BytesIO()
    _white_to_transparent(img).save(out, format="PNG", compress_level=6)
    png = out.getvalue()
    remember_decodable(png)  # made here from a decoded picture of the same size
    return png


def picture_dpi(data: bytes) -> float | None:
    """The resolution recorded in a picture (PNG pHYs, JPEG density), if any."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            dpi = img.info.get("dpi")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    if not dpi:
        return None
    value = float(dpi[0])
    return value if value > 1 else None
