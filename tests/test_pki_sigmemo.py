"""zhenglian.pki.sm2validate: a signature check that passed is remembered by a digest of all its
inputs; nothing else passes because of it, and a failed check is never remembered."""

from __future__ import annotations

import pytest
from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import SignatureValidationContext

from zhenglian.pki import sm2, sm2validate
from zhenglian.reference.sm2soft import SM2SoftKey

SM2_ALGO = algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"})


@pytest.fixture(autouse=True)
def _fresh() -> None:
    sm2validate.VERIFIED.clear()


@pytest.fixture
def sm2_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = sm2.verify

    def counting(point, data, signature, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(data)
        return real(point, data, signature, *args, **kwargs)

    monkeypatch.setattr(sm2, "verify", counting)
    return calls


def test_a_good_sm2_check_is_worked_out_once(sm2_calls: list[bytes]) -> None:
    key = SM2SoftKey.generate()
    sig = key.sign(b"tbs certificate")
    for _ in range(5):
        sm2validate.VALIDATOR.validate_signature(sig, b"tbs certificate", key.public_key_info(), SM2_ALGO)
    assert sm2_calls == [b"tbs certificate"] and len(sm2validate.VERIFIED) == 1


def test_a_failed_check_is_never_remembered(sm2_calls: list[bytes]) -> None:
    key = SM2SoftKey.generate()
    sig = key.sign(b"data")
    for _ in range(3):
        with pytest.raises(InvalidSignature):
            sm2validate.VALIDATOR.validate_signature(sig, b"Data", key.public_key_info(), SM2_ALGO)
    assert len(sm2_calls) == 3 and len(sm2validate.VERIFIED) == 0


def test_nothing_else_passes_because_one_check_did() -> None:
    key, other = SM2SoftKey.generate(), SM2SoftKey.generate()
    sig = key.sign(b"data")
    v = sm2validate.VALIDATOR
    v.validate_signature(sig, b"data", key.public_key_info(), SM2_ALGO)  # remembered
    with pytest.raises(InvalidSignature):
        v.validate_signature(sig, b"data!", key.public_key_info(), SM2_ALGO)  # other bytes
    with pytest.raises(InvalidSignature):
        v.validate_signature(sig, b"data", other.public_key_info(), SM2_ALGO)  # another key
    with pytest.raises(AlgorithmNotSupported):
        v.validate_signature(sig, b"data", key.public_key_info(), algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}))
    with pytest.raises(AlgorithmNotSupported):
        v.validate_signature(sig, b"data", key.public_key_info(), SM2_ALGO, SignatureValidationContext(prehashed=True))
    # the same inputs split differently never meet the same digest (length-prefixed)
    assert sm2validate.check_digest(b"ab", b"c", key.public_key_info(), SM2_ALGO, None) != \
        sm2validate.check_digest(b"a", b"bc", key.public_key_info(), SM2_ALGO, None)


def test_rsa_checks_go_through_pyhanko_and_are_remembered_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    priv = rsa.generate_private_key(65537, 2048)
    info = keys.PublicKeyInfo.load(priv.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    algo = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    sig = priv.sign(b"tbs", padding.PKCS1v15(), hashes.SHA256())
    calls: list[int] = []
    real = sm2validate.DefaultSignatureValidator.validate_signature
    monkeypatch.setattr(sm2validate.DefaultSignatureValidator, "validate_signature",
                        lambda self, *a: calls.append(1) or real(self, *a))
    for _ in range(3):
        sm2validate.VALIDATOR.validate_signature(sig, b"tbs", info, algo)
    assert calls == [1]
    with pytest.raises(InvalidSignature):
        sm2validate.VALIDATOR.validate_signature(sig, b"tbs2", info, algo)
    with pytest.raises(InvalidSignature):
        sm2validate.VALIDATOR.validate_signature(sig[:-1] + bytes([sig[-1] ^ 1]), b"tbs", info, algo)
