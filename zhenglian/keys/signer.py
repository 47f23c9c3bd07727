"""The key as a pyHanko ``Signer``: CMS signatures for PDFs, whatever the backend.

pyHanko builds the CMS (signed attributes, signing-certificate-v2, algorithm
protection); the key signs the DER of the signed attributes through
:class:`~zhenglian.keys.session.KeySession`, which chose the mechanism from the
token and checks the result against the certificate.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from asn1crypto import algos, cms, x509
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from zhenglian.keys.session import KeySession


class KeySigner(Signer):
    def __init__(self, session: KeySession, identity: Any) -> None:
        # DER taken now, on the thread that made the signer: for_thread() parses its own copies.
        self._ders = (identity.certificate.dump(), tuple(c.dump() for c in identity.chain))
        super().__init__(
            signing_cert=identity.certificate,
            cert_registry=SimpleCertificateStore.from_certs([identity.certificate, *identity.chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": session.plan.cms_algorithm}),
            embed_roots=False,
        )
        self.session = session

    def for_thread(self) -> KeySigner:
        """The same key with its own certificate objects, for one signing thread.

        asn1crypto parses lazily and caches by filling dicts in place; two threads reading a
        shared certificate's subject for the first time can see it half-filled.  The key
        session is shared: its calls are serialised by the key's owner thread.
        """
        cert_der, chain_ders = self._ders
        return KeySigner(self.session, SimpleNamespace(certificate=x509.Certificate.load(cert_der),
                                                       chain=tuple(x509.Certificate.load(d) for d in chain_ders)))

    @property
    def md_algorithm(self) -> str:
        """The digest the CMS must use with this key (sha256; sm3 for SM2)."""
        return self.session.plan.digest

    async def signed_attrs(self, *args: Any, **kwargs: Any) -> Any:
        """pyHanko's signed attributes, in parsed form.

        asn1crypto re-encodes a value built from Python objects on every ``dump()``, all the way
        down (a SET OF sorts its members by dumping each), and pyHanko dumps the signed attributes
        several times per signature (to sign them, to copy them into the signer info, to write
        the container): ≈ 5 ms each for the three attributes.  The same DER parsed back is dumped
        from its bytes; what is signed and embedded is byte for byte the same.
        """
        attrs = await super().signed_attrs(*args, **kwargs)
        return None if attrs is None else cms.CMSAttributes.load(attrs.dump())

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.session.max_signature_size())
        return self.session.sign(data)
