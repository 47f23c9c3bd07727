import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from zhenglian.pki import cert as certmod

USCC = "914403001922038216"
ORG = "东莞市𠀀测试（集团）有限公司·分公司"  # includes a character outside the BMP


def _make(subject: list[x509.NameAttribute], key_usage: x509.KeyUsage | None = None, key=None,
          days: int = 30) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NETCA SM2 ID CA")]))
        .public_key(key.public_key())
        .serial_number(0x1234ABCD)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if key_usage:
        b = b.add_extension(key_usage, critical=True)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


SIGN = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
ENC = x509.KeyUsage(False, False, True, True, False, False, False, False, False)


@pytest.mark.parametrize("string_type", [_ASN1Type.UTF8String, _ASN1Type.BMPString, _ASN1Type.UniversalString])
def test_chinese_organisation_round_trips_exactly(string_type) -> None:
    der = _make([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG, _type=string_type),
        x509.NameAttribute(NameOID.COMMON_NAME, ORG, _type=string_type),
    ], SIGN)
    info = certmod.parse(der)
    assert info.organization == ORG
    assert info.common_name == ORG


@pytest.mark.parametrize(
    "attrs",
    [
        [x509.NameAttribute(NameOID.SERIAL_NUMBER, USCC)],
        [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, USCC)],
        [x509.NameAttribute(NameOID.COMMON_NAME, f"东莞某公司@{USCC}")],
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{USCC}")],
        [x509.NameAttribute(ObjectIdentifier("1.2.156.10260.4.1.4"), f"统一社会信用代码:{USCC}")],
    ],
    ids=["serialNumber", "OU", "CN-suffix", "O", "CA-specific-OID"],
)
def test_uscc_found_in_every_field_cas_use(attrs) -> None:
    if attrs[0].oid != NameOID.ORGANIZATION_NAME:
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG), *attrs]
    der = _make(attrs, SIGN)
    assert certmod.parse(der).uscc == USCC


def test_invalid_check_digit_is_not_taken_for_a_uscc() -> None:
    der = _make([x509.NameAttribute(NameOID.SERIAL_NUMBER, USCC[:17] + "7"),
                 x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    assert certmod.parse(der).uscc is None


def test_serial_number_field_preferred_over_cn() -> None:
    other = "91440300708461136T"
    der = _make([x509.NameAttribute(NameOID.COMMON_NAME, other), x509.NameAttribute(NameOID.SERIAL_NUMBER, USCC)])
    assert certmod.parse(der).uscc == USCC


def test_key_usage_signing_vs_encryption_and_key_facts() -> None:
    rsa_key = rsa.generate_private_key(65537, 2048)
    s = certmod.parse(_make([x509.NameAttribute(NameOID.COMMON_NAME, "a")], SIGN, rsa_key))
    e = certmod.parse(_make([x509.NameAttribute(NameOID.COMMON_NAME, "a")], ENC))
    assert (s.usage, s.key_type, s.key_bits) == ("signing", "RSA", 2048)
    assert (e.usage, e.key_type, e.key_bits) == ("encryption", "EC", 256)
    assert s.serial_hex == "1234ABCD"
    assert s.issuer_fields["common_name"] == "NETCA SM2 ID CA"


def test_validity_and_days_left() -> None:
    info = certmod.parse(_make([x509.NameAttribute(NameOID.COMMON_NAME, "a")], days=30))
    assert info.days_left() in (29, 30)
    assert info.is_valid_at()
    assert not info.is_valid_at(info.not_after + dt.timedelta(seconds=1))


def test_garbage_raises_value_error() -> None:
    with pytest.raises(ValueError):
        certmod.parse(b"\x30\x03\x02\x01\x00")
