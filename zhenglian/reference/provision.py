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
    key_algorithm: str = "rsa"  # "rsa" (2048) or "ec" (P-256): SoftHSM offers only raw CKM_ECDSA for EC;
    # "sm2": on the software SM2 PKCS#11 token (libsm2token.so), not SoftHSM (which has no SM2)
    sm2_family: str = "vendor8000"  # the SM2 token's vendor numbering (see docs/sm2.md)


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


# SM2 keys, as SZCA, NETCA and GDCA mostly hand out today: on the SM2 test token, issued by the SM2 demo CA.
SM2_DEMO_KEYS: tuple[DemoKeySpec, ...] = (
    DemoKeySpec(
        ca_id="netca", label="SM2-DEMO", organization="东莞市南城国密示范服务有限公司",
        uscc=_uscc("91441900MA5HM2N3"), uscc_field="serialNumber", days_valid=730,
        user_pin="Sm2@2026demo", seal_names=("合同专用章", "公章"), key_algorithm="sm2",
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


# --- SM2 demo keys on the software SM2 token ------------------------------------------------

def sm2_home(base: Path | None = None) -> Path:
    """``<data_dir>/sm2token``: the module copy (``libsm2token.so``) and its tokens (``tokens/``),
    where ``drivers/sm2token.toml`` finds them."""
    from zhenglian import paths

    return (base or paths.data_dir()) / "sm2token"


def install_sm2_module(base: Path | None = None) -> Path:
    """Build (if needed) and copy libsm2token.so to ``sm2_home()``; NativeBuildError without gcc/libssl-dev."""
    import shutil

    from zhenglian.reference.native import built_module

    home = sm2_home(base)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "libsm2token.so"
    tmp = home / ".libsm2token.so.new"
    shutil.copy2(built_module("sm2token"), tmp)
    os.replace(tmp, target)
    return target


def provision_sm2_key(spec: DemoKeySpec, tokens_dir: Path, ca_base: Path | None = None,
                      now: dt.datetime | None = None, serial: str | None = None) -> ProvisionedKey:
    """One SM2 demo key on the SM2 test token: the SM2 demo CA's chain, the key in the token's files.

    (A real UKey makes its key pair on the chip; the test token is given the software key the
    demo CA made, which is why the seals are kept on the reference server for this key.)
    """
    import hashlib

    from zhenglian.reference import sm2token

    if spec.key_algorithm != "sm2":
        raise ValueError("provision_sm2_key is for SM2 specs")
    ca = democa.load_or_create_sm2(spec.ca_id, ca_base)
    now = now or dt.datetime.now(UTC)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=spec.days_valid)
    pair = ca.issue_sm2_pair(subject_for(spec), start, end, encryption=spec.encryption_cert)
    serial = serial or ("SM2D" + hashlib.sha256(spec.label.encode()).hexdigest()[:8].upper())
    keys = [sm2token.TokenKey(pair.sign_key.pkcs8_pem(), pair.sign_cert.dump(), b"\x01", "签名证书")]  # type: ignore[union-attr]
    if pair.enc_cert is not None and pair.enc_key is not None:
        keys.append(sm2token.TokenKey(pair.enc_key.pkcs8_pem(), pair.enc_cert.dump(), b"\x02", "加密证书"))
    sm2token.add_token(tokens_dir, spec.label, serial, spec.user_pin, spec.so_pin, keys,
                       family=spec.sm2_family, ca_certs=[ca.sub_cert.dump()],
                       data_objects=_sm2_seals(spec, pair, start, end))
    cert = x509.load_der_x509_certificate(pair.sign_cert.dump())
    return ProvisionedKey(spec, serial, cert, [x509.load_der_x509_certificate(c.dump()) for c in ca.chain])


def _sm2_seals(spec: DemoKeySpec, pair, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str, bytes]]:  # type: ignore[no-untyped-def]
    """One SM2-signed GB/T 38540 SESeal per seal name, for the token's data objects.

    The organisation is its own seal maker, as for the SoftHSM demo keys; the SESeal is signed
    SM2-with-SM3 (default ID) with the software key before it is loaded into the test token (a
    real UKey signs through the key seam).  Skipped without the seal font.
    """
    import logging

    from zhenglian.errors import SealFontMissing
    from zhenglian.seals import render, ses
    from zhenglian.tokens import dataobjects

    if not spec.seal_names or pair.sign_key is None:
        return []
    try:
        render.find_font()
    except SealFontMissing as exc:
        logging.getLogger(__name__).warning("SM2 demo seals skipped: %s", exc.message_en())
        return []
    der = pair.sign_cert.dump()
    out = []
    for seal_type in spec.seal_names:
        name = f"{spec.organization}{seal_type}"
        png = render.render_seal_png(spec.organization, seal_type, diameter_mm=42.0)
        seal = ses.build_seseal(name, seal_type, png, 42, 42, [der], start, end, der, pair.sign_key.sign,
                                ses.OID_SM2_SM3)
        out.append((name, dataobjects.SESEAL_APPLICATION, seal))
    return out


def provision_sm2_all(base: Path | None = None, specs: tuple[DemoKeySpec, ...] = SM2_DEMO_KEYS,
                      ca_base: Path | None = None) -> list[ProvisionedKey]:
    """Install the SM2 token module under the data directory and put the SM2 demo keys on it."""
    install_sm2_module(base)
    tokens = sm2_home(base) / "tokens"
    return [provision_sm2_key(spec, tokens, ca_base) for spec in specs]
