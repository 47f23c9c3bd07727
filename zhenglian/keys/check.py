"""Check a signature made by the key against its certificate, before it is used.

A key, a driver or a wrong mechanism mapping can return bytes that are not a
valid signature; nothing such may reach a document.  RSA and ECDSA are checked
with ``cryptography``, SM2 with :mod:`zhenglian.pki.sm2`.
"""

from __future__ import annotations

from zhenglian.keys.mechanisms import SignPlan


def signature_matches(cert_der: bytes, plan: SignPlan, message: bytes, signature_der: bytes) -> bool:
    """True when ``signature_der`` (as CMS carries it) is the certificate key's signature of ``message``."""
    if plan.algorithm == "sm2":
        from asn1crypto import x509 as ax509

        from zhenglian.pki import sm2

        return sm2.verify(sm2.public_point(ax509.Certificate.load(cert_der)), message, signature_der)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    from zhenglian.pki.cert import cryptography_public_key

    digest = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}.get(plan.digest)
    if digest is None:
        return False
    try:
        public = cryptography_public_key(cert_der)
    except ValueError:
        return False  # a certificate on the key that cannot be read matches no signature
    try:
        if plan.algorithm == "rsa" and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature_der, message, padding.PKCS1v15(), digest)
            return True
        if plan.algorithm == "ec" and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature_der, message, ec.ECDSA(digest))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
