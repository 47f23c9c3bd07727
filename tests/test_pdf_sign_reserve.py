"""The CMS room is estimated once per signer and process (a dry-run CMS build), not once per batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian.memo import BoundedMemo
from zhenglian.pdf import placement as pl
from zhenglian.pdf import sign as sign_mod
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.sign import SigningBatch
from zhenglian.pdf.verify import verify_pdf

SEAL = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "合同专用章")


@pytest.fixture
def estimates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from pyhanko.sign.signers.pdf_signer import PdfSigningSession

    monkeypatch.setattr(sign_mod, "_RESERVED", BoundedMemo(sign_mod._RESERVED.size))
    seen: list[int] = []
    real = PdfSigningSession.estimate_signature_container_size

    async def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        size = await real(self, *args, **kwargs)
        seen.append(size)
        return size

    monkeypatch.setattr(PdfSigningSession, "estimate_signature_container_size", counting)
    return seen


def _sign_batch(key: ph.SoftKey, tmp_path: Path, tag: str, n: int = 2) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(ph.make_pdf(None, ph.contract_pages(1)))
    with SigningBatch(key.signer, seal=SEAL) as batch:
        for i in range(n):
            out = tmp_path / f"{tag}{i}.pdf"
            batch.sign(src, out, [pl.AtPosition(1, 100, 100)])
            (report,) = verify_pdf(out, [key.root])
            assert report.intact and report.valid


def test_a_second_batch_of_the_same_signer_reuses_the_estimate(estimates: list[int], tmp_path: Path) -> None:
    key = ph.soft_key()
    _sign_batch(key, tmp_path, "a")
    _sign_batch(key, tmp_path, "b")
    assert len(estimates) == 1  # four documents, two batches: one dry run


def test_another_certificate_is_estimated_again(estimates: list[int], tmp_path: Path) -> None:
    _sign_batch(ph.soft_key(), tmp_path, "a", n=1)
    _sign_batch(ph.soft_key(ca_id="gdca"), tmp_path, "b", n=1)
    assert len(estimates) == 2
