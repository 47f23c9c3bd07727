"""Certificates we trust and certificates we carry.

Two jobs, one place:

* **Chain to embed** when signing (:func:`build_chain`): the signer's issuing
  CA certificates, so a verifier that knows only the root accepts the
  signature.  They come from the key itself (real keys and our demo keys
  store the issuing CA certificate beside the organisation's), from
  ``resources/trust/`` (bundled), or from the certificate's AIA
  "CA Issuers" address.
* **Roots to trust** when verifying (:func:`trust_roots`): self-signed
  certificates bundled in ``resources/trust/`` (none are shipped until a
  real CA root can be checked against its CA's published fingerprint), the
  demo CA roots only when the settings say ``demo`` is on, and any file the
  user passes with ``--trust``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from asn1crypto import cms, pem, x509

from zhenglian import errors, paths

log = logging.getLogger(__name__)

CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".p7b", ".p7c"}
AIA_TIMEOUT_S = 5.0  # each socket operation of an AIA fetch
AIA_CALL_S = 10.0  # all the AIA fetches for one certificate, however slowly the server sends
AIA_MAX_BYTES = 64 * 1024  # a CA certificate or a small .p7c is a few KB
MAX_CHAIN = 6


def parse_certs(data: bytes) -> list[x509.Certificate]:
    """Certificates in PEM (one or many), DER, or a PKCS#7 certs-only bundle."""
    out: list[x509.Certificate] = []
    if pem.detect(data):
        for kind, _headers, der in pem.unarmor(data, multiple=True):
            if kind == "CERTIFICATE":
                out.append(x509.Certificate.load(der))
            elif kind in ("PKCS7", "CMS"):
                out.extend(_from_pkcs7(der))
        return out
    try:
        cert = x509.Certificate.load(data)
        cert.native  # noqa: B018 - parse fully now, fail here
        return [cert]
    except ValueError:
        return _from_pkcs7(data)


def _from_pkcs7(der: bytes) -> list[x509.Certificate]:
    info = cms.ContentInfo.load(der)
    certs = info["content"]["certificates"]
    return [c.chosen for c in certs if c.name == "certificate"]


def load_cert_file(path: Path) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise errors.TrustFileInvalid(path=str(path), detail=type(exc).__name__) from None
    try:
        certs = parse_certs(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.TrustFileInvalid(path=str(path), detail=type(exc).__name__) from None
    if not certs:
        raise errors.TrustFileInvalid(path=str(path), detail="no certificate / 无证书")
    return certs


def trust_dir() -> Path:
    return paths.resources_dir() / "trust"


def bundled_certs(directory: Path | None = None) -> list[x509.Certificate]:
    """Every certificate file under resources/trust/ (README and others ignored)."""
    directory = directory or trust_dir()
    out: list[x509.Certificate] = []
    if not directory.is_dir():
        return out
    for path in sorted(directory.rglob("*")):
        if path.suffix.lower() in CERT_SUFFIXES and path.is_file():
            try:
                out.extend(load_cert_file(path))
            except errors.TrustFileInvalid:
                log.warning("bundled trust file %s is unreadable; skipped", path)
    return out


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.self_signed in ("maybe", "yes")


def demo_roots() -> list[x509.Certificate]:
    """Roots of the demo CAs made on this machine (empty when the reference package is absent)."""
    try:
        from zhenglian.reference import democa
    except ImportError:
        return []
    out: list[x509.Certificate] = []
    for path in [*democa.roots_pem(), *democa.sm2_roots_pem()]:
        try:
            out.extend(load_cert_file(path))
        except errors.TrustFileInvalid:
            log.warning("demo root %s unreadable", path)
    return out


def trust_roots(*, demo: bool, extra: Iterable[Path] = ()) -> list[x509.Certificate]:
    roots = [c for c in bundled_certs() if is_self_signed(c)]
    if demo:
        roots.extend(demo_roots())
    for path in extra:
        roots.extend(load_cert_file(Path(path)))
    return _unique(roots)


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out = []
    for c in certs:
        if c.sha256 not in seen:
            seen.add(c.sha256)
            out.append(c)
    return out


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    aki = cert.authority_key_identifier
    ski = issuer.key_identifier
    return aki is None or ski is None or aki == ski


def _aia_issuers(cert: x509.Certificate) -> list[x509.Certificate]:
    urls = [u for u in (cert.authority_information_access_value or [])
            if u["access_method"].native == "ca_issuers"]
    if not urls:
        return []
    from zhenglian.server import api, transport

    out: list[x509.Certificate] = []

    deadline = transport.Deadline(AIA_CALL_S)  # one for all of this certificate's URLs
    for desc in urls:
        location = desc["access_location"]
        if location.name != "uniform_resource_identifier":
            continue
        url = location.native
        if not url.lower().startswith(("http://", "https://")):
            continue
        try:
            with api.bounded_client(AIA_TIMEOUT_S) as client:
                response = api.fetch_bounded(client, "GET", url, limit=AIA_MAX_BYTES, deadline=deadline)
            if response.status_code != 200:  # a redirect too: the certificate's URL, or nothing
                log.info("AIA fetch %s failed: HTTP %d", url, response.status_code)
                continue
            out.extend(parse_certs(response.content))
        except Exception as exc:  # noqa: BLE001 - AIA is best effort; the signature is made anyway
            log.info("AIA fetch %s failed: %s", url, type(exc).__name__)
    return out


def build_chain(cert: x509.Certificate, candidates: Sequence[x509.Certificate] = (), *,
                use_bundled: bool = True, fetch_aia: bool = True) -> list[x509.Certificate]:
    """The issuing CA certificates of ``cert``, nearest first, without the root."""
    pool = list(candidates) + (bundled_certs() if use_bundled else [])
    chain: list[x509.Certificate] = []
    current = cert
    for _ in range(MAX_CHAIN):
        if is_self_signed(current):
            break
        issuer = next((c for c in pool if _issued_by(current, c)), None)
        if issuer is None and fetch_aia:
            fetched = _aia_issuers(current)
            pool.extend(fetched)
            issuer = next((c for c in fetched if _issued_by(current, c)), None)
        if issuer is None:
            log.info("chain ends at %s: issuer not found", current.subject.human_friendly)
            break
        if is_self_signed(issuer):
            break
        if any(issuer.sha256 == c.sha256 for c in chain):
            break
        chain.append(issuer)
        current = issuer
    return chain
