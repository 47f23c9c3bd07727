"""Where seals come from, gathered into one list per certificate.

Three sources, in this order of preference:

1. **the key** — SESeal data objects (and bare picture objects) that the CA
   stored beside the certificate.  An SESeal is used only if its certList
   names *this* certificate and its signature is not broken; any other is
   reported in :attr:`SealCatalog.rejected` with the reason, never silently
   used or silently dropped.
2. **the signing server** — seals the server client fetched; they come in
   through :func:`seals_from_server` as :class:`ServerSeal` records.
3. **a file the user imported** — a PNG bound to a certificate by its
   SHA-256 fingerprint, kept under ``<data dir>/seals/`` with a JSON index
   (written atomically).  For CAs that hand the seal picture out separately.

A seal never outlives its certificate: each seal's validity is clipped to
the certificate's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import errors, fsutil, paths
from zhenglian.pki.cert import CertInfo
from zhenglian.pki.cert import parse as parse_cert
from zhenglian.seals import ses
from zhenglian.seals.model import PNG_MAGIC, Seal, SealSource, normalise_picture, picture_dpi
from zhenglian.tokens.dataobjects import SealObject, read_seal_objects

UTC = dt.UTC
DEFAULT_SIZE_MM = 42.0
_SIZE_RANGE_MM = (10.0, 100.0)
_PICTURE_TYPES = {"PNG", "JPG", "JPEG", "BMP", "GIF"}

# Why a seal is not offered: (zh, en).
REASONS: dict[str, tuple[str, str]] = {
    "other_certificate": ("印章绑定的是另一张证书", "the seal names another certificate"),
    "renewed_certificate": ("印章绑定的是同一密钥的另一张（旧）证书，证书更新后印章尚未重新绑定",
                            "the seal names another (earlier) certificate of the same key: "
                            "the certificate was renewed but the seal not re-bound"),
    "bad_signature": ("印章数据的签名无效（已被改动或损坏）", "the seal's signature does not verify (altered or damaged)"),
    "invalid": ("不是有效的电子印章数据", "not valid seal data"),
    "unsupported_picture": ("印章图片格式不支持", "the seal's picture format is not supported"),
    "missing_file": ("导入的印章图片文件丢失或被改动", "the imported seal picture is missing or was changed"),
}


@dataclass(frozen=True)
class RejectedSeal:
    """A seal that was found but will not be offered, and why."""

    name: str
    source: SealSource
    reason: str  # a key of REASONS
    origin: str = ""
    detail: str = ""

    def message_zh(self) -> str:
        return REASONS[self.reason][0]

    def message_en(self) -> str:
        return REASONS[self.reason][1]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "reason": self.reason, "origin": self.origin,
                "message_zh": self.message_zh(), "message_en": self.message_en(), "detail": self.detail}


@dataclass
class SealCatalog:
    """The seals of one certificate, from every source."""

    cert_sha256: str
    seals: list[Seal] = field(default_factory=list)
    rejected: list[RejectedSeal] = field(default_factory=list)

    def usable(self, when: dt.datetime | None = None) -> list[Seal]:
        """Seals that may be stamped now (the certificate and the seal valid)."""
        return [s for s in self.seals if s.is_valid_at(when)]

    def find(self, seal_id: str) -> Seal | None:
        return next((s for s in self.seals if s.id == seal_id), None)

    def add(self, seals: Iterable[Seal], rejected: Iterable[RejectedSeal] = ()) -> None:
        """Append, keeping the first of two seals with the same id (key before server before file)."""
        have = {s.id for s in self.seals}
        for seal in seals:
            if seal.id not in have:
                self.seals.append(seal)
                have.add(seal.id)
        self.rejected.extend(rejected)

    def to_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {"cert_sha256": self.cert_sha256, "seals": [s.to_dict(now) for s in self.seals],
                "rejected": [r.to_dict() for r in self.rejected]}


# --- helpers ---------------------------------------------------------------

def fingerprint(cert_der: bytes) -> str:
    return hashlib.sha256(cert_der).hexdigest()


def _clip(start: dt.datetime | None, end: dt.datetime | None,
          cert: CertInfo | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The seal's validity within its certificate's."""
    if cert is None:
        return start, end
    start = max(start, cert.not_before) if start else cert.not_before
    end = min(end, cert.not_after) if end else cert.not_after
    return start, end


def _size_mm(declared_w: float, declared_h: float, picture: bytes) -> tuple[float, float]:
    """Printed size: as declared if plausible, else from the picture's DPI, else 42 mm."""
    lo, hi = _SIZE_RANGE_MM
    if lo <= declared_w <= hi and lo <= declared_h <= hi:
        return float(declared_w), float(declared_h)
    dpi = picture_dpi(picture)
    if dpi:
        from zhenglian.seals.model import decode_image

        w, h = decode_image(picture).size
        width, height = w / dpi * 25.4, h / dpi * 25.4
        if lo <= width <= hi and lo <= height <= hi:
            return round(width, 1), round(height, 1)
    return DEFAULT_SIZE_MM, DEFAULT_SIZE_MM


def _cert_info(cert_der: bytes) -> CertInfo | None:
    try:
        return parse_cert(cert_der)
    except (ValueError, TypeError):
        return None


# --- SESeal (key and server) -----------------------------------------------

def seal_from_seseal(der: bytes, cert_der: bytes, source: SealSource, origin: str = "",
                     cert: CertInfo | None = None) -> Seal | RejectedSeal:
    """An SESeal checked against one certificate: a Seal, or why not."""
    try:
        parsed = ses.parse_seseal(der)
    except errors.SealInvalid as exc:
        return RejectedSeal(origin or "?", source, "invalid", origin, exc.message_en())
    match = ses.match_certificate(parsed, cert_der)
    if match is not ses.CertMatch.EXACT:
        reason = "renewed_certificate" if match is ses.CertMatch.SAME_KEY else "other_certificate"
        return RejectedSeal(parsed.name, source, reason, origin)
    check = ses.verify_seseal(parsed)
    if check.status is ses.SignatureStatus.INVALID:
        return RejectedSeal(parsed.name, source, "bad_signature", origin, check.detail)
    if parsed.picture_type not in _PICTURE_TYPES:
        return RejectedSeal(parsed.name, source, "unsupported_picture", origin, parsed.picture_type)
    try:
        png = normalise_picture(parsed.picture)
    except errors.SealInvalid as exc:
        return RejectedSeal(parsed.name, source, "invalid", origin, exc.message_en())
    width, height = _size_mm(parsed.width_mm, parsed.height_mm, png)
    cert = cert or _cert_info(cert_der)
    start, end = _clip(parsed.valid_start, parsed.valid_end, cert)
    return Seal(
        id=f"ses:{parsed.es_id}", name=parsed.name, seal_type=ses.infer_seal_type(parsed.name),
        png=png, width_mm=width, height_mm=height, cert_sha256=fingerprint(cert_der), source=source,
        valid_from=start, valid_to=end, names_certificate=True, signature=check.status.value,
        origin=origin,
    )


def _split(results: Iterable[Seal | RejectedSeal]) -> tuple[list[Seal], list[RejectedSeal]]:
    seals: list[Seal] = []
    rejected: list[RejectedSeal] = []
    for r in results:
        (seals if isinstance(r, Seal) else rejected).append(r)  # type: ignore[arg-type]
    return seals, rejected


# --- the key ---------------------------------------------------------------

def _seal_from_image_object(obj: SealObject, cert_der: bytes, cert: CertInfo | None) -> Seal | RejectedSeal:
    """A bare picture on the key: bound to the key's certificate by being there."""
    try:
        png = normalise_picture(obj.value)
    except errors.SealInvalid as exc:
        return RejectedSeal(obj.label or "?", "key", "invalid", obj.label, exc.message_en())
    width, height = _size_mm(0, 0, png)
    start, end = _clip(None, None, cert)
    digest = hashlib.sha256(obj.value).hexdigest()[:16]
    return Seal(
        id=f"img:{digest}", name=obj.label or "印章", seal_type=ses.infer_seal_type(obj.label),
        png=png, width_mm=width, height_mm=height, cert_sha256=fingerprint(cert_der), source="key",
        valid_from=start, valid_to=end, names_certificate=None, signature=None, origin=obj.label,
    )


def _names_any(der: bytes, certs: Sequence[bytes]) -> bool:
    try:
        parsed = ses.parse_seseal(der)
    except errors.SealInvalid:
        return False
    return any(ses.seal_names_certificate(parsed, c) for c in certs)


def seals_from_key_objects(objects: Sequence[SealObject], cert_der: bytes,
                           other_certs: Sequence[bytes] = ()) -> tuple[list[Seal], list[RejectedSeal]]:
    """Seals for ``cert_der`` among the data objects read from its key.

    An SESeal naming one of ``other_certs`` (the key's other signing
    certificates) belongs to that certificate and is skipped here rather
    than reported as a mismatch.  Bare pictures are attached to the
    certificate given: pass the key's *signing* certificate.
    """
    cert = _cert_info(cert_der)
    results: list[Seal | RejectedSeal] = []
    for obj in objects:
        if obj.kind == "seseal":
            found = seal_from_seseal(obj.value, cert_der, "key", obj.label, cert)
            if isinstance(found, RejectedSeal) and found.reason == "other_certificate" \
                    and _names_any(obj.value, other_certs):
                continue
            results.append(found)
        else:
            results.append(_seal_from_image_object(obj, cert_der, cert))
    seals, rejected = _split(results)
    seals.sort(key=_display_order)  # drivers return objects in any order
    return seals, rejected


def _display_order(seal: Seal) -> tuple[int, str]:
    """公章 first, then the special-purpose seals in the usual order, then others."""
    from zhenglian.seals.render import SEAL_TYPES

    rank = SEAL_TYPES.index(seal.seal_type) if seal.seal_type in SEAL_TYPES else len(SEAL_TYPES)
    return rank, seal.name


# --- the signing server ----------------------------------------------------

@dataclass(frozen=True)
class ServerSeal:
    """A seal as the signing-server client hands it over.

    Send ``seseal`` (DER) when the server has one: it is checked like a seal
    on the key.  Otherwise ``picture`` with the fingerprint of the
    certificate the server bound it to.
    """

    id: str
    name: str
    seal_type: str = ""
    seseal: bytes = field(default=b"", repr=False)
    picture: bytes = field(default=b"", repr=False)
    cert_sha256: str = ""
    width_mm: float = DEFAULT_SIZE_MM
    height_mm: float | None = None
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None


def _seal_from_server(record: ServerSeal, cert_der: bytes, cert: CertInfo | None) -> Seal | RejectedSeal:
    origin = f"server:{record.id}"
    if record.seseal:
        return seal_from_seseal(record.seseal, cert_der, "server", origin, cert)
    if record.cert_sha256.lower() != fingerprint(cert_der):
        return RejectedSeal(record.name, "server", "other_certificate", origin)
    try:
        png = normalise_picture(record.picture)
    except errors.SealInvalid as exc:
        return RejectedSeal(record.name, "server", "invalid", origin, exc.message_en())
    width, height = _size_mm(record.width_mm, record.height_mm or record.width_mm, png)
    start, end = _clip(record.valid_from, record.valid_to, cert)
    return Seal(
        id=f"srv:{record.id}", name=record.name,
        seal_type=record.seal_type or ses.infer_seal_type(record.name), png=png,
        width_mm=width, height_mm=height, cert_sha256=fingerprint(cert_der), source="server",
        valid_from=start, valid_to=end, origin=origin,
    )


def seals_from_server(records: Iterable[ServerSeal], cert_der: bytes) -> tuple[list[Seal], list[RejectedSeal]]:
    """Seals the server client already fetched, checked against ``cert_der``."""
    cert = _cert_info(cert_der)
    return _split(_seal_from_server(r, cert_der, cert) for r in records)


# --- files the user imported -----------------------------------------------

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _fail(zh: str, en: str) -> errors.SealImportFailed:
    return errors.SealImportFailed(problem_zh=zh, problem_en=en)


class SealFileStore:
    """Imported seal pictures under ``<data dir>/seals/``, with ``index.json``.

    The index is rewritten whole and atomically; each picture is a separate
    file named by the seal's id, written before the index mentions it, so a
    crash never leaves the index pointing at half a file.
    """

    INDEX_VERSION = 1

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else paths.data_dir() / "seals"

    @property
    def index_file(self) -> Path:
        return self.root / "index.json"

    def entries(self) -> list[dict[str, Any]]:
        try:
            data = fsutil.read_json(self.index_file, {"version": self.INDEX_VERSION, "seals": []})
        except ValueError:
            raise errors.ConfigError(file=str(self.index_file), problem="JSON") from None
        seals = data.get("seals") if isinstance(data, dict) else None
        if not isinstance(seals, list):
            raise errors.ConfigError(file=str(self.index_file), problem="seals 应为列表 / seals must be a list")
        return [e for e in seals if isinstance(e, dict)]

    def _write(self, entries: list[dict[str, Any]]) -> None:
        fsutil.atomic_write_json(self.index_file, {"version": self.INDEX_VERSION, "seals": entries})

    def add(self, picture: bytes, name: str, seal_type: str, cert_sha256: str,
            width_mm: float = DEFAULT_SIZE_MM, height_mm: float | None = None, original: str = "") -> Seal:
        """Store a picture bound to a certificate fingerprint; returns the new seal.

        The returned seal has no validity dates: those come from the
        certificate, which is known only when the seal is listed for it.
        """
        cert_sha256 = cert_sha256.strip().lower().replace(":", "")
        if not _HEX64.match(cert_sha256):
            raise _fail("证书指纹应为 64 位十六进制 SHA-256", "the certificate fingerprint must be a hex SHA-256")
        if not name.strip():
            raise _fail("印章名称不能为空", "the seal name must not be empty")
        lo, hi = _SIZE_RANGE_MM
        if not lo <= width_mm <= hi:
            raise _fail(f"印章尺寸应在 {lo:g}–{hi:g} 毫米之间", f"the seal size must be {lo:g}–{hi:g} mm")
        try:
            png = normalise_picture(picture)
        except errors.SealInvalid:
            raise _fail("文件不是可识别的图片（PNG/JPEG/BMP/GIF）",
                        "the file is not a picture we can read (PNG/JPEG/BMP/GIF)") from None
        from zhenglian.seals.model import decode_image

        w, h = decode_image(png).size
        height = height_mm or round(width_mm * h / w, 1)
        seal_id = uuid.uuid4().hex[:16]
        fsutil.atomic_write_bytes(self.root / f"{seal_id}.png", png, mode=0o644)
        entry = {
            "id": seal_id, "name": name.strip(), "type": seal_type.strip(), "cert_sha256": cert_sha256,
            "width_mm": float(width_mm), "height_mm": float(height), "file": f"{seal_id}.png",
            "png_sha256": hashlib.sha256(png).hexdigest(), "original": original,
            "imported_at": dt.datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with fsutil.locked(self.index_file):  # two imports at once (window and command line) both stay
            entries = self.entries()
            entries.append(entry)
            self._write(entries)
        loaded = self._load(entry, cert_sha256, None)
        assert isinstance(loaded, Seal)
        return loaded

    def remove(self, seal_id: str) -> bool:
        with fsutil.locked(self.index_file):
            entries = self.entries()
            keep = [e for e in entries if e.get("id") != seal_id]
            if len(keep) == len(entries):
                return False
            self._write(keep)
        (self.root / f"{seal_id}.png").unlink(missing_ok=True)
        return True

    def seals_for(self, cert_der: bytes) -> tuple[list[Seal], list[RejectedSeal]]:
        """The imported seals bound to this certificate."""
        fp = fingerprint(cert_der)
        cert = _cert_info(cert_der)
        results: list[Seal | RejectedSeal] = []
        for e in self.entries():
            if e.get("cert_sha256") == fp:
                results.append(self._load(e, fp, cert))
        return _split(results)

    def _load(self, e: dict[str, Any], fp: str, cert: CertInfo | None) -> Seal | RejectedSeal:
        name = str(e.get("name", ""))
        file = self.root / Path(str(e.get("file", ""))).name  # never outside the store
        try:
            png = file.read_bytes()
        except OSError:
            png = b""
        if not png.startswith(PNG_MAGIC) or hashlib.sha256(png).hexdigest() != e.get("png_sha256"):
            return RejectedSeal(name, "file", "missing_file", file.name)
        start, end = _clip(None, None, cert)
        return Seal(
            id=f"file:{e.get('id')}", name=name, seal_type=str(e.get("type", "")), png=png,
            width_mm=float(e.get("width_mm", DEFAULT_SIZE_MM)),
            height_mm=float(e.get("height_mm", DEFAULT_SIZE_MM)), cert_sha256=fp, source="file",
            valid_from=start, valid_to=end, origin=str(e.get("original", "")),
        )


def import_seal_file(png_path: Path | str, name: str, seal_type: str, cert_sha256: str,
                     width_mm: float = DEFAULT_SIZE_MM, height_mm: float | None = None,
                     store: SealFileStore | None = None) -> Seal:
    """Import a seal picture (PNG preferred; JPEG/BMP/GIF have white made transparent).

    The seal is bound to the certificate with SHA-256 ``cert_sha256`` and
    kept under ``<data dir>/seals/``; its id is ``file:<16 hex>``.
    """
    path = Path(png_path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"无法读取文件 {path}（{type(exc).__name__}）",
                    f"cannot read {path} ({type(exc).__name__})") from None
    return (store or SealFileStore()).add(data, name, seal_type, cert_sha256, width_mm, height_mm,
                                          original=path.name)


# --- all together ----------------------------------------------------------

def seals_for_certificate(cert_der: bytes, key_objects: Sequence[SealObject] = (),
                          server: Iterable[ServerSeal] = (),
                          store: SealFileStore | None = None, use_files: bool = True,
                          other_certs: Sequence[bytes] = ()) -> SealCatalog:
    """Every seal of one certificate: key first, then server, then imported files."""
    catalog = SealCatalog(fingerprint(cert_der))
    catalog.add(*seals_from_key_objects(key_objects, cert_der, other_certs))
    catalog.add(*seals_from_server(server, cert_der))
    if use_files:
        catalog.add(*(store or SealFileStore()).seals_for(cert_der))
    return catalog


def seals_for_key(session: Any, cert_der: bytes, server: Iterable[ServerSeal] = (),
                  store: SealFileStore | None = None, use_files: bool = True,
                  other_certs: Sequence[bytes] = ()) -> SealCatalog:
    """The seals of the certificate on this key, reading the key's data objects.

    ``session`` is an open python-pkcs11 session on the key (no PIN needed).
    """
    return seals_for_certificate(cert_der, read_seal_objects(session), server, store, use_files,
                                 other_certs)
