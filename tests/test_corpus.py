"""Every real-world PDF in the shared corpus either signs and validates, or is refused clearly.

The corpus (shared/corpus/real-pdfs, next to the repository) holds PDFs from
many producers: LaTeX, LibreOffice, Google Docs, ImageMagick, ReportLab,
PDF/A, forms, attachments, rotated pages, an encrypted file and a damaged
one.  For each we put a seal in the middle of page 1 (plus a cross-page
seal when there are several pages); a signed result must validate in our
verifier and in poppler's pdfsig and pass qpdf --check; a refusal must be
one of our typed errors with a message in both languages.  The originals
must stay byte-identical.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pdfhelpers as ph
import pytest

from zhenglian import errors
from zhenglian.pdf import placement as pl
from zhenglian.pdf.document import open_pdf
from zhenglian.pdf.geometry import page_box
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.verify import verify_pdf

REPO = Path(__file__).resolve().parent.parent
# ZHENGLIAN_CORPUS: the corpus elsewhere (a git worktree is not next to shared/)
CORPUS = Path(os.environ.get("ZHENGLIAN_CORPUS") or REPO.parent / "shared" / "corpus" / "real-pdfs")
FILES = sorted(CORPUS.glob("*.pdf")) if CORPUS.is_dir() else []

pytestmark = [
    pytest.mark.requires(FILES, reason=f"corpus not found at {CORPUS} (CI clones the repo next to shared/)"),
    pytest.mark.requires(ph.have_poppler(), reason="needs poppler-utils"),
]

# Known outcomes, so a change in behaviour is noticed (anything absent must sign).
EXPECTED_REFUSALS = {
    "005-libreoffice-writer-password_libreoffice-writer-password.pdf": errors.DocumentEncrypted,
    "017-unreadable-meta-data_unreadablemetadata.pdf": errors.DocumentCorrupt,
}


@pytest.fixture(scope="module")
def hashes_before() -> dict[Path, str]:
    return {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in FILES}


@pytest.fixture(scope="module")
def nss(demo_keys, tmp_path_factory):  # type: ignore[no-untyped-def]
    return ph.nss_db(tmp_path_factory.mktemp("nss"), ph.demo_roots_pem())


@pytest.fixture(scope="module")
def batch(demo_keys):  # type: ignore[no-untyped-def]
    with ph.key_batch("SZCA-DEMO", seal=SealPicture(ph.seal_png(), 42, 42, "合同专用章")) as b:
        yield b


def _placement(path: Path) -> tuple[list[pl.Placement], pl.CrossPage | None]:
    with open_pdf(path) as doc:
        w, h = page_box(doc.page(0)).visible_size_mm
        cross = pl.CrossPage() if doc.page_count > 1 else None
    return [pl.AtPosition(1, w / 2, h / 2)], cross


@pytest.mark.parametrize("path", FILES, ids=[f.name[:40] for f in FILES])
def test_corpus_file(path: Path, batch, nss, hashes_before, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "signed.pdf"
    expected = EXPECTED_REFUSALS.get(path.name)
    try:
        placements, cross = _placement(path)
        batch.sign(path, out, placements, cross_page=cross)
    except errors.ZhenglianError as exc:
        assert expected is not None, f"unexpected refusal: {exc.user_message()}"
        assert isinstance(exc, expected)
        assert exc.message_zh() and exc.message_en() and "{" not in exc.user_message()
        assert not out.exists()
        return
    assert expected is None, f"{path.name} should have been refused"
    reports = verify_pdf(out, ph.demo_roots())
    assert [r.status for r in reports] == ["valid"]
    text = ph.pdfsig(out, nss)
    assert "Signature is Valid." in text and "Certificate is Trusted." in text, text
    assert ph.qpdf_check(out).returncode in (0, 3), "qpdf found errors"  # 3: warnings only


def test_originals_untouched(batch, hashes_before) -> None:  # type: ignore[no-untyped-def]
    # runs after the per-file tests in this module (pytest keeps file order)
    assert {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in FILES} == hashes_before
