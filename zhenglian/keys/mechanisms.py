"""Choose how the key signs, from what the token says it can do (C_GetMechanismList).

Many keys (SoftHSM, most USB keys) offer only the raw mechanisms: CKM_ECDSA
(sign a digest) and CKM_RSA_PKCS (sign a DigestInfo).  Where the token offers
hash-then-sign (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256) it is used; otherwise
the digest is computed here and the raw mechanism signs it.  SM2 has no
standard number: its plans come from :mod:`zhenglian.keys.sm2mech`.

Whatever the plan, the signature is checked against the certificate before it
is used (:mod:`zhenglian.keys.session`): a wrong choice can fail, never
produce a bad document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from zhenglian import errors

CKM_RSA_PKCS = 0x0001
CKM_SHA256_RSA_PKCS = 0x0040
CKM_ECDSA = 0x1041
CKM_ECDSA_SHA256 = 0x1044

# DER prefix of DigestInfo { sha256, NULL } (RFC 8017 §9.2 note 1)
_SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True)
class SignPlan:
    """One way of signing a message with the key, and how to read what it returns."""

    algorithm: str  # "rsa" | "ec" | "sm2"
    mechanism: int
    digest: str  # the message digest of the CMS signature: "sha256" | "sm3"
    cms_algorithm: str  # asn1crypto SignedDigestAlgorithmId name: sha256_rsa, sha256_ecdsa, sm2_sm3
    token_hashes: bool  # the whole message goes to the key (it hashes); else our digest does
    output: str  # what the key returns: "pkcs1" (RSA), "raw" (r‖s), "der" (SEQUENCE) or "auto" (64 bytes: raw)
    name: str  # for logs and doctor: "CKM_ECDSA", "SM2 vendor 0x80008104" …

    def to_token(self, message: bytes, public_point: bytes | None = None) -> bytes:
        """What C_Sign is given for this message."""
        if self.token_hashes:
            return message
        if self.algorithm == "rsa":
            return _SHA256_DIGESTINFO + hashlib.sha256(message).digest()
        if self.algorithm == "ec":
            return hashlib.new(self.digest, message).digest()
        if self.algorithm == "sm2":
            from zhenglian.pki import sm2

            if public_point is None:
                raise errors.MechanismUnsupported(mechanism=self.name)
            return sm2.e_value(public_point, message)
        raise errors.MechanismUnsupported(mechanism=self.name)

    def to_der(self, signature: bytes) -> bytes:
        """The signature as CMS carries it (ECDSA/SM2: DER SEQUENCE {r, s})."""
        return self.readings(signature)[0]

    def readings(self, signature: bytes) -> list[bytes]:
        """Every way the key's answer may be read, most likely first (checked one by one).

        SM2 is strict: r‖s is exactly 64 bytes, DER is canonical with 1 ≤ r, s < n; "auto"
        tries both (a DER signature can be 64 bytes long, rarely).  An answer no reading fits
        is :class:`~zhenglian.errors.KeySignatureInvalid`, never passed on.
        """
        if self.algorithm == "sm2":
            return _sm2_readings(self.output, signature)
        if self.output == "raw" or (self.output == "auto" and len(signature) == 64):
            return [raw_to_der(signature)]
        return [signature]


def _sm2_readings(output: str, signature: bytes) -> list[bytes]:
    from zhenglian.pki import sm2

    signature = bytes(signature)
    out: list[bytes] = []
    if output in ("raw", "auto") and len(signature) == 64:
        try:
            out.append(sm2.raw_to_der(signature))
        except errors.SM2SignatureMalformed:
            pass
    if output in ("der", "auto"):
        try:
            sm2.der_to_raw(signature)
        except errors.SM2SignatureMalformed:
            pass
        else:
            out.append(signature)  # after r‖s: a 64-byte answer of an "auto" key is r‖s far more often
    if not out:
        expected = {"raw": "r‖s 64", "der": "DER", "auto": "r‖s 64 / DER"}[output]
        raise errors.KeySignatureInvalid(detail=f"SM2 签名长度 {len(signature)}，应为 {expected} / "
                                                f"SM2 signature of {len(signature)} bytes, expected {expected}")
    return out


def raw_to_der(sig: bytes) -> bytes:
    """r‖s (equal halves) → DER ECDSA-Sig-Value; a malformed one is a typed error."""
    from asn1crypto.algos import DSASignature

    if not sig or len(sig) % 2 or len(sig) > 264:
        raise errors.KeySignatureInvalid(detail=f"长度 {len(sig)} / length {len(sig)}")
    half = len(sig) // 2
    return DSASignature({"r": int.from_bytes(sig[:half], "big"), "s": int.from_bytes(sig[half:], "big")}).dump()


def _key_algorithm(public_key_info: object) -> str:
    algo = public_key_info["algorithm"]["algorithm"].native  # type: ignore[index]
    if algo == "rsa":
        return "rsa"
    if algo in ("ec", "sm2"):
        params = public_key_info["algorithm"]["parameters"]  # type: ignore[index]
        curve = getattr(params, "chosen", None)
        dotted = getattr(curve, "dotted", None)
        if dotted == "1.2.156.10197.1.301" or algo == "sm2":
            return "sm2"
        return "ec"
    return str(algo)


def key_algorithm(cert_der: bytes) -> str:
    """"rsa", "ec" or "sm2" — from the certificate's public key, never from CKA_KEY_TYPE."""
    from asn1crypto import x509

    return _key_algorithm(x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"])


def standard_plans(algorithm: str, offered: Sequence[int]) -> list[SignPlan]:
    """RSA and EC plans in order of preference; all of them when the token lists nothing."""
    have = set(offered)
    unknown = not have
    plans: list[SignPlan] = []
    if algorithm == "rsa":
        if unknown or CKM_SHA256_RSA_PKCS in have:
            plans.append(SignPlan("rsa", CKM_SHA256_RSA_PKCS, "sha256", "sha256_rsa", True, "pkcs1",
                                  "CKM_SHA256_RSA_PKCS"))
        if unknown or CKM_RSA_PKCS in have:
            plans.append(SignPlan("rsa", CKM_RSA_PKCS, "sha256", "sha256_rsa", False, "pkcs1", "CKM_RSA_PKCS"))
    elif algorithm == "ec":
        if CKM_ECDSA_SHA256 in have:
            plans.append(SignPlan("ec", CKM_ECDSA_SHA256, "sha256", "sha256_ecdsa", True, "raw", "CKM_ECDSA_SHA256"))
        if unknown or CKM_ECDSA in have:
            plans.append(SignPlan("ec", CKM_ECDSA, "sha256", "sha256_ecdsa", False, "raw", "CKM_ECDSA"))
    return plans
