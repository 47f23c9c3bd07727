"""The seal picture as PDF wants it, encoded once and reused.

A seal arrives as a transparent PNG with its printed size in millimetres
(``zhenglian.seals.model.Seal`` or anything shaped like :class:`SealLike`).
PDF has no PNG: the picture becomes an RGB image XObject with its alpha as a
soft mask (``/SMask``).  Decoding and compressing a 992 px seal costs ≈25 ms,
more than signing itself, so :class:`EncodedSeal` does it once and every
document gets new stream objects around the same compressed bytes.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from zhenglian import errors

MAX_SIDE_MM = 100.0  # no seal is larger; a bigger number is a unit mistake
_MAX_PIXELS = 4096 * 4096


@runtime_checkable
class SealLike(Protocol):
    """What signing needs of a seal (``zhenglian.seals.model.Seal`` fits)."""

    @property
    def png(self) -> bytes: ...

    @property
    def width_mm(self) -> float: ...

    @property
    def height_mm(self) -> float: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class SealPicture:
    """A plain seal: PNG bytes, printed size and name (for tests and callers without a Seal)."""

    png: bytes = field(repr=False)
    width_mm: float
    height_mm: float
    name: str


@dataclass(frozen=True)
class EncodedSeal:
    """A seal's picture compressed for PDF, ready to be wrapped per document."""

    name: str
    width_mm: float
    height_mm: float
    px_width: int
    px_height: int
    colour_space: str  # "/DeviceRGB" or "/DeviceGray"
    colour_data: bytes = field(repr=False)  # Flate-compressed samples
    alpha_data: bytes | None = field(repr=False)  # Flate-compressed alpha, None if opaque
    sha256: str = ""

    def add_to(self, writer: Any) -> Any:
        """Add the image (and its soft mask) to a pyHanko writer; returns the reference.

        Only object wrappers are made here: the compressed bytes are shared.
        """
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.generic import pdf_name

        def image(cs: str, data: bytes) -> Any:
            return generic.StreamObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Image"),
                    pdf_name("/Width"): generic.NumberObject(self.px_width),
                    pdf_name("/Height"): generic.NumberObject(self.px_height),
                    pdf_name("/ColorSpace"): pdf_name(cs),
                    pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                    pdf_name("/Filter"): pdf_name("/FlateDecode"),
                    pdf_name("/Interpolate"): generic.BooleanObject(True),
                },
                encoded_data=data,
            )

        main = image(self.colour_space, self.colour_data)
        if self.alpha_data is not None:
            main[pdf_name("/SMask")] = writer.add_object(image("/DeviceGray", self.alpha_data))
        return writer.add_object(main)


def _check_size(seal: SealLike) -> tuple[float, float]:
    try:
        w, h = float(seal.width_mm), float(seal.height_mm)
    except (TypeError, ValueError):
        raise errors.SealInvalid(detail="size is not a number") from None
    if not (0 < w <= MAX_SIDE_MM and 0 < h <= MAX_SIDE_MM):
        raise errors.SealInvalid(detail=f"size {w:g}×{h:g} mm is out of range (0–{MAX_SIDE_MM:g} mm)")
    return w, h


def _decode(png: bytes) -> Any:
    """The picture as an RGBA image; :class:`errors.SealInvalid` if it is not a usable one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as img:
            if img.width * img.height > _MAX_PIXELS:
                raise errors.SealInvalid(detail=f"picture too large ({img.width}×{img.height} px)")
            img.load()
            return img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise errors.SealInvalid(detail=f"picture unreadable ({type(exc).__name__})") from None


def encode(seal: SealLike, level: int = 6) -> EncodedSeal:
    """Decode the PNG and compress it for PDF (slow: call through :func:`encoded`)."""
    w_mm, h_mm = _check_size(seal)
    rgba = _decode(seal.png)
    alpha = rgba.getchannel("A")
    opaque = alpha.getextrema()[0] == 255
    rgb = rgba.convert("RGB")
    colours = rgb.getcolors(maxcolors=2)
    if colours is not None and len(colours) == 1 and len(set(colours[0][1])) == 1:
        gray = rgb.convert("L")  # one grey (or black) ink: a third of the bytes
        colour_space, samples = "/DeviceGray", gray.tobytes()
    else:
        colour_space, samples = "/DeviceRGB", rgb.tobytes()
    return EncodedSeal(
        name=str(seal.name),
        width_mm=w_mm,
        height_mm=h_mm,
        px_width=rgba.width,
        px_height=rgba.height,
        colour_space=colour_space,
        colour_data=zlib.compress(samples, level),
        alpha_data=None if opaque else zlib.compress(alpha.tobytes(), level),
        sha256=hashlib.sha256(seal.png).hexdigest(),
    )


_CACHE: OrderedDict[tuple[str, float, float, str], EncodedSeal] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


_CHECKED: OrderedDict[str, None] = OrderedDict()  # SHA-256 of pictures known to decode within the limits


def remember_decodable(png: bytes) -> None:
    """``png`` was just decoded in full within :data:`_MAX_PIXELS` (by the seal store's
    normalisation): :func:`check_picture` need not decode it again."""
    digest = hashlib.sha256(png).hexdigest()
    with _CACHE_LOCK:
        _CHECKED[digest] = None
        _CHECKED.move_to_end(digest)
        while len(_CHECKED) > _CACHE_SIZE:
            _CHECKED.popitem(last=False)


def check_picture(seal: SealLike | EncodedSeal) -> None:
    """Fail now, with :class:`errors.SealInvalid`, if :func:`encoded` would fail on ``seal``.

    The checks of :func:`encode` (size, pixel count, a picture that decodes)
    without its compression (≈ 25 ms for a 992 px seal): a command checks the
    seal before it asks for the PIN and compresses it while the PIN is typed.
    A picture decoded once already (a key's seal, normalised when it was read)
    is not decoded again.
    """
    if isinstance(seal, EncodedSeal):
        return
    _check_size(seal)
    digest = hashlib.sha256(seal.png).hexdigest()
    with _CACHE_LOCK:
        if digest in _CHECKED or any(k[0] == digest for k in _CACHE):
            return
    _decode(seal.png)
    remember_decodable(seal.png)


def encoded(seal: SealLike | EncodedSeal) -> EncodedSeal:
    """The encoded form of ``seal``, from a small per-process cache."""
    if isinstance(seal, EncodedSeal):
        return seal
    w, h = _check_size(seal)
    key = (hashlib.sha256(seal.png).hexdigest(), w, h, str(seal.name))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    enc = encode(seal)
    with _CACHE_LOCK:
        _CACHE[key] = enc
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return enc
