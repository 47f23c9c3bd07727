"""The PKCS#11 work of a renewal, on a logged-in read-write session.

:class:`Pkcs11KeyOps` is the PKCS#11 side of :class:`zhenglian.keys.backend.KeyOps`
(the SKF side is :mod:`zhenglian.tokens.skf.keyops`).

Find the key pair behind a certificate (by CKA_ID), sign with it, make a new
key pair like it, write a certificate beside its private key (same CKA_ID),
and remove objects.  python-pkcs11 errors propagate: the renewal maps them
(and tells a pulled-out key from a driver failure).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asn1crypto import keys

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

log = logging.getLogger(__name__)

# Label of a key pair made for a renewal that is not finished yet.  A later
# renewal recognises (and reuses or removes) such leftovers.
PENDING_LABEL = "zhenglian-renewal"


def _p() -> Any:
    import pkcs11

    return pkcs11


def objects(session: Any, cls: Any, cka_id: bytes | None = None, label: str | None = None) -> list[Any]:
    p = _p()
    template: dict[Any, Any] = {p.Attribute.CLASS: cls}
    if cka_id is not None:
        template[p.Attribute.ID] = cka_id
    if label is not None:
        template[p.Attribute.LABEL] = label
    return list(session.get_objects(template))


def private_key(session: Any, cka_id: bytes) -> Any | None:
    found = objects(session, _p().ObjectClass.PRIVATE_KEY, cka_id)
    return found[0] if found else None


def certificate_objects(session: Any, cka_id: bytes | None = None) -> list[Any]:
    return objects(session, _p().ObjectClass.CERTIFICATE, cka_id)


def certificate_der(obj: Any) -> bytes:
    return bytes(obj[_p().Attribute.VALUE])


def public_key_info(session: Any, cka_id: bytes) -> keys.PublicKeyInfo | None:
    """The public key object with this CKA_ID as SubjectPublicKeyInfo (RSA only), or None."""
    p = _p()
    A = p.Attribute  # noqa: N806
    for obj in objects(session, p.ObjectClass.PUBLIC_KEY, cka_id):
        try:
            modulus = int.from_bytes(bytes(obj[A.MODULUS]), "big")
            exponent = int.from_bytes(bytes(obj[A.PUBLIC_EXPONENT]), "big")
        except p.PKCS11Error:
            continue
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "rsa"},
            "public_key": keys.RSAPublicKey({"modulus": modulus, "public_exponent": exponent}),
        })
    return None


def rsa_signer(key: Any):  # type: ignore[no-untyped-def]
    """sign(data) -> PKCS#1 v1.5 SHA-256 signature made on the key."""
    mechanism = _p().Mechanism.SHA256_RSA_PKCS

    def sign(data: bytes) -> bytes:
        return bytes(key.sign(data, mechanism=mechanism))

    return sign


def key_id_for(public_key: keys.PublicKeyInfo) -> bytes:
    """CKA_ID of a new key pair: SHA-1 of the public key (as OpenSC and most CA tools do)."""
    return hashlib.sha1(public_key["public_key"].dump()).digest()  # noqa: S324 - an identifier, not security


def generate_rsa_like(session: Any, bits: int, label: str = PENDING_LABEL) -> tuple[bytes, keys.PublicKeyInfo]:
    """A new RSA key pair on the key, private key non-extractable; returns (CKA_ID, public key).

    Made with a temporary CKA_ID, then given the SHA-1 of its public key as
    CKA_ID (known only once the key exists).
    """
    p = _p()
    A = p.Attribute  # noqa: N806
    temp_id = b"zhenglian-renewal-tmp"
    pub, priv = session.generate_keypair(
        p.KeyType.RSA, bits, id=temp_id, label=label, store=True,
        public_template={A.VERIFY: True, A.ENCRYPT: False, A.WRAP: False, A.PUBLIC_EXPONENT: b"\x01\x00\x01"},
        private_template={A.SIGN: True, A.DECRYPT: False, A.UNWRAP: False, A.PRIVATE: True,
                          A.SENSITIVE: True, A.EXTRACTABLE: False},
    )
    info = keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": keys.RSAPublicKey({"modulus": int.from_bytes(bytes(pub[A.MODULUS]), "big"),
                                         "public_exponent": int.from_bytes(bytes(pub[A.PUBLIC_EXPONENT]), "big")}),
    })
    cka_id = key_id_for(info)
    pub[A.ID] = cka_id
    priv[A.ID] = cka_id
    return cka_id, info


def store_certificate(session: Any, der: bytes, cka_id: bytes, label: str) -> Any:
    """Write a certificate object beside its private key (same CKA_ID), public like the CA's."""
    from asn1crypto import x509

    p = _p()
    A = p.Attribute  # noqa: N806
    cert = x509.Certificate.load(der)
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8 or 1, "big")
    return session.create_object({
        A.CLASS: p.ObjectClass.CERTIFICATE,
        A.CERTIFICATE_TYPE: p.CertificateType.X_509,
        A.TOKEN: True,
        A.PRIVATE: False,
        A.LABEL: label,
        A.ID: cka_id,
        A.VALUE: der,
        A.SUBJECT: cert.subject.dump(),
        A.ISSUER: cert.issuer.dump(),
        A.SERIAL_NUMBER: serial,
    })


def relabel_pair(session: Any, cka_id: bytes, label: str) -> None:
    p = _p()
    for cls in (p.ObjectClass.PRIVATE_KEY, p.ObjectClass.PUBLIC_KEY):
        for obj in objects(session, cls, cka_id):
            obj[p.Attribute.LABEL] = label


def destroy_pair(session: Any, cka_id: bytes) -> int:
    p = _p()
    n = 0
    for cls in (p.ObjectClass.PRIVATE_KEY, p.ObjectClass.PUBLIC_KEY):
        for obj in objects(session, cls, cka_id):
            obj.destroy()
            n += 1
    return n


def destroy_certificate(session: Any, der: bytes) -> int:
    n = 0
    for obj in certificate_objects(session):
        if certificate_der(obj) == der:
            obj.destroy()
            n += 1
    return n


def pending_pairs(session: Any) -> list[bytes]:
    """CKA_IDs of key pairs left by an unfinished renewal."""
    p = _p()
    return sorted({bytes(o[p.Attribute.ID]) for o in objects(session, p.ObjectClass.PRIVATE_KEY,
                                                             label=PENDING_LABEL)})


class Pkcs11KeyOps:
    """A renewal's key work over python-pkcs11 (see :class:`zhenglian.keys.backend.KeyOps`).

    SM2 keys sign through the key seam (:class:`zhenglian.keys.session.KeySession`: vendor
    mechanism numbers), and get no new key pair: there is no standard PKCS#11 number to make
    one, so the CA re-certifies the key pair already on the key.
    """

    def __init__(self, handle: KeyHandle) -> None:
        self.handle = handle
        self.sm2 = handle.signing_cert.info.key_type == "SM2"

    def can_make_pair(self, session: Any, old_id: bytes, key_type: str) -> bool:
        return key_type == "RSA"

    def has_private_key(self, session: Any, cka_id: bytes) -> bool:
        if self.sm2:  # python-pkcs11 cannot name a vendor-defined SM2 key type
            raw = self.handle.backend.raw()  # type: ignore[attr-defined]
            with self.handle.backend.lock:
                try:
                    raw.find_private_key(session.handle, cka_id)
                    return True
                except Exception:  # noqa: BLE001 - not found or not readable: no usable key
                    return False
        return private_key(session, cka_id) is not None

    def public_key_info(self, session: Any, cka_id: bytes) -> keys.PublicKeyInfo | None:
        return public_key_info(session, cka_id)

    def signer(self, session: Any, cka_id: bytes) -> Callable[[bytes], bytes]:
        if self.sm2:
            from zhenglian.keys.session import KeySession

            return KeySession(self.handle, session).sign  # checked against the (same-key) certificate
        priv = private_key(session, cka_id)
        if priv is None:
            from zhenglian import errors

            raise errors.NoCertificate(serial=self.handle.serial)
        return rsa_signer(priv)

    def pending_pairs(self, session: Any, keep: bytes) -> list[bytes]:
        return [i for i in pending_pairs(session) if i != keep]

    def destroy_pair(self, session: Any, cka_id: bytes) -> None:
        destroy_pair(session, cka_id)

    def generate_like(self, session: Any, key_type: str, bits: int) -> tuple[bytes, keys.PublicKeyInfo]:
        return generate_rsa_like(session, bits)

    def store_certificate(self, session: Any, der: bytes, cka_id: bytes, label: str,
                          replaces: bytes) -> Callable[[], object]:
        return store_certificate(session, der, cka_id, label).destroy  # type: ignore[no-any-return]

    def adopt_pair(self, session: Any, cka_id: bytes, label: str) -> None:
        relabel_pair(session, cka_id, label)

    def remove_old(self, session: Any, old_der: bytes, old_id: bytes, new_id: bytes) -> None:
        destroy_certificate(session, old_der)
        if new_id != old_id:
            destroy_pair(session, old_id)

    def certificate_present(self, session: Any, der: bytes) -> bool:
        return any(certificate_der(o) == der for o in certificate_objects(session))
