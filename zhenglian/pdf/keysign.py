"""Sign with the UKey: its certificate, its chain, one logged-in session.

:func:`identity_for` and :func:`precheck` need no PIN (certificates are
public objects); :func:`key_batch` logs in once and yields a
:class:`~zhenglian.pdf.sign.SigningBatch` whose signer is pyHanko's
``PKCS11Signer`` on that session.  The session is logged out and closed when
the batch ends, whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from asn1crypto import x509

from zhenglian import errors
from zhenglian.manifest import Manifest
from zhenglian.pdf.seal import SealLike
from zhenglian.pdf.sign import SignerIdentity, SigningBatch, check_certificate
from zhenglian.pdf.trust import build_chain
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.model import KeyCert, KeyInfo
from zhenglian.tokens.module import Pkcs11Module
from zhenglian.tokens.secret import PinBuffer


def signing_cert(key: KeyInfo) -> KeyCert:
    cert = key.signing_certificate()
    if cert is None:
        raise errors.NoCertificate(serial=key.serial)
    return cert


def identity_for(key: KeyInfo, *, fetch_aia: bool = True) -> SignerIdentity:
    """The signer's certificate and issuing chain (CA certificates on the key first)."""
    cert = signing_cert(key)
    on_key = [x509.Certificate.load(c.info.der) for c in key.certificates if c.info.is_ca]
    leaf = x509.Certificate.load(cert.info.der)
    return SignerIdentity(leaf, tuple(build_chain(leaf, on_key, fetch_aia=fetch_aia)), cert.info)


def precheck(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, *,
             confirmed_final_try: bool = False, now: datetime | None = None) -> pinops.PinStatus:
    """Everything about the key that can refuse signing before the PIN is asked."""
    check_certificate(signing_cert(key).info, now)
    st = pinops.status(module, key, manifest)
    if st.locked:
        raise pinops.locked_error(manifest)
    if st.final_try and not confirmed_final_try:
        raise errors.FinalTryNotConfirmed()
    return st


def pkcs11_signer(session: Any, key_cert: KeyCert, identity: SignerIdentity) -> Any:
    from pyhanko.sign.pkcs11 import PKCS11Signer

    return PKCS11Signer(session, signing_cert=identity.certificate, ca_chain=list(identity.chain),
                        key_id=key_cert.cka_id, embed_roots=False)


@contextmanager
def key_batch(module: Pkcs11Module, key: KeyInfo, pin: PinBuffer | None, manifest: Manifest | None, *,
              seal: SealLike | None = None, timestamp_url: str | None = None,
              identity: SignerIdentity | None = None, confirmed_final_try: bool = False) -> Iterator[SigningBatch]:
    """Log in once and sign many documents; logs out on exit."""
    key_cert = signing_cert(key)
    identity = identity or identity_for(key)
    check_certificate(identity.info)
    with pinops.user_session(module, key, pin, manifest, confirmed_final_try=confirmed_final_try) as session, \
            SigningBatch(pkcs11_signer(session, key_cert, identity), identity, seal=seal,
                         timestamp_url=timestamp_url) as batch:
        yield batch
