"""Documents certified by their sender (DocMDP): never a broken certification.

P=1 is refused (test_pdf_sign).  P=2 and P=3 allow an approval signature in
a signature field the certifier prepared; a new field or widget breaks the
certification (pyHanko: "Update … is only allowed after an approval
signature, not a certification signature").  So the seal goes only into an
existing empty field, and anything else is refused before the PIN.  The
result is checked with pyHanko's validator (through verify_pdf and on its
own) and with poppler's pdfsig.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import placement as pl
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.sign import SigningBatch, prepare
from zhenglian.pdf.verify import verify_pdf

SEAL = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "合同专用章")


@pytest.fixture(scope="module")
def keys() -> dict[str, ph.SoftKey]:
    return {"sender": ph.soft_key("东莞市住房公积金管理中心（演示）", ca_id="gdca"), "us": ph.soft_key()}


def certified(path: Path, sender: ph.SoftKey, level: int, *, empty_field: bool = True) -> Path:
    """A two-page document with an empty field "ForSeal" on page 1, certified with DocMDP P=``level``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    data = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
                       **ph.simple_page_objects(3), **ph.simple_page_objects(6)})
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    if empty_field:
        fields.append_signature_field(w, fields.SigFieldSpec("ForSeal", on_page=0, box=(300, 100, 450, 250)))
    out = io.BytesIO()
    signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Certification", certify=True,
                                                     docmdp_permissions=fields.MDPPerm(level)),
                     signer=sender.signer, output=out)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("level", [2, 3])
def test_seal_into_the_prepared_field_keeps_the_certification(level: int, keys, tmp_path: Path,
                                                              caplog) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    from zhenglian.pdf.verify import validation_context

    src = certified(tmp_path / "certified.pdf", keys["sender"], level)
    out = tmp_path / "signed.pdf"
    roots = [keys["sender"].root, keys["us"].root]
    with caplog.at_level(logging.WARNING), SigningBatch(keys["us"].signer, seal=SEAL) as batch:
        result = batch.sign(src, out, [pl.InField("ForSeal")])
        cert, ours = verify_pdf(out, roots)
    assert [s.field_name for s in result.signatures] == ["ForSeal"]
    assert cert.certification == level and cert.status == "valid" and cert.modifications_ok is True
    assert cert.modification_level == "form_filling"
    assert ours.status == "valid" and ours.coverage == "entire_file" and ours.spots[0]["page"] == 1
    assert "only allowed after an approval signature" not in caplog.text
    with open(out, "rb") as fh:  # pyHanko's validator on its own
        for emb in PdfFileReader(fh).embedded_signatures:
            status = validate_pdf_signature(emb, signer_validation_context=validation_context(roots))
            assert status.bottom_line and status.docmdp_ok, status.pretty_print_details()
    assert ph.have_poppler(), "poppler-utils (pdfsig) is needed"
    nss = ph.nss_db(tmp_path / "nss", [keys["sender"].root_pem(tmp_path / "a.pem"),
                                       keys["us"].root_pem(tmp_path / "b.pem")])
    text = ph.pdfsig(out, nss)
    assert text.count("Signature is Valid.") == 2 and text.count("Certificate is Trusted.") == 2, text


@pytest.mark.parametrize("level", [2, 3])
@pytest.mark.parametrize("where", ["position", "anchor", "cross_page", "field_and_position"])
def test_anything_else_is_refused_before_the_pin(level: int, where: str, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = certified(tmp_path / "certified.pdf", keys["sender"], level)
    placements: list[pl.Placement] = {
        "position": [pl.AtPosition(1, 100, 100)],
        "anchor": [pl.AtAnchor("Hello", match=pl.ALL)],
        "cross_page": [],
        "field_and_position": [pl.InField("ForSeal"), pl.AtPosition(2, 100, 100)],
    }[where]
    cross = pl.CrossPage() if where == "cross_page" else None
    with pytest.raises(errors.DocumentCertified) as refused:  # prepare() needs no key: this is before any PIN
        prepare(src, placements, seal=SEAL, cross_page=cross)
    err = refused.value
    assert err.message_zh().startswith(str(src)) and f"P={level}" in err.message_zh()
    assert "ForSeal" in err.hint()[0] and "sender" in err.hint()[1] and "{" not in err.user_message()
    out = tmp_path / "out.pdf"
    with SigningBatch(keys["us"].signer, seal=SEAL) as batch, pytest.raises(errors.DocumentCertified):
        batch.sign(src, out, placements, cross_page=cross)
    assert not out.exists()


def test_certified_without_an_empty_field_says_to_ask_the_sender(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = certified(tmp_path / "certified.pdf", keys["sender"], 2, empty_field=False)
    with pytest.raises(errors.DocumentCertified) as refused:
        prepare(src, [pl.AtPosition(1, 100, 100)], seal=SEAL)
    assert "无 / none" in refused.value.hint()[0] and "发送方" in refused.value.hint()[0]


def test_cli_refuses_before_the_pin_and_signs_into_the_field(run_cli, demo_keys, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    src = certified(tmp_path / "certified.pdf", keys["sender"], 2)
    out = tmp_path / "out.pdf"
    # no PIN line on stdin: asking for the PIN would fail differently
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--page", "1", "--at", "50,50",
                  "--pin-stdin", input="")
    assert res.returncode == 11 and "认证签名" in res.stderr and "ForSeal" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not out.exists()
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--field", "ForSeal", "--pin-stdin",
                  input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    trust = ["--trust", str(keys["sender"].root_pem(tmp_path / "sender.pem"))]
    for pem in ph.demo_roots_pem():
        trust += ["--trust", str(pem)]
    report = json.loads(run_cli("verify", str(out), "--json", *trust).stdout)
    assert [s["status"] for s in report["signatures"]] == ["valid", "valid"], report
    assert report["signatures"][0]["certification"] == 2 and report["signatures"][0]["modifications_ok"] is True


def approved_and_locked(path: Path, sender: ph.SoftKey, level: int) -> Path:
    """A two-page document with an approval signature whose field locks the document at DocMDP P=``level``
    (Acrobat's "lock document after signing"; PDF 2.0 /Lock /P)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    data = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
                       **ph.simple_page_objects(3), **ph.simple_page_objects(6)})
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(w, fields.SigFieldSpec(
        "Approver", on_page=0, box=(300, 100, 450, 250),
        field_mdp_spec=fields.FieldMDPSpec(action=fields.FieldMDPAction.ALL),
        doc_mdp_update_value=fields.MDPPerm(level)))
    out = io.BytesIO()
    signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Approver"), signer=sender.signer, output=out)
    path.write_bytes(out.getvalue())
    return path


def test_an_earlier_signature_that_locked_the_document_is_not_broken(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = approved_and_locked(tmp_path / "locked.pdf", keys["sender"], 1)
    with pytest.raises(errors.DocumentLocked) as refused:  # before any PIN
        prepare(src, [pl.AtPosition(2, 100, 100)], seal=SEAL)
    assert "已有的签名锁定" in refused.value.message_zh() and "earlier signature" in refused.value.message_en()
    out = tmp_path / "out.pdf"
    with SigningBatch(keys["us"].signer, seal=SEAL) as batch, pytest.raises(errors.DocumentLocked):
        batch.sign(src, out, [pl.AtPosition(2, 100, 100)])
    assert not out.exists()


def test_an_earlier_signatures_form_filling_lock_takes_seals_only_in_empty_fields(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = approved_and_locked(tmp_path / "locked.pdf", keys["sender"], 2)
    with pytest.raises(errors.DocumentCertified) as refused:
        prepare(src, [pl.AtPosition(2, 100, 100)], seal=SEAL)
    assert "P=2" in refused.value.message_en()
