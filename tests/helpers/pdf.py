"""Test helpers for PDFs: contracts with Chinese anchor text, seals, renderings.

Documents are written with pyHanko's own PDF writer and a subset of Noto
Sans CJK SC (fonts-noto-cjk), so anchor text is real embedded CJK text with
a ToUnicode map, as in documents from the signing system.  Renderings come
from poppler's pdftoppm, a different engine from the PDFium we search text
with, so the position tests do not check our code against itself.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MM = 72.0 / 25.4
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SEAL_RED = (230, 0, 18)
_FONT_DIR = Path(tempfile.gettempdir()) / "zhenglian-test-fonts"

CONTRACT_TEXT = (
    "东莞市住房公积金个人住房贷款借款合同", "甲方（盖章）：", "乙方（盖章）：", "单位盖章", "日期：年月日",
    "第一条 借款金额人民币壹拾万元整。第二条 借款期限二十年。", "抵押人（盖章）", "骑缝章 页",
)
_ASCII = "".join(chr(c) for c in range(32, 127))


def have_cjk_font() -> bool:
    return NOTO.is_file()


def cjk_font(texts: Iterable[str] = CONTRACT_TEXT) -> Path:
    """An OpenType subset of Noto Sans CJK SC holding the characters of ``texts``."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    chars = "".join(sorted(set("".join(texts) + _ASCII + "（）：，。、")))
    digest = hashlib.sha256(chars.encode()).hexdigest()[:16]
    out = _FONT_DIR / f"noto-sc-{digest}.otf"
    if out.is_file():
        return out
    _FONT_DIR.mkdir(parents=True, exist_ok=True)
    coll = TTCollection(str(NOTO), lazy=True)
    font = next(f for f in coll.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    tmp = out.with_suffix(".tmp")
    font.save(str(tmp))
    tmp.replace(out)
    return out


@dataclass
class Text:
    """Text drawn at (x, y) in user space (points, y up: the baseline).

    ``angle``: degrees counter-clockwise in user space; 90 makes text read
    upright on a page with /Rotate 90, as in a landscape page made that way.
    """

    x: float
    y: float
    text: str
    size: float = 12
    angle: float = 0


@dataclass
class PageSpec:
    size: tuple[float, float] = (595.276, 841.89)  # A4 in points
    rotate: int = 0
    crop: tuple[float, float, float, float] | None = None
    media_origin: tuple[float, float] = (0.0, 0.0)
    texts: list[Text] = field(default_factory=list)
    rectangles: list[tuple[float, float, float, float]] = field(default_factory=list)  # grey frames


def make_pdf(path: Path | None, pages: Sequence[PageSpec], *, encrypt_user: str | None = None,
             encrypt_owner: str | None = None, font: Path | None = None) -> bytes:
    """Write a PDF with these pages; returns its bytes (and writes ``path`` if given)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    texts = [t.text for p in pages for t in p.texts]
    w = PdfFileWriter(stream_xrefs=False)
    engine = GlyphAccumulatorFactory(str(font or cjk_font(list(CONTRACT_TEXT) + texts)), font_size=12) \
        .create_font_engine(w) if texts else None
    for spec in pages:
        ops = []
        for x1, y1, x2, y2 in spec.rectangles:
            ops.append(b"q 0.6 G 0.5 w %g %g %g %g re S Q" % (x1, y1, x2 - x1, y2 - y1))
        for t in spec.texts:
            assert engine is not None
            shaped = engine.shape(t.text)
            import math

            c, s_ = math.cos(math.radians(t.angle)), math.sin(math.radians(t.angle))
            ops.append(b"BT /F1 %g Tf %.4f %.4f %.4f %.4f %g %g Tm %s ET"
                       % (t.size, c, s_, -s_, c, t.x, t.y, shaped.graphics_ops))
        content = w.add_object(generic.StreamObject(stream_data=b"\n".join(ops)))
        res = generic.DictionaryObject({
            pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): engine.as_resource()})}) \
            if engine is not None else generic.DictionaryObject()
        ox, oy = spec.media_origin
        page = PageObject(contents=content, media_box=(ox, oy, ox + spec.size[0], oy + spec.size[1]),
                          resources=res)
        if spec.rotate:
            page[pdf_name("/Rotate")] = generic.NumberObject(spec.rotate)
        if spec.crop:
            page[pdf_name("/CropBox")] = generic.ArrayObject([generic.FloatObject(v) for v in spec.crop])
        w.insert_page(page)
    if encrypt_owner or encrypt_user:
        w.encrypt(encrypt_owner or encrypt_user, encrypt_user)
    buf = io.BytesIO()
    w.write(buf)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def contract_pages(n: int = 2) -> list[PageSpec]:
    """A loan contract of ``n`` A4 pages; the last has both parties' seal lines."""
    pages = []
    for i in range(n):
        texts = [Text(72, 780, "东莞市住房公积金个人住房贷款借款合同", 16),
                 Text(72, 720, "第一条 借款金额人民币壹拾万元整。第二条 借款期限二十年。", 10.5),
                 Text(500, 40, f"{i + 1}", 9)]
        if i == n - 1:
            texts += [Text(72, 250, "甲方（盖章）：", 12), Text(330, 250, "乙方（盖章）：", 12),
                      Text(330, 150, "单位盖章", 12), Text(72, 150, "日期：年月日", 12)]
        pages.append(PageSpec(texts=texts))
    return pages


def make_contract(path: Path, n_pages: int = 2, **kw: object) -> Path:
    make_pdf(path, contract_pages(n_pages), **kw)  # type: ignore[arg-type]
    return path


def seal_png(name: str = "东莞市松山湖演示科技有限公司", seal_type: str = "合同专用章",
             diameter_mm: float = 42.0, dpi: float = 300) -> bytes:
    """A round red seal: the project's renderer when present, else a simple Pillow drawing."""
    try:
        from zhenglian.seals import render

        return render.render_seal_png(name, seal_type, diameter_mm, dpi)
    except Exception:  # noqa: BLE001 - the seals package may be absent or without a font
        return simple_seal_png(diameter_mm, dpi)


def simple_seal_png(diameter_mm: float = 42.0, dpi: float = 300) -> bytes:
    from PIL import Image, ImageDraw

    size = round(diameter_mm / 25.4 * dpi)
    img = Image.new("RGBA", (size, size), (*SEAL_RED, 0))
    d = ImageDraw.Draw(img)
    ring = max(2, size // 30)
    d.ellipse((1, 1, size - 2, size - 2), outline=(*SEAL_RED, 255), width=ring)
    c = size / 2
    d.regular_polygon((c, c, size / 5), 5, rotation=0, fill=(*SEAL_RED, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def have_poppler() -> bool:
    return all(shutil.which(t) for t in ("pdftoppm", "pdfsig", "pdftotext"))


def render(pdf: Path, page: int, dpi: int = 72, out_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """Render one page (1-based) of ``pdf`` with poppler, crop box and rotation applied."""
    from PIL import Image

    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="render-"))
    stem = out_dir / f"p{page}"
    subprocess.run(["pdftoppm", "-cropbox", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                    "-png", str(pdf), str(stem)], check=True, capture_output=True, timeout=120)
    with Image.open(f"{stem}.png") as img:
        return img.convert("RGB")


def red_bbox(img, region: tuple[int, int, int, int] | None = None):  # type: ignore[no-untyped-def]
    """Bounding box (x0, y0, x1, y1) in pixels of seal-red pixels, or None."""
    from PIL import ImageChops

    r, g, b = img.split()
    # red: R high, G and B low
    mask = ImageChops.multiply(r.point(lambda v: 255 if v > 150 else 0),
                               ImageChops.invert(ImageChops.lighter(g, b)).point(lambda v: 255 if v > 170 else 0))
    if region is not None:
        mask = mask.crop(region)
    box = mask.getbbox()
    if box is None or region is None:
        return box
    return box[0] + region[0], box[1] + region[1], box[2] + region[0], box[3] + region[1]


def bbox_mm(box: tuple[int, int, int, int], dpi: int) -> tuple[float, float, float, float]:
    """Centre x, centre y, width, height in mm of a pixel box."""
    x0, y0, x1, y1 = box
    px = 25.4 / dpi
    return (x0 + x1) / 2 * px, (y0 + y1) / 2 * px, (x1 - x0) * px, (y1 - y0) * px


def text_bbox(pdf: Path, page: int, word: str) -> list[tuple[float, float, float, float]]:
    """Boxes (points, visible top-left origin) of a word as poppler's pdftotext sees it."""
    import html
    import re

    out = subprocess.run(["pdftotext", "-cropbox", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    boxes = []
    for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out):
        if word in html.unescape(m.group(5)):
            boxes.append(tuple(float(m.group(i)) for i in range(1, 5)))
    return boxes  # type: ignore[return-value]


def nss_db(directory: Path, roots_pem: Iterable[Path]) -> str:
    """An NSS database trusting ``roots_pem`` (for pdfsig); returns the sql: spec."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True,
                   capture_output=True, timeout=60)
    for i, pem in enumerate(roots_pem):
        subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", f"root{i}", "-t", "CT,C,C",
                        "-i", str(pem)], check=True, capture_output=True, timeout=60)
    return f"sql:{directory}"


def pdfsig(pdf: Path, nss: str) -> str:
    res = subprocess.run(["pdfsig", "-nssdir", nss, str(pdf)], capture_output=True, text=True, timeout=120)
    return res.stdout + res.stderr


def qpdf_check(pdf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True, timeout=120)


# --- signing with the demo keys (SoftHSM of the test run) -----------------------

def asymmetric_seal_png(width_mm: float = 40.0, height_mm: float = 20.0, dpi: float = 300) -> bytes:
    """An asymmetric red seal: a frame with a solid block in its top-left quarter.

    Asymmetric so that a seal drawn turned or mirrored is caught, and one
    flat colour so that its opacity can be checked on the rendering.
    """
    from PIL import Image, ImageDraw

    w, h = round(width_mm / 25.4 * dpi), round(height_mm / 25.4 * dpi)
    img = Image.new("RGBA", (w, h), (*SEAL_RED, 0))
    d = ImageDraw.Draw(img)
    line = max(2, round(dpi / 25.4 * 0.8))
    d.rectangle((0, 0, w - 1, h - 1), outline=(*SEAL_RED, 255), width=line)
    d.rectangle((0, 0, w // 4, h // 2), fill=(*SEAL_RED, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


_CTX = None


def context():  # type: ignore[no-untyped-def]
    """One services Context for the test process, as the application has one.

    Two Contexts would each own a Pkcs11Module for SoftHSM, and one's rescan
    (C_Finalize/C_Initialize) would close the other's signing session.
    """
    global _CTX
    if _CTX is None:
        from zhenglian.services import Context

        _CTX = Context.create()
    return _CTX


def find_key(label: str):  # type: ignore[no-untyped-def]
    """(context, key) for the key with this label on the test SoftHSM."""
    ctx = context()
    keys = ctx.tokens.scan()
    for k in keys:
        if k.label == label:
            return ctx, k
    raise LookupError(label)


def demo_pin(label: str) -> str:
    from zhenglian.reference import provision

    for spec in provision.DEMO_KEYS:
        if spec.label == label:
            return spec.user_pin
    raise LookupError(label)


def key_batch(label: str = "SZCA-DEMO", pin: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """A logged-in :class:`SigningBatch` on a test key (context manager)."""
    from zhenglian.pdf import keysign
    from zhenglian.tokens.secret import PinBuffer

    ctx, key = find_key(label)
    return keysign.key_batch(ctx.tokens.handle(key), PinBuffer(pin or demo_pin(label)), **kw)  # type: ignore[arg-type]


def demo_roots_pem() -> list[Path]:
    from zhenglian.reference import democa

    return democa.roots_pem()


def demo_roots():  # type: ignore[no-untyped-def]
    from zhenglian.pdf import trust

    return [c for p in demo_roots_pem() for c in trust.load_cert_file(p)]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_pdf(objects: dict[int, bytes | str], *, root: int = 1, info: int | None = None,
            path: Path | None = None) -> bytes:
    """A PDF written byte by byte from ``objects`` (number → body), with a correct xref table.

    For documents no PDF library would write: duplicate dictionary keys,
    reference cycles, broken page trees.  Object bodies are given as they
    appear between ``N 0 obj`` and ``endobj``.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    size = max(objects) + 1
    offsets = {}
    for num in sorted(objects):
        body = objects[num]
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + (body.encode() if isinstance(body, str) else body) + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 65535 f \n"
    trailer = b"/Size %d /Root %d 0 R" % (size, root) + (b" /Info %d 0 R" % info if info else b"")
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    if path is not None:
        Path(path).write_bytes(bytes(out))
    return bytes(out)


def simple_page_objects(first: int = 3, parent: int = 2, text: bytes = b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET"
                        ) -> dict[int, bytes | str]:
    """A page (``first``), its content stream and font, under the /Pages node ``parent``."""
    return {
        first: f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 595 842] /Contents {first + 1} 0 R "
               f"/Resources << /Font << /F1 {first + 2} 0 R >> >> >>",
        first + 1: b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        first + 2: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }


@dataclass
class SoftKey:
    """A software RSA key with a certificate from a throw-away demo CA (never saved)."""

    signer: object  # pyhanko SimpleSigner
    root: object  # asn1crypto root certificate to trust

    def root_pem(self, path: Path) -> Path:
        """The root as a PEM file (for pdfsig's NSS database)."""
        from asn1crypto import pem

        path.write_bytes(pem.armor("CERTIFICATE", self.root.dump()))  # type: ignore[attr-defined]
        return path


def soft_key(org: str = "东莞市软件密钥测试有限公司", *, signature_hash: str = "sha256", ca_id: str = "szca") -> SoftKey:
    """A pyHanko ``SimpleSigner`` on a software key: signing without SoftHSM, any hash."""
    import datetime as dt

    from asn1crypto import algos
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from zhenglian.reference import democa

    ca = democa.create(ca_id)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                         x509.NameAttribute(NameOID.COMMON_NAME, org)])
    cert = ca.issue(subject, key.public_key(), now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    der = serialization.Encoding.DER

    def a(c: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(c.public_bytes(der))

    private = asn1_keys.PrivateKeyInfo.load(key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    mech = {"sha256": "sha256_rsa", "sha1": "sha1_rsa"}[signature_hash]
    signer = SimpleSigner(signing_cert=a(cert), signing_key=private,
                          cert_registry=SimpleCertificateStore.from_certs([a(ca.sub_cert)]),
                          signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mech}))
    return SoftKey(signer, a(ca.root_cert))


def flate_bomb(path: Path, *, user: str | None = None, owner: str | None = None,
               content_filter: bytes = b"/FlateDecode", decode_parms: bytes = b"") -> Path:
    """Two pages saying "Hello"; page 2's content inflates to 1 MB past the page budget of
    pdf/textbudget (< 200 KB on disk).  ``user``/``owner``: encrypted (AES-256, pyHanko's writer),
    every stream with it.  ``content_filter``/``decode_parms``: page 2's /Filter and /DecodeParms."""
    import zlib

    from zhenglian.pdf import textbudget

    bomb = zlib.compress(b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET\n" + b" " * (textbudget.MAX_PAGE_BYTES + (1 << 20)), 9)
    objects = {1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
               **simple_page_objects(3), **simple_page_objects(6)}
    extra = b" /DecodeParms " + decode_parms if decode_parms else b""
    objects[7] = b"<< /Length %d /Filter %s%s >>\nstream\n" % (len(bomb), content_filter, extra) + bomb + b"\nendstream"
    data = raw_pdf(objects)
    if user is not None or owner is not None:
        data = encrypted_copy(data, user=user or "", owner=owner or user or "")
    Path(path).write_bytes(data)
    return Path(path)


def encrypted_copy(data: bytes, *, user: str, owner: str) -> bytes:
    """``data`` rewritten by pyHanko's writer with AES-256 encryption (streams copied as they are encoded)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    w = copy_into_new_writer(PdfFileReader(io.BytesIO(data)))
    w.encrypt(owner, user)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def dense_drawing(path: Path, lines: int = 100_000, *, dense_first: bool = False) -> Path:
    """Two pages: "Hello", then ``lines`` stroked lines (a dense plan, well inside the page budget of
    pdf/textbudget: 100 000 lines are ~2 MB expanded) that PDFium draws step by step; ``dense_first``:
    the plan is page 1."""
    import zlib

    ops = b"0.5 w\n" + b"".join(b"%d %d m %d %d l S\n" % (i % 500, (i * 7) % 700, (i * 13) % 600, (i * 3) % 800)
                                for i in range(lines))
    packed = zlib.compress(ops, 6)
    kids = "6 0 R 3 0 R" if dense_first else "3 0 R 6 0 R"
    objects = {1: "<< /Type /Catalog /Pages 2 0 R >>", 2: f"<< /Type /Pages /Kids [{kids}] /Count 2 >>",
               **simple_page_objects(3), **simple_page_objects(6)}
    objects[7] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    raw_pdf(objects, path=path)
    return Path(path)


def many_pages(path: Path, n: int, fanout: int = 0) -> Path:
    """An ``n``-page PDF (all pages share one content stream); ``fanout``: a two-level tree."""
    objs: dict[int, bytes | str] = {1: "<< /Type /Catalog /Pages 2 0 R >>", 3: simple_page_objects()[4], 4: simple_page_objects()[5]}
    first = 10
    if not fanout:
        kids = " ".join(f"{first + i} 0 R" for i in range(n))
        objs[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>"
        parents = [2] * n
    else:
        groups = [list(range(i, min(i + fanout, n))) for i in range(0, n, fanout)]
        node0 = first + n
        objs[2] = "<< /Type /Pages /Kids [{}] /Count {} >>".format(
            " ".join(f"{node0 + g} 0 R" for g in range(len(groups))), n)
        parents = []
        for g, members in enumerate(groups):
            objs[node0 + g] = "<< /Type /Pages /Parent 2 0 R /Kids [{}] /Count {} >>".format(
                " ".join(f"{first + i} 0 R" for i in members), len(members))
            parents += [node0 + g] * len(members)
    for i in range(n):
        objs[first + i] = (f"<< /Type /Page /Parent {parents[i]} 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
                           "/Resources << /Font << /F1 4 0 R >> >> >>")
    raw_pdf(objs, path=path)
    return Path(path)


XMP_OLD_MODIFY_DATE = "2020-01-02T03:04:05+00:00"


def with_xmp(src: Path, out: Path) -> Path:
    """``src`` plus an XMP metadata stream (as PDF/A documents carry) last modified on
    :data:`XMP_OLD_MODIFY_DATE`: signing it must bring the XMP up to date (pyHanko does that
    with lxml; without lxml it silently leaves it stale)."""
    import datetime as dt

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.metadata import model, xmp_xml

    old = dt.datetime.fromisoformat(XMP_OLD_MODIFY_DATE)
    with src.open("rb") as fh:
        w = IncrementalPdfFileWriter(fh)
        meta = model.DocumentMetadata(title="XMP", last_modified=old)
        w.root["/Metadata"] = w.add_object(xmp_xml.MetadataStream.from_xmp(xmp_xml.update_xmp_with_meta(meta)))
        w.update_root()
        w._update_meta = lambda: None  # type: ignore[method-assign]  # keep the old date in this revision
        with out.open("wb") as fh_out:
            w.write(fh_out)
    return out


def xmp_modify_date(pdf: Path) -> str | None:
    """xmp:ModifyDate of the document's current /Metadata stream."""
    import re

    from pyhanko.pdf_utils.reader import PdfFileReader

    with pdf.open("rb") as fh:
        root = PdfFileReader(fh, strict=False).root
        if "/Metadata" not in root:
            return None
        data = root["/Metadata"].data
    m = re.search(rb'ModifyDate(?:="|>)([^"<]+)', data)
    return m.group(1).decode() if m else None


def field_locked(path: Path, key: SoftKey, lock: object, *, where: str = "both") -> Path:
    """A two-page document whose field "Sender" is signed with a field lock (a pyHanko FieldMDPSpec),
    beside two empty signature fields "Locked" and "Free" on page 1.

    ``where`` the lock is written: "both" (the field's /Lock and the signature's FieldMDP
    /Reference, as pyHanko and Acrobat write it), "reference" (only the signature's /Reference)
    or "lock" (only the signed field's /Lock)."""
    import asyncio

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    data = raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
                    **simple_page_objects(3), **simple_page_objects(6)})
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(w, fields.SigFieldSpec("Sender", on_page=0, box=(40, 100, 190, 250),
                                                         field_mdp_spec=None if where == "lock" else lock))
    for name, x in (("Locked", 220), ("Free", 400)):
        fields.append_signature_field(w, fields.SigFieldSpec(name, on_page=0, box=(x, 100, x + 150, 250)))
    out = io.BytesIO()

    async def sign() -> None:
        pdf_signer = signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Sender"), signer=key.signer)
        session = pdf_signer.init_signing_session(w, existing_fields_only=True)
        info = await session.perform_presign_validation(w)
        tbs = session.prepare_tbs_document(validation_info=info, bytes_reserved=16384)
        if where != "both":  # the lock moved in the signed revision, before it is hashed
            sender = next(ref for _n, _v, ref in fields.enumerate_sig_fields(w, with_name="Sender")).get_object()
            if where == "reference":
                del sender["/Lock"]
            else:
                sender["/Lock"] = lock.as_sig_field_lock()  # type: ignore[attr-defined]
        prepared, output = tbs.digest_tbs_document(output=out)
        post = await tbs.perform_signature(document_digest=prepared.document_digest,
                                           pdf_cms_signed_attrs=PdfCMSSignedAttributes(
                                               signing_time=session.system_time))
        await post.post_signature_processing(output)

    asyncio.run(sign())
    path.write_bytes(out.getvalue())
    return path
