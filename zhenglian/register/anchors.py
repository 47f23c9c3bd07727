"""Anchoring the chain to the seal's key: a signature of the head made with the key.

RSA (PKCS#1 v1.5, SHA-256) and EC (ECDSA, SHA-256) are checked with
``cryptography``; SM2 (SM2-with-SM3, the GM/T 0009 default ID) with the
client's SM2 layer (:mod:`zhenglian.pki.sm2`), as every SM2 signature is.

A PKCS#11 ECDSA signature comes back as raw ``r || s``; it is stored DER-encoded,
the form ``cryptography`` and OpenSSL read.
"""

from __future__ import annotations

from zhenglian import errors

RSA = "rsa-pkcs1v15-sha256"
ECDSA = "ecdsa-sha256"
SM2 = "sm2-sm3"
_SM2_CURVE = "1.2.156.10197.1.301"


def _bad_cert(problem: str) -> errors.RegisterError:
    return errors.RegisterError(detail_zh=f"锚定证书无法使用（{problem}）", detail_en=f"the anchoring certificate is unusable ({problem})")


def algorithm_of(cert_der: bytes) -> str:
    from asn1crypto import x509

    try:
        cert = x509.Certificate.load(bytes(cert_der))
        spki = cert.public_key
        kind = spki.algorithm
        if kind == "rsa":
            return RSA
        if kind == "ec":
            params = spki["algorithm"]["parameters"]
            curve = params.chosen.dotted if params.name == "named" else ""
            return SM2 if curve == _SM2_CURVE else ECDSA
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _bad_cert(type(exc).__name__) from None
    raise _bad_cert(f"key type {kind}")


def normalise(algorithm: str, cert_der: bytes, signature: bytes) -> bytes:
    """EC and SM2 signatures in DER; a raw ``r || s`` of the curve's size is converted."""
    signature = bytes(signature)
    if algorithm not in (ECDSA, SM2) or _is_der(signature) or len(signature) % 2:
        return signature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))


def _is_der(signature: bytes) -> bool:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        decode_dss_signature(signature)
    except ValueError:
        return False
    return True


def _check_sm2(cert_der: bytes, message: bytes, signature: bytes) -> bool:
    from asn1crypto import x509

    from zhenglian.pki import sm2

    try:
        point = sm2.public_point(x509.Certificate.load(bytes(cert_der)))
        return sm2.verify(point, message, bytes(signature))
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


def check(algorithm: str, cert_der: bytes, message: bytes, signature: bytes) -> bool:
    """True (good), False (bad, or an unusable certificate)."""
    if algorithm == SM2:
        return _check_sm2(cert_der, message, signature)
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    from zhenglian.pki.cert import cryptography_public_key

    try:
        key = cryptography_public_key(bytes(cert_der))
        if algorithm == RSA and isinstance(key, rsa.RSAPublicKey):
            key.verify(bytes(signature), message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if algorithm == ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(bytes(signature), message, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return False
