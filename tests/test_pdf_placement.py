"""The seal lands where it was asked, at its size, upright — checked on poppler renderings.

Each test signs with a demo key, renders the page with pdftoppm (a different
PDF engine from the PDFium we search text with), finds the seal-red pixels
and compares their box with the request in millimetres (± 1 mm), on plain,
rotated, cropped and oddly sized pages.  The test seal is a 40 × 20 mm
frame with a solid block in its top-left quarter, so a turned or mirrored
seal is caught too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import placement as pl
from zhenglian.pdf.seal import SealPicture

pytestmark = pytest.mark.requires(ph.have_poppler() and ph.have_cjk_font(),
                                  reason="needs poppler-utils and fonts-noto-cjk")

DPI = 100
TOL_MM = 1.0
SEAL = SealPicture(ph.asymmetric_seal_png(), 40.0, 20.0, "测试章")


@pytest.fixture(scope="module")
def batch(demo_keys):  # type: ignore[no-untyped-def]
    with ph.key_batch("SZCA-DEMO", seal=SEAL) as b:
        yield b


def _check_seal(img, x_mm: float, y_mm: float, w_mm: float = 40.0, h_mm: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    box = ph.red_bbox(img)
    assert box is not None, "no seal on the rendering"
    cx, cy, w, h = ph.bbox_mm(box, DPI)
    assert cx == pytest.approx(x_mm, abs=TOL_MM)
    assert cy == pytest.approx(y_mm, abs=TOL_MM)
    assert w == pytest.approx(w_mm, abs=TOL_MM)
    assert h == pytest.approx(h_mm, abs=TOL_MM)
    # upright: the solid block is in the top-left quarter of the seal
    x0, y0, x1, y1 = box
    tl = ph.red_bbox(img, (x0 + 3, y0 + 3, x0 + (x1 - x0) // 4, y0 + (y1 - y0) // 2))
    br = img.crop((x1 - (x1 - x0) // 4, y1 - (y1 - y0) // 2, x1 - 4, y1 - 4))
    assert tl is not None
    inner = ph.red_bbox(br)
    assert inner is None, "solid block is not top-left: seal turned or mirrored"
    # opaque: the block has the seal's own red, not a faded pink
    r, g, b = img.getpixel(((x0 + x0 + (x1 - x0) // 4) // 2, (y0 + y0 + (y1 - y0) // 2) // 2))
    assert r > 200 and g < 40 and b < 50, (r, g, b)


PAGES = {
    "a4": ph.PageSpec(),
    "rot90": ph.PageSpec(rotate=90),
    "rot180": ph.PageSpec(rotate=180),
    "rot270": ph.PageSpec(rotate=270),
    "crop": ph.PageSpec(crop=(60, 100, 500, 700)),
    "odd-rot90-crop": ph.PageSpec(size=(400, 700), media_origin=(-150, 80), crop=(-120, 120, 230, 760), rotate=90),
    "letter-landscape": ph.PageSpec(size=(792, 612)),
}


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_position_on_page(kind: str, batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = PAGES[kind]
    src = tmp_path / "in.pdf"
    ph.make_pdf(src, [spec])
    out = tmp_path / "out.pdf"
    x_mm, y_mm = 60.0, 45.0
    batch.sign(src, out, [pl.AtPosition(1, x_mm, y_mm)])
    img = ph.render(out, 1, DPI, tmp_path)
    # the rendering is the visible page: check its size first
    from zhenglian.pdf.geometry import PageBox

    crop = spec.crop or (spec.media_origin[0], spec.media_origin[1],
                         spec.media_origin[0] + spec.size[0], spec.media_origin[1] + spec.size[1])
    vis_w, vis_h = PageBox(*crop, rotate=spec.rotate).visible_size_mm
    assert img.width * 25.4 / DPI == pytest.approx(vis_w, abs=0.5)
    assert img.height * 25.4 / DPI == pytest.approx(vis_h, abs=0.5)
    _check_seal(img, x_mm, y_mm)
    assert ph.qpdf_check(out).returncode == 0


def test_anchor_centres_seal_on_text(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pages = [ph.PageSpec(texts=[ph.Text(72, 700, "借款合同"), ph.Text(330, 260, "单位盖章", 14)]),
             ph.PageSpec(rotate=90, crop=(20, 30, 580, 820), texts=[ph.Text(150, 400, "单位盖章", 14, angle=90)]),
             ph.PageSpec(rotate=270, texts=[ph.Text(400, 600, "单位盖章", 10, angle=270)])]
    src = tmp_path / "in.pdf"
    ph.make_pdf(src, pages)
    out = tmp_path / "out.pdf"
    batch.sign(src, out, [pl.AtAnchor("单位盖章", match=pl.ALL)])
    for page in (1, 2, 3):
        (x0, y0, x1, y1), = ph.text_bbox(src, page, "单位盖章")  # poppler's view of the text, in points
        img = ph.render(out, page, DPI, tmp_path)
        _check_seal(img, (x0 + x1) / 2 / ph.MM, (y0 + y1) / 2 / ph.MM)


def test_anchor_choices(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.make_contract(tmp_path / "c.pdf", 2)
    with pytest.raises(errors.AnchorAmbiguous):
        batch.prepare(src, [pl.AtAnchor("（盖章）")])
    with pytest.raises(errors.AnchorNotFound):
        batch.prepare(src, [pl.AtAnchor("丙方（盖章）")])
    with pytest.raises(errors.AnchorNotFound):
        batch.prepare(src, [pl.AtAnchor("（盖章）", match=3)])
    out = tmp_path / "o.pdf"
    result = batch.sign(src, out, [pl.AtAnchor("（盖章）", match=2)])
    spots = result.signatures[0].spots
    assert len(spots) == 1 and spots[0]["page"] == 2
    (x0, _y0, x1, _y1), = ph.text_bbox(src, 2, "乙方")
    assert x0 / ph.MM < spots[0]["x_mm"] < x1 / ph.MM + 25  # the second occurrence: 乙方's line
    # half-width brackets in the request still find the full-width text
    doc = batch.prepare(src, [pl.AtAnchor("乙方(盖章)")])
    doc.close()


def test_cross_page_strips_at_right_edge(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.pdf"
    ph.make_pdf(src, [ph.PageSpec(), ph.PageSpec(rotate=90), ph.PageSpec(crop=(50, 50, 500, 780)),
                      ph.PageSpec()])
    out = tmp_path / "out.pdf"
    y_mm = 100.0
    result = batch.sign(src, out, [pl.AtPosition(4, 100, 200)],
                        cross_page=pl.CrossPage(first_page=1, last_page=3, y_mm=y_mm))
    assert len(result.signatures) == 1  # strips and main seal: one signature
    strip = 40.0 / 3
    for page in (1, 2, 3):
        img = ph.render(out, page, DPI, tmp_path)
        box = ph.red_bbox(img)
        assert box is not None
        cx, cy, w, h = ph.bbox_mm(box, DPI)
        assert box[2] >= img.width - 1, "strip must touch the right edge"
        assert w == pytest.approx(strip, abs=TOL_MM)
        assert h == pytest.approx(20.0, abs=TOL_MM)
        assert cy == pytest.approx(y_mm, abs=TOL_MM)
        # strip 1 holds the seal's left quarter (the solid block), strip 3 none of it
        x0, y0, x1, y1 = box
        solid = img.crop((x0 + 4, y0 + 4, x1 - 4, y0 + (y1 - y0) // 2 - 4))
        filled = ph.red_bbox(solid)
        if page == 1:
            assert filled is not None
        if page == 3:
            assert filled is None
    _check_seal(ph.render(out, 4, DPI, tmp_path), 100, 200)
    assert ph.red_bbox(ph.render(out, 4, DPI, tmp_path).crop((700, 0, 827, 1169))) is None  # no strip on page 4


def test_existing_field_gets_seal_centred(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    src = tmp_path / "in.pdf"
    ph.make_pdf(src, [ph.PageSpec()])
    with_field = tmp_path / "field.pdf"
    with open(src, "rb") as fh:
        w = IncrementalPdfFileWriter(fh)
        # field 60 x 40 mm, centre at (100, 150) mm from the top-left of an A4 page
        x1, y1 = 70 * ph.MM, 841.89 - 170 * ph.MM
        append_signature_field(w, SigFieldSpec("甲方签章", on_page=0, box=(x1, y1, x1 + 60 * ph.MM, y1 + 40 * ph.MM)))
        with open(with_field, "wb") as out_fh:
            w.write(out_fh)
    out = tmp_path / "out.pdf"
    result = batch.sign(with_field, out, [pl.InField("甲方签章")])
    assert result.signatures[0].field_name == "甲方签章"
    _check_seal(ph.render(out, 1, DPI, tmp_path), 100, 150)
    with pytest.raises(errors.SignatureFieldFilled):
        batch.prepare(out, [pl.InField("甲方签章")])
    with pytest.raises(errors.SignatureFieldNotFound):
        batch.prepare(with_field, [pl.InField("乙方签章")])


def test_refusals_before_signing(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.make_contract(tmp_path / "c.pdf", 2)
    with pytest.raises(errors.PageOutOfRange):
        batch.prepare(src, [pl.AtPosition(3, 10, 10)])
    with pytest.raises(errors.PlacementOffPage):
        batch.prepare(src, [pl.AtPosition(1, 300, 10)])
    with pytest.raises(errors.UsageError):
        batch.prepare(ph.make_contract(tmp_path / "one.pdf", 1), [], cross_page=pl.CrossPage())
    with pytest.raises(errors.OutputIsInput):
        batch.sign(src, src, [pl.AtPosition(1, 50, 50)])


def test_more_spots_than_the_register_keeps_are_refused_before_the_pin(tmp_path: Path) -> None:
    from zhenglian.pdf.sign import prepare
    from zhenglian.register.model import MAX_PLACEMENTS

    src = ph.many_pages(tmp_path / "long.pdf", MAX_PLACEMENTS + 1)
    with pytest.raises(errors.TooManySealSpots) as refused:  # prepare() needs no key: before any PIN
        prepare(src, [], seal=SEAL, cross_page=pl.CrossPage())
    assert f"{MAX_PLACEMENTS + 1} 处" in refused.value.message_zh() and "--pages" in refused.value.hint()[1]
    prepare(src, [], seal=SEAL, cross_page=pl.CrossPage(first_page=1, last_page=MAX_PLACEMENTS))  # the limit itself


def test_a_page_that_expands_beyond_the_budget_is_refused_before_pdfium_reads_it(tmp_path: Path) -> None:
    from zhenglian.pdf.sign import prepare

    src = ph.flate_bomb(tmp_path / "bomb.pdf")
    assert src.stat().st_size < 200_000  # small on disk
    with pytest.raises(errors.DocumentTooComplex) as refused:  # prepare() needs no key: before any PIN
        prepare(src, [pl.AtAnchor("Hello", match=pl.ALL)], seal=SEAL)
    assert "第 2 页" in refused.value.message_zh() and "--page" in refused.value.hint()[1]
    prepare(src, [pl.AtPosition(1, 100, 100)], seal=SEAL).close()  # a position needs no text: signed as before
    ok = ph.many_pages(tmp_path / "ok.pdf", 3)
    prepare(ok, [pl.AtAnchor("Hello", match=pl.ALL)], seal=SEAL).close()  # ordinary pages are far below it


def test_an_encrypted_bomb_is_counted_decrypted_and_refused(tmp_path: Path) -> None:
    from zhenglian.pdf.sign import prepare

    src = ph.flate_bomb(tmp_path / "bomb-aes.pdf", user="geheim")
    assert b"/Encrypt" in src.read_bytes() and src.stat().st_size < 200_000
    with pytest.raises(errors.DocumentTooComplex) as refused:
        prepare(src, [pl.AtAnchor("Hello", match=pl.ALL)], seal=SEAL, password="geheim")
    assert "第 2 页" in refused.value.message_zh()
    owner_only = ph.flate_bomb(tmp_path / "bomb-owner.pdf", user="", owner="o")  # opens without asking
    with pytest.raises(errors.DocumentTooComplex):
        prepare(owner_only, [pl.AtAnchor("Hello", match=pl.ALL)], seal=SEAL)
    ok = tmp_path / "ok-aes.pdf"
    ok.write_bytes(ph.encrypted_copy(ph.many_pages(tmp_path / "ok.pdf", 3).read_bytes(), user="geheim", owner="o"))
    with prepare(ok, [pl.AtAnchor("Hello", match=pl.ALL)], seal=SEAL, password="geheim") as job:
        assert sorted(s.describe()["page"] for g in job.groups for s in g.spots) == [1, 2, 3]  # PDFium read them


def test_a_stream_with_its_own_crypt_filter_is_counted_decrypted(tmp_path: Path) -> None:
    """/Crypt first in /Filter (PDF 7.4.10): decrypted with the document's key, then inflated —
    not taken for an unknown filter, which a page of a few KB would already exceed the budget as."""
    import io
    import os

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    from zhenglian.pdf import textbudget
    from zhenglian.pdf.document import open_pdf

    text = b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET\n" + b"".join(b"%% %s\n" % os.urandom(16).hex().encode()
                                                             for _ in range(300))
    plain = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                        **ph.simple_page_objects(3, text=text)})
    w = copy_into_new_writer(PdfFileReader(io.BytesIO(plain)))
    w.encrypt("o", "u")
    content = w.root["/Pages"]["/Kids"][0].get_object().raw_get("/Contents").get_object()
    content.apply_filter("/FlateDecode")
    content.add_crypt_filter(name=generic.pdf_name("/StdCF"), handler=w.security_handler)
    buf = io.BytesIO()
    w.write(buf)
    with open_pdf(buf.getvalue(), "u", for_signing=False) as doc:
        assert textbudget._filters(textbudget._page_streams(doc.page(0))[0]) == ["/Crypt", "/FlateDecode"]
        textbudget.check_document(doc)  # ≈ 10 KB once decrypted and inflated
        assert doc.text_budget_checked
    identity = ph.flate_bomb(tmp_path / "identity.pdf", content_filter=b"[/Crypt /FlateDecode]",
                             decode_parms=b"[<< /Type /CryptFilterDecodeParms /Name /Identity >> null]")
    with open_pdf(identity, for_signing=False) as doc, pytest.raises(errors.DocumentTooComplex):
        textbudget.check_document(doc)  # /Identity: the data as it is, inflated — and over the budget


@pytest.mark.parametrize("stream, resources", [
    (b"<< /Length 6 /Filter [8 0 R] >>", ""),  # a reference cycle in a filter list
    (b"<< /Length 6 /Filter [99 0 R] >>", ""),  # a missing object there
    (b"<< /Length 6 /Filter [/Crypt] /DecodeParms 99 0 R >>", ""),
    (b"<< /Length 6 /Filter [/Crypt] /DecodeParms [8 0 R] >>", ""),  # indexing the array recursed
    (b"<< /Length 6 >>", "/XObject << /X 8 0 R >>"),
    (b"<< /Length 6 >>", "/XObject << /X 99 0 R >>"),
    (b"<< /Length 6 >>", "/XObject 8 0 R"),
])
def test_a_broken_reference_beside_a_bomb_does_not_hide_it(stream: bytes, resources: str) -> None:
    """A cycle or a missing object spoils one value (PDFium reads it as null), not the page's count:
    it used to drop the whole page from it (the bomb beside it went to PDFium) or raise a pyHanko error."""
    import zlib

    from zhenglian.pdf import textbudget
    from zhenglian.pdf.document import open_pdf

    bomb = zlib.compress(b" " * (textbudget.MAX_PAGE_BYTES + (1 << 20)), 9)
    data = ph.raw_pdf({
        1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [4 0 R 5 0 R] "
           f"/Resources << /Font << /F1 6 0 R >> {resources} >> >>",
        4: stream + b"\nstream\nBT ET\nendstream",
        5: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
        6: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", 8: "9 0 R", 9: "8 0 R"})
    with open_pdf(data, for_signing=False) as doc, pytest.raises(errors.DocumentTooComplex):
        textbudget.check_document(doc)
