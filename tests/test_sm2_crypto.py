"""SM2/SM3 primitives: published vectors, strict encodings, OpenSSL interop both ways."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos, keys

from zhenglian.errors import SM2InvalidPublicKey, SM2SignatureMalformed
from zhenglian.pki import sm2
from zhenglian.reference.sm2soft import SM2SoftKey

# GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A: signature on the recommended curve.
VEC_D = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
VEC_PUB = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
VEC_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)
VEC_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
VEC_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
VEC_RS = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
MSG = b"message digest"


def test_sm3_abc_vector() -> None:
    # GB/T 32905-2016 Annex A.1
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    # Annex A.2: "abcd" x 16
    assert sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def sm3_hex(data: bytes) -> str:
    return sm2.sm3(data).hex()


def test_published_signature_vector() -> None:
    key = SM2SoftKey(VEC_D)
    assert key.point == VEC_PUB
    assert sm2.z_value(VEC_PUB) == VEC_Z
    assert sm2.e_value(VEC_PUB, MSG) == VEC_E
    der = key.sign_digest(VEC_E, k=VEC_K)
    assert sm2.der_to_raw(der) == VEC_RS
    assert sm2.verify(VEC_PUB, MSG, sm2.raw_to_der(VEC_RS))
    assert sm2.verify_digest(VEC_PUB, VEC_E, der)


def test_wrong_message_id_key_or_signature_fail() -> None:
    der = sm2.raw_to_der(VEC_RS)
    assert not sm2.verify(VEC_PUB, MSG + b"!", der)
    assert not sm2.verify(VEC_PUB, MSG, der, uid=b"")
    assert not sm2.verify(SM2SoftKey.generate().point, MSG, der)
    flipped = bytearray(VEC_RS)
    flipped[-1] ^= 1
    assert not sm2.verify(VEC_PUB, MSG, sm2.raw_to_der(bytes(flipped)))
    assert not sm2.verify(VEC_PUB, MSG, b"\x30\x00")  # malformed: False, not an exception
    assert not sm2.verify_digest(VEC_PUB, VEC_E[:31], der)


def test_strict_encodings() -> None:
    with pytest.raises(SM2SignatureMalformed):
        sm2.raw_to_der(VEC_RS[:63])
    with pytest.raises(SM2SignatureMalformed):
        sm2.raw_to_der(b"\0" * 64)
    with pytest.raises(SM2SignatureMalformed):
        sm2.raw_to_der(sm2.N.to_bytes(32, "big") + VEC_RS[32:])
    with pytest.raises(SM2SignatureMalformed):
        sm2.der_to_raw(b"not der")
    der = sm2.raw_to_der(VEC_RS)
    with pytest.raises(SM2SignatureMalformed):
        sm2.der_to_raw(der + b"\0")  # trailing data
    # non-minimal INTEGER (an extra leading zero) is BER, not DER
    r, s = VEC_RS[:32], VEC_RS[32:]
    ber = b"\x02\x22\x00\x00" + r + b"\x02\x21\x00" + s
    with pytest.raises(SM2SignatureMalformed):
        sm2.der_to_raw(b"\x30" + bytes([len(ber)]) + ber)
    big = algos.DSASignature({"r": sm2.N + 5, "s": 1}).dump()
    with pytest.raises(SM2SignatureMalformed):
        sm2.der_to_raw(big)
    assert sm2.der_to_raw(der) == VEC_RS


def test_bad_public_points() -> None:
    with pytest.raises(SM2InvalidPublicKey):
        sm2.z_value(VEC_PUB[:64])
    off = bytearray(VEC_PUB)
    off[-1] ^= 1
    with pytest.raises(SM2InvalidPublicKey):
        sm2.verify(bytes(off), MSG, sm2.raw_to_der(VEC_RS))


def test_asn1_registration_and_public_key_info() -> None:
    assert algos.DigestAlgorithmId(sm2.OID_SM3).native == "sm3"
    assert algos.DigestAlgorithmId("sm3").dotted == sm2.OID_SM3
    assert algos.SignedDigestAlgorithmId("sm2_sm3").dotted == sm2.OID_SM2_SM3
    assert algos.SignedDigestAlgorithmId(sm2.OID_SM2_SIGN).native == "sm2_sign"
    from zhenglian.pki import oids

    oids.register()  # registering twice changes nothing
    assert algos.SignedDigestAlgorithmId("sm2_sm3").dotted == sm2.OID_SM2_SM3
    assert algos.SignedDigestAlgorithmId(sm2.OID_SM2_SM3).native == "sm2_sm3"
    info = keys.PublicKeyInfo.load(SM2SoftKey(VEC_D).public_key_info().dump())
    assert info.algorithm == "ec"
    assert info.curve == ("named", "sm2p256v1")
    assert sm2.is_sm2(info)
    assert sm2.public_point(info) == VEC_PUB
    # a P-256 key is not SM2
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert not sm2.is_sm2(keys.PublicKeyInfo.load(p256))
    with pytest.raises(SM2InvalidPublicKey):
        sm2.public_point(keys.PublicKeyInfo.load(p256))


def _openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


def test_openssl_verifies_our_signatures(tmp_path: Path, openssl_sm2_verify) -> None:  # type: ignore[no-untyped-def]
    key = SM2SoftKey.generate()
    msg = b"zhenglian SM2 interop \xe8\xaf\x81\xe8\x81\x94" * 50
    sig = key.sign(msg)
    assert openssl_sm2_verify(key.point, msg, sig)
    assert not openssl_sm2_verify(key.point, msg + b"x", sig)
    # OpenSSL reads our PKCS#8 (PEM and DER) and derives the same public key
    (tmp_path / "k.pem").write_bytes(key.pkcs8_pem())
    (tmp_path / "k.der").write_bytes(key.pkcs8_der())
    for name, form in (("k.pem", "PEM"), ("k.der", "DER")):
        out = _openssl("pkey", "-inform", form, "-in", str(tmp_path / name), "-pubout", "-outform", "DER")
        assert out.returncode == 0, out.stderr
        assert sm2.public_point(keys.PublicKeyInfo.load(out.stdout)) == key.point


def test_we_verify_openssl_signatures(tmp_path: Path) -> None:
    gen = _openssl("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "o.pem"))
    assert gen.returncode == 0, gen.stderr
    key = SM2SoftKey.from_pkcs8((tmp_path / "o.pem").read_bytes())
    pub = _openssl("pkey", "-in", str(tmp_path / "o.pem"), "-pubout", "-outform", "DER")
    assert sm2.public_point(keys.PublicKeyInfo.load(pub.stdout)) == key.point
    msg = b"signed by OpenSSL" * 100
    (tmp_path / "m").write_bytes(msg)
    sig = _openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                   "-inkey", str(tmp_path / "o.pem"), "-in", str(tmp_path / "m"))
    assert sig.returncode == 0, sig.stderr
    assert sm2.verify(key.point, msg, sig.stdout)
    assert not sm2.verify(key.point, msg[:-1], sig.stdout)
    # and with another ID
    sig2 = _openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:ALICE",
                    "-inkey", str(tmp_path / "o.pem"), "-in", str(tmp_path / "m"))
    assert sm2.verify(key.point, msg, sig2.stdout, uid=b"ALICE")
    assert not sm2.verify(key.point, msg, sig2.stdout)


def test_compressed_public_key_is_read() -> None:
    x, y = VEC_PUB[1:33], VEC_PUB[33:]
    compressed = bytes([2 + (y[-1] & 1)]) + x
    info = keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec",
                      "parameters": keys.ECDomainParameters(name="named", value=sm2.CURVE_NAME)},
        "public_key": compressed,
    })
    assert sm2.public_point(info) == VEC_PUB
    wrong_parity = bytes([compressed[0] ^ 1]) + x
    info2 = keys.PublicKeyInfo({"algorithm": info["algorithm"], "public_key": wrong_parity})
    assert sm2.public_point(info2) != VEC_PUB  # the other point with this x
    not_on_curve = keys.PublicKeyInfo({"algorithm": info["algorithm"], "public_key": b"\x02" + b"\xff" * 32})
    with pytest.raises(SM2InvalidPublicKey):
        sm2.public_point(not_on_curve)


def test_many_random_signatures_round_trip_with_openssl_sample(openssl_sm2_verify) -> None:  # type: ignore[no-untyped-def]
    """Our signer and verifier agree on many keys; OpenSSL agrees on a sample."""
    for i in range(40):
        key = SM2SoftKey.generate()
        msg = bytes([i]) * i
        sig = key.sign(msg)
        assert sm2.verify(key.point, msg, sig)
        assert len(sm2.der_to_raw(sig)) == 64
        if i % 10 == 0:
            assert openssl_sm2_verify(key.point, msg, sig)


def test_any_certificate_code_reads_sm2_names_without_importing_sm2() -> None:
    """Importing the package registers the OIDs: no import-order trap for pyHanko users."""
    import sys

    code = ("import zhenglian.pki.cert, sys\n"
            "from asn1crypto import algos\n"
            "assert 'zhenglian.pki.sm2' not in sys.modules\n"
            "assert algos.SignedDigestAlgorithmId('sm2_sm3').dotted == '1.2.156.10197.1.501'\n"
            "assert algos.DigestAlgorithmId('1.2.156.10197.1.401').native == 'sm3'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
