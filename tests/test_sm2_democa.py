"""SM2 chains from the demo CA: GM/T 0015 shape, and OpenSSL 3 accepts every link."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from asn1crypto import x509 as asn1_x509

from zhenglian.pki import cert as certinfo
from zhenglian.pki import sm2
from zhenglian.reference import democa, provision


def _verify_link(tmp: Path, parent: asn1_x509.Certificate, child: asn1_x509.Certificate,
                 uid: str = "1234567812345678") -> subprocess.CompletedProcess[str]:
    (tmp / "parent.pem").write_bytes(democa.cert_pem(parent))
    (tmp / "child.pem").write_bytes(democa.cert_pem(child))
    return subprocess.run(
        ["openssl", "verify", "-vfyopt", f"distid:{uid}", "-partial_chain", "-CAfile", str(tmp / "parent.pem"),
         str(tmp / "child.pem")], capture_output=True, text=True, timeout=60)


def test_sm2_chain_every_link_verifies_with_openssl(tmp_path: Path) -> None:
    ca = democa.load_or_create_sm2("netca", tmp_path / "ca")
    spec = provision.DEMO_KEYS[0]
    pair = ca.issue_sm2_pair(provision.subject_for(spec))
    assert pair.sign_key is not None and pair.enc_cert is not None and pair.enc_key is not None
    for parent, child in ((ca.root_cert, ca.root_cert), (ca.root_cert, ca.sub_cert),
                          (ca.sub_cert, pair.sign_cert), (ca.sub_cert, pair.enc_cert)):
        out = _verify_link(tmp_path, parent, child)
        assert out.returncode == 0, out.stdout + out.stderr
    # a link signed by another CA, or checked with another ID, does not verify
    other = democa.create_sm2("szca")
    assert _verify_link(tmp_path, other.sub_cert, pair.sign_cert).returncode != 0
    assert _verify_link(tmp_path, ca.sub_cert, pair.sign_cert, uid="ALICE").returncode != 0


def test_sm2_certificate_profile(tmp_path: Path) -> None:
    ca = democa.load_or_create_sm2("szca", tmp_path / "ca")
    spec = provision.DEMO_KEYS[1]
    pair = ca.issue_sm2_pair(provision.subject_for(spec))
    cert = asn1_x509.Certificate.load(pair.sign_cert.dump())
    assert cert["signature_algorithm"]["algorithm"].dotted == sm2.OID_SM2_SM3
    assert cert["tbs_certificate"]["signature"]["algorithm"].dotted == sm2.OID_SM2_SM3
    assert sm2.is_sm2(cert.public_key) and sm2.public_point(cert) == pair.sign_key.point  # type: ignore[union-attr]
    assert cert.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert pair.enc_cert is not None
    assert pair.enc_cert.key_usage_value.native == {"key_encipherment", "data_encipherment"}
    assert cert.issuer == ca.sub_cert.subject
    assert cert.authority_key_identifier == ca.sub_cert.key_identifier
    assert not cert.ca and ca.sub_cert.ca and ca.root_cert.self_issued
    # the subject facts the RSA certificates carry: organisation, USCC
    from cryptography import x509

    c = x509.load_der_x509_certificate(cert.dump())
    assert c.subject == provision.subject_for(spec)
    info = certinfo.parse(cert.dump())
    assert (info.uscc, info.key_type, info.usage) == (spec.uscc, "SM2", "signing")
    # our own check of the CA's signature agrees with OpenSSL's
    tbs = cert["tbs_certificate"].dump()
    assert sm2.verify(sm2.public_point(ca.sub_cert), tbs, cert["signature_value"].native)
    # reloaded from disk: the same CA
    again = democa.load_sm2("szca", tmp_path / "ca")
    assert again is not None and again.root_cert.dump() == ca.root_cert.dump()
    assert democa.sm2_roots_pem(tmp_path / "ca") == [tmp_path / "ca" / "demo-ca" / "sm2" / "szca" / "root.pem"]
    assert democa.roots_pem(tmp_path / "ca") == []  # SM2 roots are listed apart


def test_token_made_public_key_gets_a_certificate(tmp_path: Path) -> None:
    from zhenglian.reference.sm2soft import SM2SoftKey

    ca = democa.create_sm2("gdca")
    on_token = SM2SoftKey.generate()
    now = dt.datetime.now(dt.UTC)
    pair = ca.issue_sm2_pair(provision.subject_for(provision.DEMO_KEYS[2]), now, now + dt.timedelta(days=30),
                             sign_public_key=on_token.point, encryption=False)
    assert pair.sign_key is None and pair.enc_cert is None
    assert sm2.public_point(pair.sign_cert) == on_token.point
    out = _verify_link(tmp_path, ca.sub_cert, pair.sign_cert)
    assert out.returncode == 0, out.stdout + out.stderr
