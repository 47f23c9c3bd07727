"""Signing with the demo keys: valid in pyHanko and in poppler's pdfsig, and every refusal.

What a verifier elsewhere sees matters most, so the signed files are checked
with pdfsig against an NSS database that trusts only the demo root (the
issuing CA certificate must therefore be embedded), with qpdf --check, and
with our own verify_pdf.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf import placement as pl
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.sign import prepare
from zhenglian.pdf.verify import verify_pdf

pytestmark = pytest.mark.requires(ph.have_poppler() and ph.have_cjk_font(),
                                  reason="needs poppler-utils and fonts-noto-cjk")

SEAL = SealPicture(ph.seal_png(), 42.0, 42.0, "合同专用章")


@pytest.fixture(scope="module")
def nss(demo_keys, tmp_path_factory):  # type: ignore[no-untyped-def]
    return ph.nss_db(tmp_path_factory.mktemp("nss"), ph.demo_roots_pem())


@pytest.fixture
def batch(demo_keys):  # type: ignore[no-untyped-def]
    with ph.key_batch("SZCA-DEMO", seal=SEAL) as b:
        yield b


def _pdfsig_ok(out: Path, nss: str, count: int = 1) -> str:
    text = ph.pdfsig(out, nss)
    assert text.count("Signature Validation: Signature is Valid.") == count, text
    assert text.count("Certificate Validation: Certificate is Trusted.") == count, text
    assert "not signed" not in text, text
    return text


def test_signed_contract_validates_everywhere(batch, nss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.make_contract(tmp_path / "contract.pdf", 3)
    before = ph.sha256_file(src)
    out = tmp_path / "signed.pdf"
    result = batch.sign(src, out, [pl.AtAnchor("（盖章）", match=pl.ALL)], cross_page=pl.CrossPage())
    assert ph.sha256_file(src) == before, "the input must never change"
    assert len(result.signatures) == 1 and len(result.signatures[0].spots) == 5
    text = _pdfsig_ok(out, nss)
    assert "SHA-256" in text and "ETSI.CAdES.detached" in text
    assert "Total document signed" in text
    assert ph.qpdf_check(out).returncode == 0
    (rep,) = verify_pdf(out, ph.demo_roots())
    assert rep.status == "valid" and rep.trusted and rep.intact and rep.coverage == "entire_file"
    assert rep.organization == "东莞市松山湖演示科技有限公司" and rep.uscc and rep.uscc.startswith("91441900")
    assert rep.seal_name == "合同专用章"
    assert rep.timestamp is None and rep.signing_time is not None
    assert {s["page"] for s in rep.spots} == {1, 2, 3}
    # without the demo root nothing is trusted — trust is not given away
    (untrusted,) = verify_pdf(out, [])
    assert untrusted.status == "untrusted" and untrusted.intact and untrusted.valid


def test_chain_is_embedded_for_root_only_verifiers(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    out = tmp_path / "s.pdf"
    batch.sign(ph.make_contract(tmp_path / "c.pdf", 1), out, [pl.AtPosition(1, 100, 100)])
    with open(out, "rb") as fh:
        (sig,) = PdfFileReader(fh).embedded_signatures
        subjects = [c.chosen.subject.human_friendly for c in sig.signed_data["certificates"]]
    assert any("SZCA OCA1 (DEMO)" in s for s in subjects), subjects  # the issuing CA from the key


def test_earlier_signatures_stay_valid(batch, nss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.make_contract(tmp_path / "c.pdf", 2)
    first = tmp_path / "first.pdf"
    batch.sign(src, first, [pl.AtAnchor("甲方（盖章）")])
    second = tmp_path / "second.pdf"
    with ph.key_batch("GDCA-DEMO", seal=SealPicture(ph.seal_png("东莞市虎门样例贸易有限公司"), 40, 40, "抵押业务专用章")) as b2:
        b2.sign(first, second, [pl.AtAnchor("乙方（盖章）")], cross_page=pl.CrossPage())
    assert second.read_bytes().startswith(first.read_bytes()), "incremental update only"
    reports = verify_pdf(second, ph.demo_roots())
    assert [r.status for r in reports] == ["valid", "valid"]
    assert reports[0].coverage == "entire_revision" and reports[0].modification_level == "form_filling"
    assert reports[1].coverage == "entire_file"
    assert reports[1].organization == "东莞市虎门样例贸易有限公司"
    _pdfsig_ok(second, nss, 2)


def test_several_seals_in_one_document(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = SealPicture(ph.seal_png(seal_type="公章"), 40, 40, "公章")
    src = ph.make_contract(tmp_path / "c.pdf", 2)
    out = tmp_path / "o.pdf"
    result = batch.sign(src, out, [pl.AtAnchor("甲方（盖章）"), pl.AtPosition(1, 150, 100, seal=other),
                                   pl.AtPosition(2, 150, 60)])
    assert [s.seal_name for s in result.signatures] == ["合同专用章", "公章"]
    reports = verify_pdf(out, ph.demo_roots())
    assert [r.status for r in reports] == ["valid", "valid"]
    assert sorted(len(r.spots) for r in reports) == [1, 2]


def test_certification_locks_the_document(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "certified.pdf"
    batch.sign(ph.make_contract(tmp_path / "c.pdf", 1), out, [pl.AtPosition(1, 100, 100)], certify=True)
    (rep,) = verify_pdf(out, ph.demo_roots())
    assert rep.certification == 1 and rep.status == "valid"
    with pytest.raises(errors.DocumentLocked):
        prepare(out, [pl.AtPosition(1, 50, 50)], seal=SEAL)
    with pytest.raises(errors.DocumentLocked):  # certification must be the first signature
        signed = tmp_path / "signed.pdf"
        batch.sign(ph.make_contract(tmp_path / "d.pdf", 1), signed, [pl.AtPosition(1, 100, 100)])
        prepare(signed, [pl.AtPosition(1, 50, 50)], seal=SEAL, certify=True)


def test_timestamp_makes_b_t(demo_keys, nss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.reference import tsa

    with tsa.serve() as server, ph.key_batch("NETCA-DEMO", seal=SEAL, timestamp_url=server.url) as b:
        out = tmp_path / "ts.pdf"
        b.sign(ph.make_contract(tmp_path / "c.pdf", 1), out, [pl.AtPosition(1, 100, 100)])
        assert server.requests_served >= 1
    (rep,) = verify_pdf(out, ph.demo_roots())
    assert rep.timestamp is not None and rep.timestamp_valid and rep.timestamp_trusted
    assert abs((rep.timestamp - dt.datetime.now(dt.UTC)).total_seconds()) < 120
    _pdfsig_ok(out, nss)


def test_unreachable_timestamp_server_leaves_nothing(batch, demo_keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ph.key_batch("SZCA-DEMO", seal=SEAL, timestamp_url=f"http://127.0.0.1:{port}/tsa") as b:
        out = tmp_path / "o.pdf"
        with pytest.raises(errors.TimestampFailed):
            b.sign(ph.make_contract(tmp_path / "c.pdf", 1), out, [pl.AtPosition(1, 100, 100)])
    assert sorted(os.listdir(tmp_path)) == ["c.pdf"]


def test_encrypted_documents(batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "enc.pdf"
    ph.make_pdf(src, ph.contract_pages(1), encrypt_user="open-sesame", encrypt_owner="owner-pw")
    with pytest.raises(errors.DocumentEncrypted):
        prepare(src, [pl.AtPosition(1, 100, 100)], seal=SEAL)
    with pytest.raises(errors.DocumentPasswordWrong):
        prepare(src, [pl.AtPosition(1, 100, 100)], seal=SEAL, password="wrong")
    out = tmp_path / "signed.pdf"
    batch.sign(src, out, [pl.AtAnchor("甲方（盖章）")], password="open-sesame")
    (rep,) = verify_pdf(out, ph.demo_roots(), password="open-sesame")
    assert rep.status == "valid"
    # an owner-password-only file opens without asking, as in every viewer
    owner_only = tmp_path / "owner.pdf"
    ph.make_pdf(owner_only, ph.contract_pages(1), encrypt_user="", encrypt_owner="owner-pw")
    batch.sign(owner_only, tmp_path / "owner-signed.pdf", [pl.AtPosition(1, 100, 100)])


@pytest.mark.parametrize("content", [b"", b"hello, not a pdf", b"%PDF-1.7\n1 0 obj <<\n%%EOF", None])
def test_corrupt_documents_refused(content: bytes | None, tmp_path: Path) -> None:
    src = tmp_path / "bad.pdf"
    if content is None:  # a real PDF cut in half
        data = ph.make_pdf(None, ph.contract_pages(2))
        content = data[: len(data) // 2]
    src.write_bytes(content)
    with pytest.raises(errors.DocumentCorrupt):
        prepare(src, [pl.AtPosition(1, 10, 10)], seal=SEAL)
    with pytest.raises(errors.DocumentNotFound):
        prepare(tmp_path / "missing.pdf", [pl.AtPosition(1, 10, 10)], seal=SEAL)


def _provision_dated(softhsm_conf: Path, label: str, now: dt.datetime, not_before: dt.datetime | None = None,
                     days: int = 30):  # type: ignore[no-untyped-def]
    from zhenglian.reference import provision

    spec = dataclasses.replace(provision.DEMO_KEYS[1], label=label, days_valid=days)
    return provision.provision_key(spec, softhsm_conf, now=now, not_before=not_before)


@pytest.mark.parametrize("case", ["expired", "not_yet_valid"])
def test_certificate_validity_checked_before_login(case: str, softhsm_conf: Path, demo_keys,
                                                   tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import keysign
    from zhenglian.reference import softhsm

    now = dt.datetime.now(dt.UTC)
    label = f"DATED-{case}"[:32]
    if case == "expired":
        _provision_dated(softhsm_conf, label, now - dt.timedelta(days=400))
        expected = errors.CertificateExpired
    else:
        _provision_dated(softhsm_conf, label, now, not_before=now + dt.timedelta(days=10))
        expected = errors.CertificateNotYetValid
    try:
        ctx, key = ph.find_key(label)
        with pytest.raises(expected):
            keysign.precheck(KeyHandle(ctx.tokens.module_for(key), key, None))
        with pytest.raises(expected), ph.key_batch(label, pin="wrong-pin-never-sent", seal=SEAL):
            pass
    finally:
        softhsm.delete_token(softhsm_conf, label)


def test_key_removed_mid_batch_leaves_no_output(make_key, softhsm_conf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.reference import softhsm

    key = make_key()
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    out_dir = tmp_path / "out"
    with ph.key_batch(key.spec.label, pin=key.spec.user_pin, seal=SEAL) as b:
        b.sign(src, out_dir / "a.pdf", [pl.AtPosition(1, 100, 100)])
        softhsm.delete_token(softhsm_conf, key.spec.label)  # pulled out
        with pytest.raises(errors.TokenRemoved):
            b.sign(src, out_dir / "b.pdf", [pl.AtPosition(1, 100, 100)])
    assert sorted(os.listdir(out_dir)) == ["a.pdf"], "no partial file may be left"
    (rep,) = verify_pdf(out_dir / "a.pdf", ph.demo_roots())
    assert rep.status == "valid"


def test_seal_is_encoded_once_per_process(batch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import seal as sealmod

    calls = []
    real = sealmod.encode
    monkeypatch.setattr(sealmod, "encode", lambda s, *a, **k: calls.append(1) or real(s, *a, **k))
    fresh = SealPicture(ph.seal_png(seal_type="信贷业务专用章"), 41, 41, "信贷业务专用章")
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    for i in range(3):
        batch.sign(src, tmp_path / f"o{i}.pdf", [pl.AtPosition(1, 100, 100, seal=fresh)])
    assert len(calls) == 1


def test_bad_seal_picture_refused_before_signing(tmp_path: Path) -> None:
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    with pytest.raises(errors.SealInvalid):
        prepare(src, [pl.AtPosition(1, 100, 100)], seal=SealPicture(b"not a png", 42, 42, "x"))
    with pytest.raises(errors.SealInvalid):
        prepare(src, [pl.AtPosition(1, 100, 100)], seal=SealPicture(ph.seal_png(), 420, 42, "x"))


def test_pdfsig_reports_signer_and_field(batch, nss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o.pdf"
    batch.sign(ph.make_contract(tmp_path / "c.pdf", 1), out, [pl.AtPosition(1, 100, 100)])
    text = _pdfsig_ok(out, nss)
    assert re.search(r"Signature Field Name: Seal1", text)
    assert "东莞市松山湖演示科技有限公司" in text


def test_each_signing_thread_has_its_own_certificate_objects_on_the_one_key(batch) -> None:  # type: ignore[no-untyped-def]
    """A pipelined batch signs on several threads; asn1crypto fills a certificate's parsed
    fields in place, so a shared certificate once failed a good task with
    ``KeyError: 'organization_name'``.  Each thread gets its own; the key session is shared."""
    import threading

    seen: list[object] = []
    ready = threading.Barrier(3)

    def on_thread() -> None:
        ready.wait(timeout=60)
        signer = batch._thread_signer()
        assert batch._thread_signer() is signer  # one per thread, kept for the batch
        assert signer.subject_name  # read at once on every thread: pyHanko's CMS path
        seen.append(signer)

    threads = [threading.Thread(target=on_thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) == 3
    certs = [s.signing_cert for s in seen]  # type: ignore[attr-defined]
    assert len({id(c) for c in certs}) == 3
    assert {c.dump() for c in certs} == {batch.signer.signing_cert.dump()}
    assert {id(s.session) for s in seen} == {id(batch.signer.session)}  # type: ignore[attr-defined]
    assert [c.dump() for c in seen[0].cert_registry] == [c.dump() for c in batch.signer.cert_registry]  # type: ignore[attr-defined]
