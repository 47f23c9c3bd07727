"""The PKI messages of an online renewal, built and read with asn1crypto.

- a PKCS#10 certification request, signed by the key that will own the new
  certificate (proof of possession);
- a detached CMS SignedData over that request, signed by the *current*
  certificate's key: it proves to the CA that the holder of the certificate
  being renewed asks for the renewal (EST would use TLS client
  authentication for that; a UKey behind httpx cannot do TLS, see
  docs/lifecycle.md);
- the CA's answer, a certs-only CMS SignedData (RFC 7030 §4.2.3).

Signing happens elsewhere (on the key): these functions take a ``sign``
callable that returns a signature over the bytes given.  The same module
checks a detached signature (the demo CA uses it), with ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from asn1crypto import algos, cms, csr, keys, x509

Signer = Callable[[bytes], bytes]

# Signature algorithms we can make on a key, by key algorithm.
SIGNATURE_ALGORITHMS = {"rsa": "sha256_rsa"}


def _register_oids() -> None:
    """Import the modules that add names to asn1crypto's CMS tables, before we use them.

    asn1crypto builds each OID table's reverse map once, on first use; names
    registered later (asn1crypto.tsp's signing_certificate_v2 and tst_info,
    pyHanko's CAdES attributes) are then unknown for the rest of the process,
    and pyHanko's PDF signing fails.  Renewal may run before any signing in
    the GUI process, so it registers them first.  Imported here, on use: the
    pyHanko import costs ≈0.4 s, once.
    """
    import asn1crypto.tsp  # noqa: F401

    try:
        import pyhanko.sign.ades.cades_asn1  # noqa: F401
    except ImportError:
        pass


class PkixError(ValueError):
    """A malformed or unverifiable message (the caller maps it to a typed error)."""


def _is_sm2(public_key: keys.PublicKeyInfo) -> bool:
    from zhenglian.pki import sm2

    return sm2.is_sm2(public_key)


def signature_algorithm(public_key: keys.PublicKeyInfo) -> str:
    if _is_sm2(public_key):
        return "sm2_sm3"  # SM2 with SM3, default ID (GM/T 0009), DER (r, s)
    try:
        return SIGNATURE_ALGORITHMS[public_key.algorithm]
    except KeyError:
        raise PkixError(f"unsupported key algorithm {public_key.algorithm}") from None


def digest_algorithm(public_key: keys.PublicKeyInfo) -> str:
    """The CMS digest that goes with the key: SM3 for SM2 keys, else SHA-256."""
    return "sm3" if _is_sm2(public_key) else "sha256"


def _digest(name: str, data: bytes) -> bytes:
    if name == "sm3":
        from zhenglian.pki import sm2

        return sm2.sm3(data)
    return hashlib.new(name, data).digest()


def build_csr(subject: x509.Name, public_key: keys.PublicKeyInfo, sign: Signer) -> bytes:
    """A PKCS#10 request for ``subject`` and ``public_key``, signed with ``sign``."""
    info = csr.CertificationRequestInfo({
        "version": "v1",
        "subject": subject,
        "subject_pk_info": public_key,
        "attributes": csr.CRIAttributes([]),
    })
    request = csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": signature_algorithm(public_key)}),
        "signature": sign(info.dump()),
    })
    return request.dump()


def detached_signature(data: bytes, cert_der: bytes, sign: Signer,
                       signing_time: datetime | None = None) -> bytes:
    """A detached CMS SignedData over ``data``, signer ``cert_der`` (included)."""
    _register_oids()
    cert = x509.Certificate.load(cert_der)
    digest_name = digest_algorithm(cert.public_key)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time",
                          "values": [cms.Time({"utc_time": (signing_time or datetime.now(UTC))
                                               .astimezone(UTC).replace(microsecond=0)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [_digest(digest_name, data)]}),
    ])
    signature = sign(signed_attrs.dump())
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": cert.issuer, "serial_number": cert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest_name}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": signature_algorithm(cert.public_key)}),
        "signature": signature,
    })
    signed = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_name})],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cert],
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def certs_only(certs: list[bytes]) -> bytes:
    """A degenerate (certs-only) SignedData carrying ``certs`` — the CA's answer."""
    _register_oids()
    signed = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [],
        "encap_content_info": {"content_type": "data"},
        "certificates": [x509.Certificate.load(c) for c in certs],
        "signer_infos": [],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def decode_base64_body(body: bytes) -> bytes:
    """EST bodies are base64 (RFC 7030 §4, Content-Transfer-Encoding: base64); accept raw DER too."""
    stripped = body.strip()
    if stripped[:1] == b"\x30":
        return stripped
    try:
        return base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PkixError("body is neither base64 nor DER") from None


def parse_certs_only(body: bytes) -> list[bytes]:
    """The certificates of a certs-only SignedData (base64 or DER), DER each."""
    _register_oids()
    der = decode_base64_body(body)
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise PkixError("not a SignedData")
        certs = info["content"]["certificates"]
        out = [c.chosen.dump() for c in certs] if certs.native is not None else []
    except (ValueError, TypeError, KeyError) as exc:
        raise PkixError(f"not a certs-only SignedData ({type(exc).__name__})") from None
    return out


def _verify_with(cert_der: bytes, signature: bytes, data: bytes) -> None:
    cert = x509.Certificate.load(cert_der)
    if _is_sm2(cert.public_key):
        from zhenglian.errors import ZhenglianError
        from zhenglian.pki import sm2

        try:
            ok = sm2.verify(sm2.public_point(cert), data, signature)
        except ZhenglianError:
            ok = False
        if not ok:
            raise PkixError("signature does not verify")
        return
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    from zhenglian.pki.cert import cryptography_public_key

    try:
        public = cryptography_public_key(cert_der)
    except ValueError:
        raise PkixError("signer certificate unreadable") from None
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise PkixError("unsupported signer key")
    except InvalidSignature:
        raise PkixError("signature does not verify") from None


def verify_detached(cms_der: bytes, data: bytes) -> tuple[bytes, datetime | None]:
    """Check a detached CMS signature over ``data``.

    Returns the signer's certificate (DER) and the signed signing time.  Does
    not judge the certificate (chain, validity): the caller does.
    """
    _register_oids()
    try:
        info = cms.ContentInfo.load(cms_der)
        signed = info["content"]
        (si,) = list(signed["signer_infos"])
        sid = si["sid"].chosen
        certs = [c.chosen for c in signed["certificates"]]
        signer = next(c for c in certs if isinstance(sid, cms.IssuerAndSerialNumber)
                      and c.issuer == sid["issuer"] and c.serial_number == sid["serial_number"].native)
        attrs = si["signed_attrs"]
        digest = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
        times = [a["values"][0].native for a in attrs if a["type"].native == "signing_time"]
        to_verify = b"\x31" + attrs.dump()[1:]  # signed over the SET OF, not the [0] tag
        signature = si["signature"].native
    except (ValueError, TypeError, KeyError, StopIteration) as exc:
        raise PkixError(f"malformed CMS signature ({type(exc).__name__})") from None
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name != digest_algorithm(signer.public_key):
        raise PkixError("digest algorithm must be SHA-256 (SM3 for SM2 keys)")
    if digest != _digest(digest_name, data):
        raise PkixError("message digest does not match the request")
    _verify_with(signer.dump(), signature, to_verify)
    return signer.dump(), (times[0] if times else None)


def same_public_key(a: keys.PublicKeyInfo, b: keys.PublicKeyInfo) -> bool:
    return a.dump() == b.dump() or (a.algorithm == b.algorithm and a["public_key"].native == b["public_key"].native)

