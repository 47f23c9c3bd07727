"""From the signing path's objects to an entry, and the record-then-hand-on order."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from zhenglian import errors
from zhenglian.register import Register
from zhenglian.register.facts import describe_use, record_then_publish, sha256_file
from zhenglian.register.model import MAX_TEXT


def _cert_info():  # type: ignore[no-untyped-def]
    """A real CertInfo (zhenglian.pki.cert.parse) of an institution certificate with its USCC."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from zhenglian.pki import uscc
    from zhenglian.pki.cert import parse

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "东莞示例有限公司"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "东莞示例有限公司"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, uscc.complete("91441900MA4UAB12"))])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234ABCD).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=300)).sign(key, hashes.SHA256()))
    return parse(cert.public_bytes(serialization.Encoding.DER))


def test_describe_use_takes_the_facts_of_key_certificate_and_seal(register_path: Path) -> None:
    cert = _cert_info()
    key = SimpleNamespace(ca_id="szca", serial="SZCA0001")
    seal = SimpleNamespace(id="es-7", name="东莞示例有限公司合同专用章", seal_type="合同专用章")
    use = describe_use(outcome="signed", origin="task", document_name="合同\r\n.pdf" + "长" * 3000, key=key,
                       cert=cert, seal=seal, document_size=1234, input_sha256="A" * 64, output_sha256="b" * 64,
                       page_count=2, placements=[(2, 10, 20.5, 42, 42)], server="https://gjj.example.cn",
                       task_id="T1")
    with Register.open(register_path) as reg:
        seq = reg.record(use)
        stored = reg.entry(seq).use
    assert stored.cert_serial == cert.serial_hex and stored.cert_uscc == cert.uscc
    assert cert.uscc and cert.uscc.startswith("91441900MA4UAB12")
    assert stored.organization == "东莞示例有限公司" and stored.seal_id == "es-7" and stored.key_ca == "szca"
    assert stored.input_sha256 == "a" * 64
    assert len(stored.document_name) == MAX_TEXT and "\n" not in stored.document_name  # hostile name, clipped
    assert stored.placements[0].page == 2 and stored.placements[0].y_mm == 20.5


def test_only_the_error_code_is_kept() -> None:
    use = describe_use(outcome="failed", origin="local", document_name="a.pdf",
                       error=errors.SigningFailed(path="/secret/a.pdf", detail="whatever"))
    assert use.error_code == "signing_failed" and "secret" not in str(use.to_dict())


def test_record_then_publish_hands_on_only_after_the_commit(register_path: Path, tmp_path: Path) -> None:
    data = b"%PDF-1.7 signed"
    tmp, final = tmp_path / ".a.pdf.part", tmp_path / "a.pdf"
    tmp.write_bytes(data)
    use = describe_use(outcome="signed", origin="local", document_name="a.pdf",
                       output_sha256=hashlib.sha256(data).hexdigest(), output_path=final)
    with Register.open(register_path) as reg:
        seq = record_then_publish(reg, use, tmp, final)
        assert not tmp.exists() and reg.entry(seq).use.output_sha256 == sha256_file(final)
        # full disk: no entry, so nothing handed on, and no temporary file left behind
        pages = reg._conn.execute("PRAGMA page_count").fetchone()[0]
        reg._conn.execute(f"PRAGMA max_page_count = {pages}")
        tmp2, final2 = tmp_path / ".b.pdf.part", tmp_path / "b.pdf"
        big = describe_use(outcome="signed", origin="local", document_name="b" * 1000,
                           output_sha256="c" * 64, output_path="x" * 1000, local_path="y" * 1000)
        with pytest.raises(errors.RegisterWriteFailed):
            for _ in range(50):
                tmp2.write_bytes(data)
                record_then_publish(reg, big, tmp2, final2)
                final2.unlink()
        assert not tmp2.exists() and not final2.exists()
