"""One key as the layers above hold it: backend, key facts, manifest, certificates.

Before this, ``(module, key, manifest)`` travelled through every function that
touched a key, and each rebuilt the certificate lists.  A :class:`KeyHandle`
is built once (``TokenManager.handle``) and passed instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from zhenglian import errors
from zhenglian.manifest import Manifest
from zhenglian.tokens.model import KeyCert, KeyInfo

if TYPE_CHECKING:
    from asn1crypto import x509

    from zhenglian.keys.backend import KeyBackend
    from zhenglian.pdf.sign import SignerIdentity


@dataclass(frozen=True, eq=False)
class KeyHandle:
    backend: KeyBackend
    key: KeyInfo
    manifest: Manifest | None
    # the manifests that claim the driver file (vendor tables such as [[sm2]] belong to the driver,
    # while ``manifest`` is the key's CA, whose PIN rules apply)
    driver_manifests: tuple[Manifest, ...] = ()

    @property
    def manifests(self) -> tuple[Manifest, ...]:
        """The key's CA manifest, then the driver's, without repeats."""
        out = [self.manifest] if self.manifest is not None else []
        out += [m for m in self.driver_manifests if all(m is not o for o in out)]
        return tuple(out)

    @property
    def serial(self) -> str:
        return self.key.serial

    @property
    def signing_cert(self) -> KeyCert:
        """The certificate the key signs with; NoCertificate when it has none."""
        cert = self.key.signing_certificate()
        if cert is None:
            raise errors.NoCertificate(serial=self.key.serial)
        return cert

    @cached_property
    def ca_ders(self) -> tuple[bytes, ...]:
        """CA certificates stored on the key (DER), the first candidates for the chain."""
        return tuple(c.info.der for c in self.key.certificates if c.info.is_ca)

    @cached_property
    def ca_certs(self) -> tuple[x509.Certificate, ...]:
        from asn1crypto import x509

        return tuple(x509.Certificate.load(der) for der in self.ca_ders)

    def identity(self, *, fetch_aia: bool = True) -> SignerIdentity:
        """The signer's certificate and issuing chain (CA certificates on the key first)."""
        from asn1crypto import x509

        from zhenglian.pdf.sign import SignerIdentity
        from zhenglian.pdf.trust import build_chain

        cert = self.signing_cert
        leaf = x509.Certificate.load(cert.info.der)
        return SignerIdentity(leaf, tuple(build_chain(leaf, list(self.ca_certs), fetch_aia=fetch_aia)), cert.info)

    def check_usable(self, now: Any = None) -> None:
        """Refuse, before any PIN is asked, an expired or not-yet-valid certificate and a key that
        offers no signing mechanism known for its algorithm (an SM2 key with no vendor number
        we know or a driver table names: MechanismUnsupported)."""
        from zhenglian.keys.session import candidate_plans
        from zhenglian.lifecycle import check_usable

        check_usable(self.signing_cert.info, now)
        candidate_plans(self)
