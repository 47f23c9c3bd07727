"""A demo certificate authority per real CA, for demo and test keys only.

Each demo CA has a root and an issuing intermediate whose names look like the
real CA's (so issuer-based identification is exercised) and say DEMO.  The CA
keys are made at run time and kept under the data directory; nothing secret
is committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from zhenglian import paths
from zhenglian.fsutil import atomic_write_bytes

UTC = dt.UTC

# Issuer names modelled on the real CAs' public certificates, marked DEMO.
CA_NAMES: dict[str, dict[str, str]] = {
    "netca": {
        "root_cn": "NETCA Root CA (DEMO)",
        "sub_cn": "NETCA SM2 ID CA (DEMO)",
        "o": "NETCA Certificate Authority",
        "l": "Guangzhou",
        "st": "Guangdong",
    },
    "szca": {
        "root_cn": "SZCA Root CA (DEMO)",
        "sub_cn": "SZCA OCA1 (DEMO)",
        "o": "Shenzhen Certificate Authority Center Co., Ltd.",
        "l": "Shenzhen",
        "st": "Guangdong",
    },
    "gdca": {
        "root_cn": "GDCA ROOT CA (DEMO)",
        "sub_cn": "GDCA TrustAUTH E4 Generic CA (DEMO)",
        "o": "Global Digital Cybersecurity Authority CO., LTD.",
        "l": "Guangzhou",
        "st": "Guangdong",
    },
}


def _name(cn: str, o: str, l: str = "", st: str = "") -> x509.Name:  # noqa: E741
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if st:
        attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, st))
    if l:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, l))
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    return x509.Name(attrs)


@dataclass
class DemoCA:
    ca_id: str
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    sub_key: ec.EllipticCurvePrivateKey
    sub_cert: x509.Certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        """Issuing CA first, then the root."""
        return [self.sub_cert, self.root_cert]

    def issue(
        self,
        subject: x509.Name,
        public_key: object,
        not_before: dt.datetime,
        not_after: dt.datetime,
        usage: str = "signing",
    ) -> x509.Certificate:
        """Issue an end-entity certificate for a key made on the UKey."""
        if usage == "signing":
            ku = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        else:
            ku = x509.KeyUsage(False, False, True, True, False, False, False, False, False)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.sub_cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.sub_key.public_key()), critical=False
            )
        )
        if usage == "signing":
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                critical=False,
            )
        return builder.sign(self.sub_key, hashes.SHA256())


def _ca_cert(subject: x509.Name, issuer: x509.Name, key, signer, path_len: int, years: int) -> x509.Certificate:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(UTC) - dt.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(signer, hashes.SHA256())
    )


def create(ca_id: str) -> DemoCA:
    n = CA_NAMES[ca_id]
    root_key = ec.generate_private_key(ec.SECP256R1())
    sub_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(n["root_cn"], n["o"], n["l"], n["st"])
    sub_name = _name(n["sub_cn"], n["o"], n["l"], n["st"])
    root = _ca_cert(root_name, root_name, root_key, root_key, 1, 20)
    sub = _ca_cert(sub_name, root_name, sub_key, root_key, 0, 10)
    return DemoCA(ca_id, root_key, root, sub_key, sub)


def ca_dir(base: Path | None = None) -> Path:
    return (base or paths.data_dir()) / "demo-ca"


def save(ca: DemoCA, base: Path | None = None) -> None:
    d = ca_dir(base) / ca.ca_id
    pem = serialization.Encoding.PEM
    for name, key in (("root.key", ca.root_key), ("sub.key", ca.sub_key)):
        atomic_write_bytes(d / name, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    atomic_write_bytes(d / "root.pem", ca.root_cert.public_bytes(pem), mode=0o644)
    atomic_write_bytes(d / "sub.pem", ca.sub_cert.public_bytes(pem), mode=0o644)


def load(ca_id: str, base: Path | None = None) -> DemoCA | None:
    d = ca_dir(base) / ca_id
    try:
        root_key = serialization.load_pem_private_key((d / "root.key").read_bytes(), None)
        sub_key = serialization.load_pem_private_key((d / "sub.key").read_bytes(), None)
        root = x509.load_pem_x509_certificate((d / "root.pem").read_bytes())
        sub = x509.load_pem_x509_certificate((d / "sub.pem").read_bytes())
    except FileNotFoundError:
        return None
    return DemoCA(ca_id, root_key, root, sub_key, sub)  # type: ignore[arg-type]


def load_or_create(ca_id: str, base: Path | None = None) -> DemoCA:
    ca = load(ca_id, base)
    if ca is None:
        ca = create(ca_id)
        save(ca, base)
    return ca


def roots_pem(base: Path | None = None) -> list[Path]:
    """Root certificates of the demo CAs made so far (trusted only in demo mode)."""
    return sorted(ca_dir(base).glob("*/root.pem"))
