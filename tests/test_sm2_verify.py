"""SM2 PDF signatures and SM2 chains validate; tampered ones do not (ours and BouncyCastle's verdict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.pdf import PageSpec, make_pdf
from helpers.sm2pdf import SoftSM2Signer, sign_pdf_sm2, tamper

from zhenglian.pdf.verify import verify_pdf
from zhenglian.reference import democa, provision
from zhenglian.reference.sm2soft import SM2SoftKey


@pytest.fixture(scope="module")
def sm2_setup(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("sm2pdf")
    ca = democa.create_sm2("szca")
    spec = provision.DEMO_KEYS[1]
    pair = ca.issue_sm2_pair(provision.subject_for(spec), encryption=False)
    assert pair.sign_key is not None
    src = d / "plain.pdf"
    make_pdf(src, [PageSpec(rectangles=[(100, 100, 200, 50)])])
    signed = sign_pdf_sm2(src, d / "signed.pdf", SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain))
    return d, ca, pair, spec, signed


def test_sm2_pdf_valid_trusted_and_named(sm2_setup) -> None:  # type: ignore[no-untyped-def]
    _, ca, _, spec, signed = sm2_setup
    [r] = verify_pdf(signed, [ca.root_cert])
    assert (r.intact, r.valid, r.trusted, r.status) == (True, True, True, "valid"), r.problems
    assert r.algorithm == "SM2" and r.to_dict()["algorithm"] == "SM2"
    assert r.uscc == spec.uscc and r.organization == spec.organization
    # untrusted when the SM2 root is not trusted, but the signature itself holds
    [u] = verify_pdf(signed, [democa.create_sm2("szca").root_cert])
    assert (u.valid, u.trusted, u.status) == (True, False, "untrusted")


def test_tampered_sm2_pdf_is_invalid(sm2_setup) -> None:  # type: ignore[no-untyped-def]
    d, ca, _, _, signed = sm2_setup
    bad = tamper(signed, d / "tampered.pdf")
    [r] = verify_pdf(bad, [ca.root_cert])
    assert r.status == "invalid" and not (r.intact and r.valid)


def test_broken_sm2_chain_is_not_trusted(sm2_setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, ca, pair, _, _ = sm2_setup
    # a leaf whose issuing CA certificate is forged (same names, another key)
    forged = democa.create_sm2("szca")
    forged_sub = democa.SM2DemoCA("szca", ca.root_key, ca.root_cert, forged.sub_key, forged.sub_cert)
    fpair = forged_sub.issue_sm2_pair(pair.sign_cert.subject, encryption=False)
    assert fpair.sign_key is not None
    signed = sign_pdf_sm2(d / "plain.pdf", tmp_path / "forged.pdf",
                          SoftSM2Signer(fpair.sign_key, fpair.sign_cert, [forged.sub_cert]))
    [r] = verify_pdf(signed, [ca.root_cert])
    assert r.valid and not r.trusted and r.status == "untrusted"


def test_empty_id_signature_is_invalid_and_says_why(sm2_setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, ca, pair, _, _ = sm2_setup
    signed = sign_pdf_sm2(d / "plain.pdf", tmp_path / "empty-id.pdf",
                          SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain, uid=b""))
    [r] = verify_pdf(signed, [ca.root_cert])
    assert r.status == "invalid" and r.intact and not r.valid
    assert any("empty user ID" in p for p in r.problems)


def test_ec_still_goes_to_pyhanko(tmp_path: Path) -> None:
    """The SM2 validator delegates: an ECDSA signature still validates."""
    from zhenglian.pki import sm2validate

    src = tmp_path / "p.pdf"
    make_pdf(src, [PageSpec()])
    # sign with the EC demo CA's issuing key through pyHanko's own SimpleSigner
    from asn1crypto import x509 as ax
    from cryptography.hazmat.primitives import serialization
    from pyhanko.keys import load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    ca = democa.create("netca")
    key_pem = ca.sub_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    cert = ax.Certificate.load(ca.sub_cert.public_bytes(serialization.Encoding.DER))
    root = ax.Certificate.load(ca.root_cert.public_bytes(serialization.Encoding.DER))
    signer = signers.SimpleSigner(cert, load_private_key_from_pemder_data(key_pem, None), None)
    out = tmp_path / "ec.pdf"
    with src.open("rb") as inf, out.open("wb") as f:
        signers.sign_pdf(IncrementalPdfFileWriter(inf), signers.PdfSignatureMetadata(field_name="S"),
                         signer=signer, output=f)
    [r] = verify_pdf(out, [root])
    assert r.valid and r.intact and r.algorithm == "EC"
    assert isinstance(sm2validate.VALIDATOR, sm2validate.SM2SignatureValidator)


def test_cli_verify_says_sm2(sm2_setup, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, ca, _, _, signed = sm2_setup
    root = tmp_path / "root.pem"
    root.write_bytes(democa.cert_pem(ca.root_cert))
    res = run_cli("verify", str(signed), "--trust", str(root))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "algorithm: SM2" in res.stdout
    res = run_cli("verify", str(signed), "--trust", str(root), "--json")
    assert json.loads(res.stdout)["signatures"][0]["algorithm"] == "SM2"


def test_bouncycastle_accepts_sm2_pdf_and_rejects_tampered(sm2_setup, bc_pdf_check) -> None:  # type: ignore[no-untyped-def]
    d, _, _, _, signed = sm2_setup
    good = bc_pdf_check(signed)
    assert good.ok, good.lines
    assert any("sig=1.2.156.10197.1.501" in ln and "digest=1.2.156.10197.1.401" in ln for ln in good.lines)
    bad = bc_pdf_check(tamper(signed, d / "tampered-bc.pdf"))
    assert not bad.ok, bad.lines
    assert any(ln.startswith("signature 1: FAIL") for ln in bad.lines)


def test_bouncycastle_rejects_empty_id(sm2_setup, bc_pdf_check, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, ca, pair, _, _ = sm2_setup
    signed = sign_pdf_sm2(d / "plain.pdf", tmp_path / "empty-id-bc.pdf",
                          SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain, uid=b""))
    assert not bc_pdf_check(signed).ok


def test_soft_key_never_in_product_code() -> None:
    """The software key helper is for reference parts and tests only."""
    root = Path(__file__).resolve().parent.parent / "zhenglian"
    users = [p for p in root.rglob("*.py") if "sm2soft" in p.read_text(encoding="utf-8")
             and "reference" not in p.parts]
    assert users == []
    assert SM2SoftKey.__module__ == "zhenglian.reference.sm2soft"


def test_bad_sm2_signature_on_the_issuing_ca_breaks_trust(sm2_setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Same names and key identifiers, only the SM2 signature of the CA certificate is wrong."""
    from asn1crypto import x509 as ax

    d, ca, pair, _, _ = sm2_setup
    tbs = ca.sub_cert["tbs_certificate"]
    bad_sub = ax.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": "sm2_sm3"},
                              "signature_value": SM2SoftKey.generate().sign(tbs.dump())})
    good = sign_pdf_sm2(d / "plain.pdf", tmp_path / "good-chain.pdf",
                        SoftSM2Signer(pair.sign_key, pair.sign_cert, [ca.sub_cert]))
    bad = sign_pdf_sm2(d / "plain.pdf", tmp_path / "bad-chain.pdf",
                       SoftSM2Signer(pair.sign_key, pair.sign_cert, [bad_sub]))
    [g] = verify_pdf(good, [ca.root_cert])
    assert g.status == "valid"
    [b] = verify_pdf(bad, [ca.root_cert])
    assert b.valid and not b.trusted and b.status == "untrusted"


def test_validator_never_says_valid_for_mismatched_algorithm_and_key() -> None:
    from asn1crypto import algos, keys
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko_certvalidator.errors import AlgorithmNotSupported
    from pyhanko_certvalidator.sig_validate import SignatureValidationContext

    from zhenglian.pki.sm2validate import VALIDATOR

    key = SM2SoftKey.generate()
    sig = key.sign(b"data")
    sm2_algo = algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"})
    VALIDATOR.validate_signature(sig, b"data", key.public_key_info(), sm2_algo)  # the control: no exception
    with pytest.raises(InvalidSignature):
        VALIDATOR.validate_signature(sig, b"Data", key.public_key_info(), sm2_algo)
    with pytest.raises(InvalidSignature):
        VALIDATOR.validate_signature(b"\x30\x00", b"data", key.public_key_info(), sm2_algo)
    rsa_pub = keys.PublicKeyInfo.load(rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(InvalidSignature):
        VALIDATOR.validate_signature(sig, b"data", rsa_pub, sm2_algo)
    with pytest.raises(AlgorithmNotSupported):
        VALIDATOR.validate_signature(sig, b"data", key.public_key_info(),
                                     algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}))
    with pytest.raises(AlgorithmNotSupported):
        VALIDATOR.validate_signature(sig, b"data", key.public_key_info(), sm2_algo,
                                     SignatureValidationContext(prehashed=True))
    old = algos.SignedDigestAlgorithm({"algorithm": "sm2_sign"})  # …301.1 is read as SM2 with SM3
    assert old["algorithm"].dotted == "1.2.156.10197.1.301.1"
    VALIDATOR.validate_signature(sig, b"data", key.public_key_info(), old)


def test_reference_server_accepts_an_sm2_signed_upload(tmp_path: Path) -> None:
    """The server trusts the SM2 demo CAs and validates SM2 uploads (its validation context is SM2-aware)."""
    from zhenglian.reference.server import pki as server_pki
    from zhenglian.reference.server.checks import UploadRefused, check_signed_upload
    from zhenglian.reference.server.config import ServerConfig
    from zhenglian.reference.server.seed import trust_demo_cas
    from zhenglian.reference.server.store import Store

    store = Store(ServerConfig(tmp_path / "db"))
    trust_demo_cas(store)
    trust = server_pki.TrustStore(store)
    ca = democa.load_or_create_sm2("gdca")
    spec = provision.DEMO_KEYS[2]
    pair = ca.issue_sm2_pair(provision.subject_for(spec), encryption=False)
    src = tmp_path / "task.pdf"
    original = make_pdf(src, [PageSpec()])
    signed = sign_pdf_sm2(src, tmp_path / "signed.pdf", SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain),
                          box=(100, 100, 220, 220))
    accepted = check_signed_upload(signed.read_bytes(), original, spec.uscc, trust)
    assert accepted.signatures == 1
    with pytest.raises(UploadRefused):
        check_signed_upload(tamper(signed, tmp_path / "t.pdf").read_bytes(), original, spec.uscc, trust)


def test_two_sm2_signatures_both_checked_by_us_and_bouncycastle(sm2_setup, bc_pdf_check,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path) -> None:
    _, ca, pair, _, signed = sm2_setup
    other = ca.issue_sm2_pair(provision.subject_for(provision.DEMO_KEYS[0]), encryption=False)
    twice = sign_pdf_sm2(signed, tmp_path / "twice.pdf", SoftSM2Signer(other.sign_key, other.sign_cert, ca.chain),
                         field_name="Signature2")
    reports = verify_pdf(twice, [ca.root_cert])
    assert [r.status for r in reports] == ["valid", "valid"]
    assert [r.algorithm for r in reports] == ["SM2", "SM2"]
    judged = bc_pdf_check(twice)
    assert judged.ok and sum(": OK " in ln for ln in judged.lines) == 2, judged.lines
