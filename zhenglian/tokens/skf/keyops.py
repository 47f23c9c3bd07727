"""A renewal's key work on an SKF key (the SKF side of :class:`zhenglian.keys.backend.KeyOps`).

A key pair is a *container* (``cka_id`` = its name).  SKF has no call that
removes one key or one certificate, and ``SKF_GenECCKeyPair`` in a container
replaces its sign key at once — the old certificate would then match nothing
until the new one is written.  So a new key pair is made in a **new container**
(``SKF_CreateContainer`` + ``SKF_GenECCKeyPair``/``SKF_GenRSAKeyPair``), the
CA's certificate is written there (``SKF_ImportCertificate``), and only after
a test signature verifies is the old container deleted (``SKF_DeleteContainer``).
The old certificate stays usable at every moment before that.

A container that also holds an **encryption** key pair (dual-certificate keys)
is never deleted: the CA put that pair there (enveloped), it cannot be moved,
and deleting it would lose what was encrypted to it.  Such a key's sign pair
is re-certified by the CA in place (the new certificate replaces the old one in
the same container), as for SM2 keys over PKCS#11.

Containers made by a renewal are named ``ZL-<UTC time>`` (:data:`PENDING_PREFIX`);
one left without a certificate by an interrupted renewal is removed by the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from asn1crypto import keys

from zhenglian import errors
from zhenglian.keys.mechanisms import CKM_RSA_PKCS
from zhenglian.keys.sm2mech import MECH_SKF_SM2_E
from zhenglian.tokens.skf.library import EccPublicKey, RsaPublicKey, SkfContainer

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle
    from zhenglian.tokens.skf.backend import SkfBackend, SkfSession

log = logging.getLogger(__name__)

PENDING_PREFIX = "ZL-"
RSA_BITS = 2048  # GM/T 0016 keys make 1024- or 2048-bit RSA pairs; a renewal never goes down in size
MAX_CONTAINERS = 64  # as the backend reads them


def _name(cka_id: bytes) -> str:
    try:
        return cka_id.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.SkfObjectMissing(what_zh="容器", what_en="container", op="SKF_OpenContainer") from None


def spki_of(pub: EccPublicKey | RsaPublicKey) -> keys.PublicKeyInfo:
    """The blob a key exported as SubjectPublicKeyInfo (SM2: id-ecPublicKey on the SM2 curve)."""
    if isinstance(pub, EccPublicKey):
        from zhenglian.pki import sm2

        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec",
                          "parameters": keys.ECDomainParameters(name="named", value=sm2.CURVE_NAME)},
            "public_key": pub.point,
        })
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": keys.RSAPublicKey({"modulus": pub.modulus, "public_exponent": pub.exponent}),
    })


class SkfKeyOps:
    """See the module docstring; every call holds the library's lock."""

    def __init__(self, backend: SkfBackend, handle: KeyHandle) -> None:
        self.backend = backend
        self.handle = handle

    @contextmanager
    def _container(self, session: SkfSession, cka_id: bytes) -> Iterator[SkfContainer]:
        with self.backend.lock, session.app.open_container(_name(cka_id)) as con:
            yield con

    def _has_encryption_pair(self, con: SkfContainer) -> bool:
        """True unless the key says plainly that there is none (in doubt, the container is kept)."""
        try:
            if con.certificate(sign=False) is not None:
                return True
            con.public_key(sign=False)
            return True
        except (errors.SkfObjectMissing, errors.SkfCertificateMissing):
            return False
        except (errors.SkfError, errors.SkfBadResponse):
            return True

    def can_make_pair(self, session: SkfSession, old_id: bytes, key_type: str) -> bool:
        if key_type not in ("RSA", "SM2"):
            return False
        if key_type == "RSA" and self.handle.signing_cert.info.key_bits > RSA_BITS:
            log.info("RSA key of %d bits: SKF makes at most %d, the CA re-certifies it",
                     self.handle.signing_cert.info.key_bits, RSA_BITS)
            return False
        with self._container(session, old_id) as con:
            if self._has_encryption_pair(con):
                log.info("SKF container %r holds an encryption pair: its sign pair is re-certified in place",
                         con.name)
                return False
        return True

    def has_private_key(self, session: SkfSession, cka_id: bytes) -> bool:
        # SKF cannot ask for a private key; a container's sign pair is made (or imported) whole.
        return self.public_key_info(session, cka_id) is not None

    def public_key_info(self, session: SkfSession, cka_id: bytes) -> keys.PublicKeyInfo | None:
        try:
            with self._container(session, cka_id) as con:
                return spki_of(con.public_key(sign=True))
        except (errors.SkfObjectMissing, errors.SkfError):
            return None

    def signer(self, session: SkfSession, cka_id: bytes) -> Callable[[bytes], bytes]:
        """Signs through the backend's own sign_raw; every signature checked before it is returned."""
        spki = self.public_key_info(session, cka_id)
        if spki is None:
            raise errors.NoCertificate(serial=self.handle.serial)
        if spki.algorithm == "rsa":
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding, rsa

            public = serialization.load_der_public_key(spki.dump())
            assert isinstance(public, rsa.RSAPublicKey)

            def sign_rsa(data: bytes) -> bytes:
                from asn1crypto import algos

                h = hashes.Hash(hashes.SHA256())
                h.update(data)
                digest_info = algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"},
                                                "digest": h.finalize()}).dump()
                sig = self.backend.sign_raw(session, cka_id, CKM_RSA_PKCS, digest_info)
                try:
                    public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
                except Exception:  # noqa: BLE001 - InvalidSignature or malformed: the key answered wrong
                    raise errors.KeySignatureInvalid(detail="SKF_RSASignData") from None
                return sig

            return sign_rsa
        from zhenglian.pki import sm2

        point = sm2.public_point(spki)

        def sign_sm2(data: bytes) -> bytes:
            rs = self.backend.sign_raw(session, cka_id, MECH_SKF_SM2_E, sm2.e_value(point, data))
            der = sm2.raw_to_der(rs)
            if not sm2.verify(point, data, der):
                raise errors.KeySignatureInvalid(detail="SKF_ECCSignData")
            return der

        return sign_sm2

    def pending_pairs(self, session: SkfSession, keep: bytes) -> list[bytes]:
        out = []
        with self.backend.lock:
            for name in session.app.containers()[:MAX_CONTAINERS]:
                if not name.startswith(PENDING_PREFIX) or name.encode("utf-8") == keep:
                    continue
                with session.app.open_container(name) as con:
                    if con.certificate(sign=True) is None and not self._has_encryption_pair(con):
                        out.append(name.encode("utf-8"))
        return out

    def destroy_pair(self, session: SkfSession, cka_id: bytes) -> None:
        with self.backend.lock:
            session.app.delete_container(_name(cka_id))

    def _new_name(self, session: SkfSession) -> str:
        taken = set(session.app.containers())
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        for n in range(100):
            name = f"{PENDING_PREFIX}{stamp}" + (f"-{n}" if n else "")
            if name not in taken:
                return name
        raise errors.SkfNoRoom(op="SKF_CreateContainer", sar_name="SAR_FILE_ALREADY_EXIST")

    def generate_like(self, session: SkfSession, key_type: str, bits: int) -> tuple[bytes, keys.PublicKeyInfo]:
        with self.backend.lock:
            name = self._new_name(session)
            with session.app.create_container(name) as con:
                try:
                    pub: EccPublicKey | RsaPublicKey = (con.gen_ecc_keypair() if key_type == "SM2"
                                                        else con.gen_rsa_keypair(RSA_BITS))
                except BaseException:
                    _quietly(lambda: session.app.delete_container(name))
                    raise
        return name.encode("utf-8"), spki_of(pub)

    def store_certificate(self, session: SkfSession, der: bytes, cka_id: bytes, label: str,
                          replaces: bytes) -> Callable[[], object]:
        with self._container(session, cka_id) as con:
            before = con.certificate(sign=True)
            con.import_certificate(der, sign=True)
        if before is not None:  # re-certified in place: the undo writes the old certificate back
            def undo() -> None:
                with self._container(session, cka_id) as c:
                    c.import_certificate(before, sign=True)

            return undo
        # A new container: SKF cannot remove a certificate alone; the undo removes the container
        # (the CA's saved certificate then names a key pair that is gone and is dropped).
        return lambda: self.destroy_pair(session, cka_id)

    def adopt_pair(self, session: SkfSession, cka_id: bytes, label: str) -> None:
        """Nothing to do: a container with its certificate is no longer pending."""

    def remove_old(self, session: SkfSession, old_der: bytes, old_id: bytes, new_id: bytes) -> None:
        if new_id != old_id:
            self.destroy_pair(session, old_id)
        # Same container: SKF_ImportCertificate already replaced the old certificate.

    def certificate_present(self, session: SkfSession, der: bytes) -> bool:
        with self.backend.lock:
            for name in session.app.containers()[:MAX_CONTAINERS]:
                with session.app.open_container(name) as con:
                    if con.certificate(sign=True) == der:
                        return True
        return False


def _quietly(step: Callable[[], object]) -> None:
    try:
        step()
    except errors.ZhenglianError as exc:
        log.info("SKF cleanup step failed: %s", exc.code)
