"""``check_last`` (the task signer's self-check) and ``count_signatures``.

The self-check judges the integrity of the signature just made — intact, valid with the
certificate it names, covering the whole file — without certificate paths: it must agree
with the full validation on those points, and must not run it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import pdf as ph
from helpers.sm2pdf import SoftSM2Signer, sign_pdf_sm2, tamper

from zhenglian.pdf.selfcheck import check_last
from zhenglian.pdf.verify import count_signatures, verify_pdf
from zhenglian.reference import democa, provision


@pytest.fixture(scope="module")
def key() -> ph.SoftKey:
    return ph.soft_key()


def _sign(data: bytes, key: ph.SoftKey, name: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), signers.PdfSignatureMetadata(field_name=name),
                     signer=key.signer, output=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def docs(key: ph.SoftKey) -> tuple[bytes, bytes, bytes]:
    plain = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                        **ph.simple_page_objects()})
    once = _sign(plain, key, "Sig1")
    return plain, once, _sign(once, key, "Sig2")


def _no_full_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyhanko.sign.validation as validation
    import pyhanko_certvalidator

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the self-check must not run the full validation")

    monkeypatch.setattr(validation, "validate_pdf_signature", refuse)
    monkeypatch.setattr(pyhanko_certvalidator, "ValidationContext", refuse)


def test_counts_without_validating(docs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _no_full_validation(monkeypatch)
    plain, once, twice = docs
    assert [count_signatures(d) for d in (plain, once, twice)] == [0, 1, 2]


def test_the_last_signature_checked_without_paths(docs, key, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _no_full_validation(monkeypatch)
    last = check_last(docs[2])
    assert (last.count, last.field, last.intact, last.valid, last.entire_file) == (2, "Sig2", True, True, True)
    assert last.signer_der == key.signer.signing_cert.dump()
    assert check_last(docs[0]).count == 0 and not check_last(docs[0]).valid


def test_agrees_with_the_full_validation(docs) -> None:  # type: ignore[no-untyped-def]
    full = verify_pdf(docs[2])[-1]
    last = check_last(docs[2])
    assert (last.intact, last.valid, last.entire_file) == (full.intact, full.valid, full.coverage == "entire_file")


def test_a_changed_byte_under_the_signature_is_not_intact(docs) -> None:  # type: ignore[no-untyped-def]
    twice = bytearray(docs[2])
    at = twice.index(b"stream") + len(b"stream\n")  # the page's content, covered by both signatures
    twice[at] = ord("%") if twice[at] != ord("%") else ord(" ")
    last = check_last(bytes(twice))
    assert last.count == 2 and not last.intact


def test_a_changed_signature_value_is_not_valid(docs, key) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import cms

    data = docs[1]
    start = data.rindex(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    der = bytes.fromhex(data[start:end].decode())
    info = cms.ContentInfo.load(der.rstrip(b"\0"))
    signature = info["content"]["signer_infos"][0]["signature"].native
    at = der.index(signature) + len(signature) // 2
    bad = bytearray(der)
    bad[at] ^= 0x01
    changed = data[:start] + bytes(bad).hex().encode() + data[end:]
    last = check_last(changed)
    assert last.intact and not last.valid
    assert not verify_pdf(changed)[-1].valid  # the full validation says the same


def test_a_change_after_the_signature_is_not_the_entire_file(docs) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(docs[1]))
    w.root["/Lang"] = generic.TextStringObject("zh-CN")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    last = check_last(out.getvalue())
    assert last.count == 1 and last.intact and last.valid and not last.entire_file


def test_sm2_signature_checked_with_the_clients_sm2(tmp_path: Path) -> None:
    ca = democa.create_sm2("szca")
    pair = ca.issue_sm2_pair(provision.subject_for(provision.DEMO_KEYS[1]), encryption=False)
    assert pair.sign_key is not None
    src = tmp_path / "plain.pdf"
    ph.make_pdf(src, [ph.PageSpec(rectangles=[(100, 100, 200, 50)])])
    signed = sign_pdf_sm2(src, tmp_path / "signed.pdf", SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain))
    good = check_last(signed.read_bytes())
    assert (good.intact, good.valid, good.entire_file) == (True, True, True)
    assert good.signer_der == pair.sign_cert.dump()
    bad = check_last(tamper(signed, tmp_path / "tampered.pdf").read_bytes())
    assert not (bad.intact and bad.valid)
    wrong_id = sign_pdf_sm2(src, tmp_path / "empty-id.pdf",
                            SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain, uid=b""))
    empty = check_last(wrong_id.read_bytes())
    assert empty.intact and not empty.valid
