"""Hostile and odd PDF structure: strict-syntax slips read leniently, loops refused, pages looked up once.

The documents are written byte by byte (``helpers.pdf.raw_pdf``) because no
PDF library writes duplicate keys or reference cycles.  Signing uses a
software key (pyHanko's SimpleSigner): what is tested here is the document
handling, which is the same for every signer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import placement as pl
from zhenglian.pdf.document import open_pdf
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.sign import SigningBatch, prepare
from zhenglian.pdf.verify import verify_pdf

SEAL = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "合同专用章")
CATALOG = "<< /Type /Catalog /Pages 2 0 R >>"
PAGES1 = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


@pytest.fixture(scope="module")
def key() -> ph.SoftKey:
    return ph.soft_key()


def _xmp() -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"><pdf:Producer>pdfTeX</pdf:Producer>'
            b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


DUPLICATE_IN = ("info", "metadata", "outlines", "acroform")


def pazotest_like(path: Path, where: Sequence[str] = DUPLICATE_IN) -> Path:
    """Like texlive's pazotest.pdf: keys defined twice — in /Info, and here also in metadata, outlines, AcroForm."""
    xmp = _xmp()

    def twice(part: str, entry: str) -> str:
        return entry if part in where else ""

    ph.raw_pdf({
        1: "<< /Type /Catalog /Pages 2 0 R /Metadata 10 0 R /Outlines 11 0 R /AcroForm 13 0 R >>",
        2: PAGES1,
        **ph.simple_page_objects(),
        9: f"<< /Producer (pdfTeX-1.40.25) /Creator (TeX) {twice('info', '/Producer (pdfTeX)')} /Title (pazo) >>",
        10: (f"<< /Type /Metadata /Subtype /XML {twice('metadata', '/Type /Metadata')} /Length {len(xmp)} >>\n"
             "stream\n").encode() + xmp + b"\nendstream",
        11: f"<< /Type /Outlines /First 12 0 R /Last 12 0 R /Count 1 {twice('outlines', '/Count 1')} >>",
        12: "<< /Title (Chapter) /Parent 11 0 R /Dest [3 0 R /Fit] >>",
        13: f"<< /Fields [] /DA (/Helv 0 Tf 0 g) {twice('acroform', '/Fields []')} >>",
    }, info=9, path=path)
    return path


@pytest.mark.parametrize("where", [*DUPLICATE_IN, "all"])
def test_duplicate_keys_anywhere_pyhanko_reads_are_decided_before_the_pin(where: str, key, tmp_path: Path) -> None:
    src = pazotest_like(tmp_path / "pazotest.pdf", DUPLICATE_IN if where == "all" else (where,))
    # prepare() is what runs before the PIN: it must already know the file needs lenient reading
    with prepare(src, [pl.AtPosition(1, 100, 100)], seal=SEAL) as doc:
        assert not doc.opened.strict and doc.opened.warnings
    out, again = tmp_path / "signed.pdf", tmp_path / "again.pdf"
    with SigningBatch(key.signer, seal=SEAL) as batch:
        batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
        batch.sign(out, again, [pl.AtPosition(1, 100, 200)])  # a second signature: history analysed
    first, second = verify_pdf(again, [key.root])
    assert (first.status, first.modification_level, second.status) == ("valid", "form_filling", "valid")


def test_pazotest_like_signs_and_validates_everywhere(key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    from zhenglian.pdf.verify import validation_context

    src = pazotest_like(tmp_path / "pazotest.pdf")
    before = src.read_bytes()
    out = tmp_path / "signed.pdf"
    with SigningBatch(key.signer, seal=SEAL) as batch:
        result = batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
    assert result.warnings and src.read_bytes() == before
    (rep,) = verify_pdf(out, [key.root])
    assert rep.status == "valid" and rep.coverage == "entire_file"
    with open(out, "rb") as fh:  # pyHanko's validator on its own, reading as viewers read
        (emb,) = PdfFileReader(fh, strict=False).embedded_signatures
        status = validate_pdf_signature(emb, signer_validation_context=validation_context([key.root]))
        assert status.bottom_line, status.pretty_print_details()
    assert ph.have_poppler(), "poppler-utils (pdfsig) is needed"
    nss = ph.nss_db(tmp_path / "nss", [key.root_pem(tmp_path / "root.pem")])
    text = ph.pdfsig(out, nss)
    assert "Signature is Valid." in text and "Certificate is Trusted." in text, text


def _cycle_documents() -> dict[str, dict[int, bytes | str]]:
    page = ph.simple_page_objects()
    return {
        # a /Kids that holds its own parent
        "kids_hold_parent": {1: CATALOG, 2: "<< /Type /Pages /Kids [10 0 R] /Count 1 >>", **ph.simple_page_objects(parent=10),
                             10: "<< /Type /Pages /Parent 2 0 R /Kids [3 0 R 2 0 R] /Count 1 >>"},
        "kids_hold_themselves": {1: CATALOG, 2: "<< /Type /Pages /Kids [2 0 R] /Count 1 >>", **page},
        # a page listed twice (pyHanko would take it for two pages)
        "page_twice": {1: CATALOG, 2: "<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>", **page},
        # objects that are references to themselves / to each other
        "resources_self": {1: CATALOG, 2: PAGES1,
                           3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 6 0 R >>", 6: "6 0 R"},
        "parent_loop": {1: CATALOG, 2: PAGES1,
                        3: "<< /Type /Page /Parent 6 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
                        6: "7 0 R", 7: "6 0 R"},
        "mediabox_loop": {1: CATALOG, 2: PAGES1,
                          3: "<< /Type /Page /Parent 2 0 R /MediaBox 6 0 R /Resources << >> >>", 6: "7 0 R", 7: "6 0 R"},
        "info_loop": {1: CATALOG, 2: PAGES1, **page, 9: "9 0 R"},
        "acroform_loop": {1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 10 0 R >>", 2: PAGES1, **page,
                          10: "<< /Fields [11 0 R] >>", 11: "<< /T (a) /Kids [11 0 R] >>"},
        # a field listed twice under its parent, at each of 40 levels: 2**40 visits for a recursive walk
        "form_doubles": {1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 100 0 R >>", 2: PAGES1, **page,
                         100: "<< /Fields [101 0 R] >>", 141: "<< /T (leaf) /FT /Sig >>",
                         **{101 + i: f"<< /T (f{i}) /Kids [{102 + i} 0 R {102 + i} 0 R] >>" for i in range(40)}},
        "wrong_count": {1: CATALOG, 2: "<< /Type /Pages /Kids [3 0 R] /Count 5 >>", **page},
        "deeply_nested": {1: CATALOG, 2: PAGES1, **page, 9: "<< /Producer " + "[" * 5000 + "]" * 5000 + " >>"},
    }


CYCLES = _cycle_documents()


@pytest.mark.parametrize("case", sorted(CYCLES))
def test_reference_cycles_end_in_a_typed_error(case: str, key, tmp_path: Path) -> None:
    src = tmp_path / f"{case}.pdf"
    ph.raw_pdf(CYCLES[case], info=9 if 9 in CYCLES[case] else None, path=src)
    with pytest.raises(errors.DocumentCorrupt) as opened:
        open_pdf(src)
    assert opened.value.message_zh().startswith(str(src)) and "PDF" in opened.value.message_zh()
    with pytest.raises(errors.DocumentCorrupt):
        verify_pdf(src, [key.root])
    out = tmp_path / "out.pdf"
    with SigningBatch(key.signer, seal=SEAL) as batch, pytest.raises(errors.DocumentCorrupt):
        batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
    assert not out.exists()


@pytest.mark.parametrize("fanout", [0, 25])
def test_pages_are_looked_up_with_one_walk(fanout: int, key, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.rw_common import PdfHandler

    from zhenglian.pdf import pdftree

    n = 400
    src = ph.many_pages(tmp_path / "many.pdf", n, fanout)
    out = tmp_path / "signed.pdf"
    with SigningBatch(key.signer, seal=SEAL) as batch:
        batch.sign(src, out, [pl.AtPosition(n, 100, 100)], cross_page=pl.CrossPage(first_page=n - 9))
    walks = {"ours": 0, "pyhanko": 0}
    ours, theirs = pdftree.page_refs, PdfHandler._walk_page_tree

    def count_ours(reader):  # type: ignore[no-untyped-def]
        walks["ours"] += 1
        return ours(reader)

    def count_theirs(self, *a, **k):  # type: ignore[no-untyped-def]
        walks["pyhanko"] += 1
        return theirs(self, *a, **k)

    monkeypatch.setattr(pdftree, "page_refs", count_ours)
    monkeypatch.setattr(PdfHandler, "_walk_page_tree", count_theirs)
    with open_pdf(out) as doc:
        assert doc.page_count == n and doc.page_index(doc.page_refs[-1]) == n - 1
    assert walks == {"ours": 1, "pyhanko": 0}
    (rep,) = verify_pdf(out, [key.root])
    assert rep.status == "valid" and {s["page"] for s in rep.spots} == set(range(n - 9, n + 1))
    assert walks == {"ours": 2, "pyhanko": 0}, "verify walks the page tree once, not once per page"
    # signing: one walk to open, and pyHanko's own lookup once per signature field it creates
    walks.update(ours=0, pyhanko=0)
    with SigningBatch(key.signer, seal=SEAL) as batch:
        batch.sign(out, tmp_path / "twice.pdf", [pl.AtPosition(1, 100, 100)], cross_page=pl.CrossPage())
    assert walks["ours"] == 1 and walks["pyhanko"] <= 2, walks


def test_cli_signs_pazotest_like_and_refuses_loops_before_the_pin(run_cli, demo_keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    src = pazotest_like(tmp_path / "pazotest.pdf")
    out = tmp_path / "signed.pdf"
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--page", "1", "--at", "100,100",
                  "--pin-stdin", input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    trust = [a for pem in ph.demo_roots_pem() for a in ("--trust", str(pem))]
    report = json.loads(run_cli("verify", str(out), "--json", *trust).stdout)
    assert report["valid"] is True, report
    loop = ph.raw_pdf(CYCLES["kids_hold_parent"], path=tmp_path / "loop.pdf")
    assert loop
    res = run_cli("sign", str(tmp_path / "loop.pdf"), "-o", str(tmp_path / "x.pdf"), "--key", "SZCA-DEMO",
                  "--page", "1", "--at", "100,100", "--pin-stdin", input="")  # no PIN: asking would fail otherwise
    assert res.returncode == 11 and "不是完好的 PDF" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert "未签署" in res.stderr
    res = run_cli("verify", str(tmp_path / "loop.pdf"))
    assert res.returncode == 11 and "不是完好的 PDF" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert "无法核验" in res.stderr and "未签署" not in res.stderr and "not signed" not in res.stderr  # nothing was signed


def test_a_field_listed_twice_still_signs(key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Some producers list a field twice in /Fields: harmless, and not a loop."""
    src = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 10 0 R >>", 2: PAGES1,
                      3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [11 0 R] >>",
                      10: "<< /Fields [11 0 R 11 0 R] >>",
                      11: "<< /T (Name) /FT /Tx /Type /Annot /Subtype /Widget /Rect [50 50 200 80] /P 3 0 R >>"},
                     path=tmp_path / "twice.pdf")
    assert src
    out = tmp_path / "signed.pdf"
    with SigningBatch(key.signer, seal=SEAL) as batch:
        batch.sign(tmp_path / "twice.pdf", out, [pl.AtPosition(1, 100, 200)])
    (rep,) = verify_pdf(out, [key.root])
    assert rep.status == "valid"
