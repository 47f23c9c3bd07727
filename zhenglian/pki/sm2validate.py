"""An SM2-aware signature validator for pyHanko / pyhanko-certvalidator.

pyHanko's ``ValidationContext(signature_validator=...)`` is used both for the
CMS signature of a PDF and for every link of a certificate chain, so one
validator makes SM2 PDF signatures *and* SM2 chains validate.  RSA and EC
(ECDSA) go to pyHanko's default validator unchanged.

An SM2 signature is checked with the default user ID 1234567812345678 (GM/T
0009), the one GM/T 0010 / GB/T 35275 CMS and GM/T 0015 certificates use.  A
signature that only verifies with an *empty* ID (a known mistake of some
signing libraries) stays invalid; :func:`made_with_empty_id` lets a report
say why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from asn1crypto import algos, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from zhenglian.errors import SM2InvalidPublicKey
from zhenglian.memo import BoundedMemo
from zhenglian.pki import sm2

# Signature checks that passed, by a digest of everything the check reads (signature, signed
# bytes, public key, algorithm with its parameters, context).  A certificate chain's links are
# the same on every document an institution signs — an SM2 link is ~4 ms of pure-Python curve
# arithmetic — so each is worked out once; a failed check is never remembered (it raises again).
VERIFIED = BoundedMemo(1024)


def check_digest(signature: bytes, signed_data: bytes, public_key_info: keys.PublicKeyInfo,
                 signature_algorithm: algos.SignedDigestAlgorithm, context: Any) -> bytes:
    """SHA-256 over the length-prefixed inputs of one signature check."""
    h = hashlib.sha256()
    for part in (bytes(signature), bytes(signed_data), public_key_info.dump(), signature_algorithm.dump(),
                 repr(context).encode()):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


class SM2SignatureValidator(DefaultSignatureValidator):
    """Checks SM2-with-SM3 signatures itself; everything else as pyHanko does."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        try:
            digest: bytes | None = check_digest(signature, signed_data, public_key_info, signature_algorithm,
                                                context)
        except Exception:  # noqa: BLE001 - inputs that cannot be serialised are simply checked, not remembered
            digest = None
        if digest is not None and VERIFIED.get(digest):
            return
        self._check(signature, signed_data, public_key_info, signature_algorithm, context)
        if digest is not None:
            VERIFIED.put(digest, True)

    def _check(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext,
    ) -> None:
        sm2_algo = signature_algorithm["algorithm"].native in sm2.SIGNATURE_NAMES
        sm2_key = _is_sm2_key(public_key_info)
        if not sm2_algo and not sm2_key:
            super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
            return
        invalid = InvalidSignature  # what pyHanko reads as "invalid", not "broken"
        if not sm2_key:
            raise invalid("SM2 signature algorithm with a key that is not an SM2 key")
        if not sm2_algo:
            raise AlgorithmNotSupported(
                f"SM2 key with signature algorithm {signature_algorithm['algorithm'].dotted}")
        if context.prehashed:
            # SM2 hashes Z || M; a pre-hashed M cannot be checked.
            raise AlgorithmNotSupported("SM2 cannot check a pre-hashed payload")
        try:
            point = sm2.public_point(public_key_info)
        except SM2InvalidPublicKey as exc:
            raise invalid(exc.message_en()) from None
        if not sm2.verify(point, signed_data, signature):
            raise invalid("SM2 signature does not verify (ID 1234567812345678)")


def _is_sm2_key(info: keys.PublicKeyInfo) -> bool:
    try:
        return sm2.is_sm2(info)
    except (ValueError, KeyError, TypeError):
        return False


def made_with_empty_id(public_key_info: keys.PublicKeyInfo, signed_data: bytes, signature: bytes) -> bool:
    """True when an SM2 signature verifies only with an empty user ID."""
    try:
        point = sm2.public_point(public_key_info)
    except SM2InvalidPublicKey:
        return False
    return not sm2.verify(point, signed_data, signature) and sm2.verify(point, signed_data, signature, uid=b"")


VALIDATOR = SM2SignatureValidator()


def validation_context(**kwargs: Any) -> Any:
    """``pyhanko_certvalidator.ValidationContext`` with the SM2-aware validator."""
    from pyhanko_certvalidator import ValidationContext

    kwargs.setdefault("signature_validator", VALIDATOR)
    return ValidationContext(**kwargs)


def algorithm_name(cert_or_key: Any) -> str | None:
    """"SM2", "RSA", "EC" (ECDSA) ... of a certificate's or PublicKeyInfo's key, for reports; None if unreadable."""
    try:
        info = cert_or_key.public_key if isinstance(cert_or_key, x509.Certificate) else cert_or_key
        if not isinstance(info, keys.PublicKeyInfo):
            return None
        if _is_sm2_key(info):
            return "SM2"
        algo = info.algorithm
    except (ValueError, KeyError, TypeError):
        return None
    return {"rsa": "RSA", "rsassa_pss": "RSA", "ec": "EC", "dsa": "DSA"}.get(algo, algo.upper())


def report_problems(emb: Any, status: Any) -> list[str]:
    """Why an SM2 signature of a PDF is invalid, when we can tell more than pyHanko."""
    try:
        cert = emb.signer_cert
        if status.valid or not _is_sm2_key(cert.public_key):
            return []
        si = emb.signer_info
        signed = si["signed_attrs"].untag().dump() if si["signed_attrs"].native is not None else None
        if signed is not None and made_with_empty_id(cert.public_key, signed, si["signature"].native):
            return ["SM2 signature made with an empty user ID instead of 1234567812345678"]
    except Exception:  # noqa: BLE001 - a detail for the report only
        return []
    return []
