"""A demo certificate authority per real CA, for demo and test keys only.

Each demo CA has a root and an issuing intermediate whose names look like the
real CA's (so issuer-based identification is exercised) and say DEMO.  The CA
keys are made at run time and kept under the data directory; nothing secret
is committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from zhenglian import paths
from zhenglian.fsutil import atomic_write_bytes
from zhenglian.pki import sm2
from zhenglian.reference.sm2soft import SM2SoftKey

UTC = dt.UTC

# Issuer names modelled on the real CAs' public certificates, marked DEMO.
CA_NAMES: dict[str, dict[str, str]] = {
    "netca": {
        "root_cn": "NETCA Root CA (DEMO)",
        "sub_cn": "NETCA ID CA (DEMO)",  # RSA and EC; the SM2 chain has its own (SM2_SUB_CN)
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


# --- SM2 (GM/T 0015) -------------------------------------------------------
# The same CAs issue SM2 chains too: SM2 root -> SM2 issuing CA -> SM2 end
# entities, every certificate signed SM2-with-SM3 (OID 1.2.156.10197.1.501)
# with the default ID.  cryptography cannot sign SM2, so these certificates
# are built with asn1crypto and signed with a software SM2 key.  They live in
# demo-ca/sm2/<ca_id>/ (not matched by roots_pem(): see sm2_roots_pem()).

SM2_SUB_CN: dict[str, str] = {
    "netca": "NETCA SM2 ID CA (DEMO)",
    "szca": "SZCA SM2 OCA (DEMO)",
    "gdca": "GDCA SM2 Generic CA (DEMO)",
}


def _a_name(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def _a_time(t: dt.datetime) -> asn1_x509.Time:
    t = t.astimezone(UTC).replace(microsecond=0)
    return asn1_x509.Time({"utc_time" if t.year < 2050 else "general_time": t})


def _ski(point: bytes) -> bytes:
    return hashlib.sha1(point).digest()  # RFC 5280 4.2.1.2 (1), as OpenSSL does


def _sm2_cert(
    subject: asn1_x509.Name, issuer: asn1_x509.Name, spki: asn1_keys.PublicKeyInfo, signer: SM2SoftKey,
    not_before: dt.datetime, not_after: dt.datetime, *, ca: bool, path_len: int | None = None,
    usage: str = "ca",
) -> asn1_x509.Certificate:
    point = sm2.public_point(spki)
    ku = {
        "ca": {"digital_signature", "key_cert_sign", "crl_sign"},
        "signing": {"digital_signature", "non_repudiation"},
        "encryption": {"key_encipherment", "data_encipherment"},
    }[usage]
    bc: dict[str, object] = {"ca": ca}
    if ca and path_len is not None:
        bc["path_len_constraint"] = path_len
    exts = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": bc},
        {"extn_id": "key_usage", "critical": True, "extn_value": ku},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _ski(point)},
    ]
    if signer.point != point:
        exts.append({"extn_id": "authority_key_identifier", "critical": False,
                     "extn_value": {"key_identifier": _ski(signer.point)}})
    if usage == "signing":
        exts.append({"extn_id": "extended_key_usage", "critical": False,
                     "extn_value": ["client_auth", "email_protection"]})
    tbs = asn1_x509.TbsCertificate({
        "version": "v3",
        "serial_number": x509.random_serial_number(),
        "signature": {"algorithm": "sm2_sm3"},
        "issuer": issuer,
        "validity": {"not_before": _a_time(not_before), "not_after": _a_time(not_after)},
        "subject": subject,
        "subject_public_key_info": spki,
        "extensions": exts,
    })
    return asn1_x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": {"algorithm": "sm2_sm3"},
        "signature_value": signer.sign(tbs.dump()),
    })


@dataclass
class SM2Pair:
    """What :meth:`SM2DemoCA.issue_sm2_pair` returns (certificates are asn1crypto objects).

    ``sign_key`` / ``enc_key`` are the software private keys when the CA made
    them (None when the caller passed the public key of a key made on a token).
    """

    sign_cert: asn1_x509.Certificate
    sign_key: SM2SoftKey | None
    chain: list[asn1_x509.Certificate]  # issuing CA first, then the root
    enc_cert: asn1_x509.Certificate | None = None
    enc_key: SM2SoftKey | None = None


@dataclass
class SM2DemoCA:
    ca_id: str
    root_key: SM2SoftKey
    root_cert: asn1_x509.Certificate
    sub_key: SM2SoftKey
    sub_cert: asn1_x509.Certificate

    @property
    def chain(self) -> list[asn1_x509.Certificate]:
        """Issuing CA first, then the root."""
        return [self.sub_cert, self.root_cert]

    def issue_sm2(self, subject: x509.Name | asn1_x509.Name, public_key: bytes | asn1_keys.PublicKeyInfo,
                  not_before: dt.datetime, not_after: dt.datetime, usage: str = "signing") -> asn1_x509.Certificate:
        """An SM2 end-entity certificate for an SM2 public key (65-byte point or SPKI)."""
        if usage not in ("signing", "encryption"):
            raise ValueError(f"usage {usage!r}")
        spki = public_key if isinstance(public_key, asn1_keys.PublicKeyInfo) else _sm2_spki(public_key)
        subj = _a_name(subject) if isinstance(subject, x509.Name) else subject
        return _sm2_cert(subj, self.sub_cert.subject, spki, self.sub_key, not_before, not_after,
                         ca=False, usage=usage)

    def issue_sm2_pair(
        self, subject: x509.Name | asn1_x509.Name, not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None, *, sign_public_key: bytes | None = None,
        enc_public_key: bytes | None = None, encryption: bool = True,
    ) -> SM2Pair:
        """A signing certificate (and, with ``encryption``, an encryption one) and keys.

        Pass the public points of keys made on a token; otherwise software keys
        are made here and returned (for loading into a soft token).
        """
        start = not_before or dt.datetime.now(UTC) - dt.timedelta(days=1)
        end = not_after or start + dt.timedelta(days=730)
        sign_key = None if sign_public_key else SM2SoftKey.generate()
        sign_cert = self.issue_sm2(subject, sign_public_key or sign_key.point, start, end, "signing")  # type: ignore[union-attr]
        pair = SM2Pair(sign_cert, sign_key, self.chain)
        if encryption:
            pair.enc_key = None if enc_public_key else SM2SoftKey.generate()
            pair.enc_cert = self.issue_sm2(subject, enc_public_key or pair.enc_key.point,  # type: ignore[union-attr]
                                           start, end, "encryption")
        return pair


def _sm2_spki(point: bytes) -> asn1_keys.PublicKeyInfo:
    return asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters(name="named", value=sm2.CURVE_NAME)},
        "public_key": point,
    })


def create_sm2(ca_id: str) -> SM2DemoCA:
    n = CA_NAMES[ca_id]
    root_key, sub_key = SM2SoftKey.generate(), SM2SoftKey.generate()
    root_name = _a_name(_name(n["root_cn"].replace("(DEMO)", "SM2 (DEMO)"), n["o"], n["l"], n["st"]))
    sub_name = _a_name(_name(SM2_SUB_CN[ca_id], n["o"], n["l"], n["st"]))
    now = dt.datetime.now(UTC) - dt.timedelta(days=1)
    root = _sm2_cert(root_name, root_name, root_key.public_key_info(), root_key, now,
                     now + dt.timedelta(days=365 * 20), ca=True, path_len=1)
    sub = _sm2_cert(sub_name, root_name, sub_key.public_key_info(), root_key, now,
                    now + dt.timedelta(days=365 * 10), ca=True, path_len=0)
    return SM2DemoCA(ca_id, root_key, root, sub_key, sub)


def sm2_ca_dir(base: Path | None = None) -> Path:
    return ca_dir(base) / "sm2"


def cert_pem(cert: asn1_x509.Certificate) -> bytes:
    return asn1_pem.armor("CERTIFICATE", cert.dump())


def save_sm2(ca: SM2DemoCA, base: Path | None = None) -> None:
    d = sm2_ca_dir(base) / ca.ca_id
    atomic_write_bytes(d / "root.key", ca.root_key.pkcs8_pem())
    atomic_write_bytes(d / "sub.key", ca.sub_key.pkcs8_pem())
    atomic_write_bytes(d / "root.pem", cert_pem(ca.root_cert), mode=0o644)
    atomic_write_bytes(d / "sub.pem", cert_pem(ca.sub_cert), mode=0o644)


def _load_cert(path: Path) -> asn1_x509.Certificate:
    _, _, der = asn1_pem.unarmor(path.read_bytes())
    return asn1_x509.Certificate.load(der)


def load_sm2(ca_id: str, base: Path | None = None) -> SM2DemoCA | None:
    d = sm2_ca_dir(base) / ca_id
    try:
        return SM2DemoCA(
            ca_id, SM2SoftKey.from_pkcs8((d / "root.key").read_bytes()), _load_cert(d / "root.pem"),
            SM2SoftKey.from_pkcs8((d / "sub.key").read_bytes()), _load_cert(d / "sub.pem"),
        )
    except FileNotFoundError:
        return None


def load_or_create_sm2(ca_id: str, base: Path | None = None) -> SM2DemoCA:
    ca = load_sm2(ca_id, base)
    if ca is None:
        ca = create_sm2(ca_id)
        save_sm2(ca, base)
    return ca


def sm2_roots_pem(base: Path | None = None) -> list[Path]:
    """Root certificates of the SM2 demo CAs made so far (trusted only in demo mode)."""
    return sorted(sm2_ca_dir(base).glob("*/root.pem"))
