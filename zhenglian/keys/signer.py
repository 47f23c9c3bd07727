"""The key as a pyHanko ``Signer``: CMS signatures for PDFs, whatever the backend.

pyHanko builds the CMS (signed attributes, signing-certificate-v2, algorithm
protection); the key signs the DER of the signed attributes through
:class:`~zhenglian.keys.session.KeySession`, which chose the mechanism from the
token and checks the result against the certificate.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import algos
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from zhenglian.keys.session import KeySession


class KeySigner(Signer):
    def __init__(self, session: KeySession, identity: Any) -> None:
        super().__init__(
            signing_cert=identity.certificate,
            cert_registry=SimpleCertificateStore.from_certs([identity.certificate, *identity.chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": session.plan.cms_algorithm}),
            embed_roots=False,
        )
        self.session = session

    @property
    def md_algorithm(self) -> str:
        """The digest the CMS must use with this key (sha256; sm3 for SM2)."""
        return self.session.plan.digest

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.session.max_signature_size())
        return self.session.sign(data)
