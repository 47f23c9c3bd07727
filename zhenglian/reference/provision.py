"""Provision SoftHSM keys that look like each CA's real keys.

Used by ``zhenglian demo init`` and by the test fixtures (same code).  On each
key: the organisation's signing key pair is generated *on the key*, the demo
CA issues its certificate (Chinese organisation name, valid 统一社会信用代码),
and the issuing CA certificate is stored beside it, as real keys do.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from zhenglian.pki import uscc
from zhenglian.reference import democa, softhsm

UTC = dt.UTC

DEMO_SO_PIN = "SoPin@2026"


@dataclass(frozen=True)
class DemoKeySpec:
    ca_id: str
    label: str
    organization: str
    uscc: str
    # Where this CA puts the USCC in the subject: "serialNumber", "OU" or "CN".
    uscc_field: str
    days_valid: int
    user_pin: str
    so_pin: str = DEMO_SO_PIN
    encryption_cert: bool = False
    seal_names: tuple[str, ...] = field(default=())
    key_algorithm: str = "rsa"  # "rsa" (2048) or "ec" (P-256): SoftHSM offers only raw CKM_ECDSA for EC


def _uscc(body: str) -> str:
    code = uscc.complete(body)
    assert uscc.is_valid(code)
    return code


# Three keys, one per CA, as an operator in Dongguan might hold them.
DEMO_KEYS: tuple[DemoKeySpec, ...] = (
    DemoKeySpec(
        ca_id="netca", label="NETCA-DEMO", organization="东莞市莞城示范制造有限公司",
        uscc=_uscc("91441900MA4W1A2B"), uscc_field="serialNumber", days_valid=730,
        user_pin="12345678",  # NETCA's published factory PIN: the client asks to change it
        encryption_cert=True, seal_names=("合同专用章",),
    ),
    DemoKeySpec(
        ca_id="szca", label="SZCA-DEMO", organization="东莞市松山湖演示科技有限公司",
        uscc=_uscc("91441900MA51C3D4"), uscc_field="OU", days_valid=365,
        user_pin="Szca@2026demo", seal_names=("公章", "合同专用章"),
    ),
    DemoKeySpec(
        ca_id="gdca", label="GDCA-DEMO", organization="东莞市虎门样例贸易有限公司",
        uscc=_uscc("91441900MA5EF6G7"), uscc_field="CN", days_valid=25,
        user_pin="Gdca@2026demo", seal_names=("抵押业务专用章",),
    ),
)


def subject_for(spec: DemoKeySpec) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "广东省"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "东莞市"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organization),
    ]
    if spec.uscc_field == "OU":
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, spec.uscc))
    if spec.uscc_field == "serialNumber":
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, spec.uscc))
    cn = f"{spec.organization}@{spec.uscc}" if spec.uscc_field == "CN" else spec.organization
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def ensure_conf(conf: Path) -> Path:
    """Point this process at ``conf`` before SoftHSM is loaded."""
    if not conf.exists():
        softhsm.write_conf(conf)
    current = os.environ.get("SOFTHSM2_CONF")
    if current and Path(current).resolve() != conf.resolve():
        raise RuntimeError(f"SOFTHSM2_CONF is already {current}, cannot switch to {conf} in this process")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return conf


@dataclass
class ProvisionedKey:
    spec: DemoKeySpec
    serial: str
    certificate: x509.Certificate
    chain: list[x509.Certificate]


def _open_lib():  # type: ignore[no-untyped-def]
    import pkcs11

    lib = pkcs11.lib(str(softhsm.module_path()))
    lib.reinitialize()  # see tokens made by softhsm2-util just now
    return lib


def _store_cert(session, cert: x509.Certificate, cka_id: bytes, label: str) -> None:  # type: ignore[no-untyped-def]
    from pkcs11 import Attribute, CertificateType, ObjectClass

    session.create_object({
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.LABEL: label,
        Attribute.ID: cka_id,
        Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
        Attribute.SUBJECT: cert.subject.public_bytes(),
        Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(20, "big").lstrip(b"\0") or b"\0",
    })


def _gen_keypair(session, cka_id: bytes, label: str, usage: str, algorithm: str = "rsa"):  # type: ignore[no-untyped-def]
    from pkcs11 import Attribute, KeyType

    sign = usage == "signing"
    if algorithm == "ec":
        from cryptography.hazmat.primitives.asymmetric import ec
        from pkcs11.util.ec import encode_named_curve_parameters

        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        pub, _priv = params.generate_keypair(
            id=cka_id, label=label, store=True,
            public_template={Attribute.VERIFY: sign},
            private_template={Attribute.SIGN: sign, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                              Attribute.EXTRACTABLE: False})
        from asn1crypto import core

        point = core.OctetString.load(bytes(pub[Attribute.EC_POINT])).native
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    pub, _priv = session.generate_keypair(
        KeyType.RSA, 2048, id=cka_id, label=label, store=True,
        public_template={Attribute.VERIFY: sign, Attribute.ENCRYPT: not sign, Attribute.WRAP: not sign,
                         Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
        private_template={Attribute.SIGN: sign, Attribute.DECRYPT: not sign, Attribute.UNWRAP: not sign,
                          Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
    )
    modulus = int.from_bytes(bytes(pub[Attribute.MODULUS]), "big")
    exponent = int.from_bytes(bytes(pub[Attribute.PUBLIC_EXPONENT]), "big")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def _store_seals(session, spec: DemoKeySpec, cert: x509.Certificate,  # type: ignore[no-untyped-def]
                 start: dt.datetime, end: dt.datetime) -> None:
    """One SESeal per ``spec.seal_names``, signed on the key by the organisation's key.

    The organisation is its own seal maker here; a real CA signs with its
    seal-making certificate.  The seal is valid exactly as long as the certificate.
    """
    import logging

    from pkcs11 import Mechanism, ObjectClass

    from zhenglian.errors import SealFontMissing
    from zhenglian.seals import render, ses
    from zhenglian.tokens import dataobjects

    if not spec.seal_names:
        return
    try:
        render.find_font()
    except SealFontMissing as exc:  # a key without seals beats no demo key at all
        logging.getLogger(__name__).warning("demo seals skipped: %s", exc.message_en())
        return
    der = cert.public_bytes(serialization.Encoding.DER)
    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=b"\x01")
    for seal_type in spec.seal_names:
        name = f"{spec.organization}{seal_type}"
        png = render.render_seal_png(spec.organization, seal_type, diameter_mm=42.0)
        seal = ses.build_seseal(
            name, seal_type, png, 42, 42, [der], start, end, der,
            lambda data: bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)),
            ses.OID_SHA256_RSA,
        )
        dataobjects.store_seseal(session, seal, name)


def provision_key(spec: DemoKeySpec, conf: Path, ca_base: Path | None = None,
                  now: dt.datetime | None = None, not_before: dt.datetime | None = None) -> ProvisionedKey:
    """Create one demo key in SoftHSM: token, key pair on the key, certificates."""
    ensure_conf(conf)
    ca = democa.load_or_create(spec.ca_id, ca_base)
    softhsm.init_token(conf, spec.label, spec.so_pin, spec.user_pin)
    lib = _open_lib()
    token = lib.get_token(token_label=spec.label)
    now = now or dt.datetime.now(UTC)
    start = not_before or (now - dt.timedelta(days=1))
    end = now + dt.timedelta(days=spec.days_valid)
    subject = subject_for(spec)
    with token.open(rw=True, user_pin=spec.user_pin) as session:
        pub = _gen_keypair(session, b"\x01", "sign", "signing", spec.key_algorithm)
        cert = ca.issue(subject, pub, start, end, "signing")
        _store_cert(session, cert, b"\x01", "sign")
        if spec.encryption_cert:
            enc_pub = _gen_keypair(session, b"\x02", "enc", "encryption")
            _store_cert(session, ca.issue(subject, enc_pub, start, end, "encryption"), b"\x02", "enc")
        _store_cert(session, ca.sub_cert, b"\xca\x01", "CA")
        _store_seals(session, spec, cert, start, end)
    return ProvisionedKey(spec, str(token.serial.decode().strip()), cert, ca.chain)


def provision_all(conf: Path, specs: tuple[DemoKeySpec, ...] = DEMO_KEYS,
                  ca_base: Path | None = None) -> list[ProvisionedKey]:
    return [provision_key(s, conf, ca_base) for s in specs]
