"""``verify_last`` and ``count_signatures``: a signature just added is checked alone.

The task signer's self-check used to validate every signature of the signed file and
then every signature of the original again; now only the new one is validated and the
earlier ones are counted.
"""

from __future__ import annotations

import io

import pytest
from helpers import pdf as ph

from zhenglian.pdf.verify import count_signatures, verify_last, verify_pdf


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


def test_counts_without_validating(docs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import pyhanko.sign.validation as validation

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("count_signatures must not validate")

    monkeypatch.setattr(validation, "validate_pdf_signature", refuse)
    plain, once, twice = docs
    assert [count_signatures(d) for d in (plain, once, twice)] == [0, 1, 2]


def test_only_the_last_signature_is_validated(docs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import pyhanko.sign.validation as validation

    seen: list[str] = []
    real = validation.validate_pdf_signature

    def counting(emb, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(emb.field_name)
        return real(emb, *args, **kwargs)

    monkeypatch.setattr(validation, "validate_pdf_signature", counting)
    count, last = verify_last(docs[2])
    assert count == 2 and seen == ["Sig2"]
    assert last is not None and last.field == "Sig2" and last.intact and last.valid
    assert last.coverage == "entire_file"
    assert verify_last(docs[0]) == (0, None)


def test_the_last_report_is_the_full_reports_last(docs) -> None:  # type: ignore[no-untyped-def]
    _count, last = verify_last(docs[2])
    assert last == verify_pdf(docs[2])[-1]


def test_a_broken_last_signature_is_reported(docs) -> None:  # type: ignore[no-untyped-def]
    twice = bytearray(docs[2])
    at = twice.index(b"stream") + len(b"stream\n")  # the page's content, covered by both signatures
    twice[at] = ord("%") if twice[at] != ord("%") else ord(" ")
    count, last = verify_last(bytes(twice))
    assert count == 2 and last is not None and not (last.intact and last.valid)
