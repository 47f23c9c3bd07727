"""GB/T 38540 SESeal: build, parse, verify, certificate binding, malformed input."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from asn1crypto import core, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from zhenglian import errors
from zhenglian.seals import ses

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
START = NOW - dt.timedelta(days=1)
END = NOW + dt.timedelta(days=365)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # content is opaque to the structure
NAME = "东莞市𠮷祥·莞城示范制造有限公司合同专用章"  # a non-BMP character and a middle dot


@dataclass
class Holder:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: cx509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def _holder(org: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
            serial: int = 1) -> Holder:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name([cx509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                       cx509.NameAttribute(NameOID.COMMON_NAME, org)])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(START).not_valid_after(END).sign(key, hashes.SHA256()))
    return Holder(key, cert)


@pytest.fixture(scope="module")
def org() -> Holder:
    return _holder("东莞市莞城示范制造有限公司")


@pytest.fixture(scope="module")
def other() -> Holder:
    return _holder("东莞市另一家有限公司", serial=2)


def _build(holder: Holder, certs: list[bytes] | None = None, sign: Callable[[bytes], bytes] | None = None,
           alg: str = ses.OID_SHA256_RSA, name: str = NAME) -> bytes:
    return ses.build_seseal(name, "合同专用章", PNG, 42, 42, certs or [holder.der], START, END,
                            holder.der, sign or holder.sign, alg, created=NOW, es_id="44190020260001")


@pytest.fixture(scope="module")
def seal_der(org: Holder) -> bytes:
    return _build(org)


# --- round trip -------------------------------------------------------------------

def test_round_trip_keeps_every_field(seal_der: bytes, org: Holder) -> None:
    p = ses.parse_seseal(seal_der)
    assert p.name == NAME
    assert p.version == 4 and p.vid == ses.DEFAULT_VID and p.es_id == "44190020260001"
    assert p.kind == ses.SEAL_KIND_ORGANIZATION
    assert p.cert_list_type == ses.CERT_LIST_CERTS and p.certs == (org.der,)
    assert p.picture_type == "PNG" and p.picture == PNG
    assert (p.width_mm, p.height_mm) == (42, 42)
    assert p.signer_cert == org.der
    assert p.sign_alg_oid == ses.OID_SHA256_RSA
    assert p.create_date == NOW.replace(microsecond=0)
    assert (p.valid_start, p.valid_end) == (START.replace(microsecond=0), END.replace(microsecond=0))
    assert p.is_valid_at(NOW) and not p.is_valid_at(END + dt.timedelta(days=1))


def test_name_is_utf8_and_dates_are_generalized_time(seal_der: bytes) -> None:
    assert NAME.encode("utf-8") in seal_der
    info = ses.SESeal.load(seal_der)["eseal_info"]
    assert info["property"]["name"].tag == 12  # UTF8String
    for f in ("create_date", "valid_start", "valid_end"):
        assert info["property"][f].name == "general_time"
    assert info["header"]["id"].native == "ES"


def test_signed_data_is_the_seal_info_as_encoded(seal_der: bytes) -> None:
    p = ses.parse_seseal(seal_der)
    assert p.signed_data == ses.SESeal.load(seal_der)["eseal_info"].dump()
    assert seal_der.find(p.signed_data) > 0


def test_personal_seal_kind() -> None:
    assert ses.kind_for_type("个人印章") == ses.SEAL_KIND_PERSONAL
    assert ses.kind_for_type("公章") == ses.SEAL_KIND_ORGANIZATION
    assert ses.kind_for_type(7) == 7


def test_naive_dates_are_refused(org: Holder) -> None:
    with pytest.raises(ValueError):
        ses.build_seseal(NAME, "公章", PNG, 42, 42, [org.der], START.replace(tzinfo=None), END,
                         org.der, org.sign)


def test_a_seal_must_name_a_certificate(org: Holder) -> None:
    with pytest.raises(ValueError):
        ses.build_seseal(NAME, "公章", PNG, 42, 42, [], START, END, org.der, org.sign)


# --- signature --------------------------------------------------------------------

def test_rsa_signature_verifies(seal_der: bytes) -> None:
    check = ses.verify_seseal(ses.parse_seseal(seal_der))
    assert check.ok and check.status is ses.SignatureStatus.VALID


def _flip(der: bytes, needle: bytes) -> bytes:
    at = der.index(needle) + len(needle) // 2
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1:]


def test_altered_picture_fails_verification(seal_der: bytes) -> None:
    altered = _flip(seal_der, PNG)
    parsed = ses.parse_seseal(altered)  # still well-formed ...
    assert parsed.picture != PNG
    check = ses.verify_seseal(parsed)  # ... but no longer what the maker signed
    assert check.status is ses.SignatureStatus.INVALID and not check.ok


def test_altered_name_fails_verification(seal_der: bytes) -> None:
    altered = _flip(seal_der, "合同专用章".encode())
    assert ses.verify_seseal(ses.parse_seseal(altered)).status is ses.SignatureStatus.INVALID


def test_altered_signature_fails_verification(seal_der: bytes) -> None:
    p = ses.parse_seseal(seal_der)
    altered = _flip(seal_der, p.signature)
    assert ses.verify_seseal(ses.parse_seseal(altered)).status is ses.SignatureStatus.INVALID


def test_signature_by_another_key_fails(org: Holder, other: Holder) -> None:
    der = _build(org, sign=other.sign)  # claims org as maker, signed by someone else
    assert ses.verify_seseal(ses.parse_seseal(der)).status is ses.SignatureStatus.INVALID


@pytest.mark.parametrize("raw", [False, True])
def test_ecdsa_signature_verifies_in_der_and_raw_form(raw: bool) -> None:
    holder = _holder("东莞市椭圆曲线有限公司", ec.generate_private_key(ec.SECP256R1()))

    def sign(data: bytes) -> bytes:
        sig = holder.sign(data)
        if not raw:
            return sig
        r, s = decode_dss_signature(sig)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    der = _build(holder, sign=sign, alg=ses.OID_ECDSA_SHA256)
    assert ses.verify_seseal(ses.parse_seseal(der)).ok
    bad = _flip(der, PNG)
    assert ses.verify_seseal(ses.parse_seseal(bad)).status is ses.SignatureStatus.INVALID


@pytest.fixture(scope="module")
def sm2_maker():  # type: ignore[no-untyped-def]
    """An SM2 seal maker: an SM2 key and its GM/T 0015 certificate from the demo CA."""
    from zhenglian.reference import democa

    ca = democa.create_sm2("gdca")
    name = cx509.Name([cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "东莞市印章制作演示中心")])
    pair = ca.issue_sm2_pair(name, START, END, encryption=False)
    return pair.sign_key, pair.sign_cert.dump()


@pytest.mark.parametrize("oid", [ses.OID_SM2_SM3, ses.OID_SM2_SIGN])
@pytest.mark.parametrize("form", ["der", "raw"])
def test_sm2_seal_verifies_and_tampering_is_caught(org: Holder, sm2_maker, oid: str, form: str,  # type: ignore[no-untyped-def]
                                                   openssl_sm2_verify) -> None:
    from asn1crypto import x509 as ax

    from zhenglian.pki import sm2

    key, maker_der = sm2_maker

    def sign(data: bytes) -> bytes:
        der = key.sign(data)
        return der if form == "der" else sm2.der_to_raw(der)

    der = ses.build_seseal(NAME, "合同专用章", PNG, 42, 42, [org.der], START, END, maker_der, sign, oid,
                           created=NOW, es_id="44190020260009")
    parsed = ses.parse_seseal(der)
    check = ses.verify_seseal(parsed)
    assert check.status is ses.SignatureStatus.VALID and check.ok
    # OpenSSL agrees (the signature over the DER of SES_SealInfo, default ID)
    point = sm2.public_point(ax.Certificate.load(maker_der))
    sig = parsed.signature if form == "der" else sm2.raw_to_der(parsed.signature)
    assert openssl_sm2_verify(point, parsed.signed_data, sig)
    bad = ses.verify_seseal(ses.parse_seseal(_flip(der, PNG)))
    assert bad.status is ses.SignatureStatus.INVALID and not bad.ok


def test_sm2_seal_with_empty_id_or_wrong_key_is_invalid(org: Holder, sm2_maker) -> None:  # type: ignore[no-untyped-def]
    key, maker_der = sm2_maker
    empty = ses.build_seseal(NAME, "合同专用章", PNG, 42, 42, [org.der], START, END, maker_der,
                             lambda data: key.sign(data, b""), ses.OID_SM2_SM3, created=NOW)
    check = ses.verify_seseal(ses.parse_seseal(empty))
    assert check.status is ses.SignatureStatus.INVALID and "empty ID" in check.detail
    # SM2 labelled, but the maker's certificate holds an RSA key
    der = _build(org, sign=lambda data: key.sign(data), alg=ses.OID_SM2_SM3)
    assert ses.verify_seseal(ses.parse_seseal(der)).status is ses.SignatureStatus.INVALID
    # garbage signature values are invalid, not errors
    for junk in (b"\x30\x06\x02\x01\x01\x02\x01\x01", b"\0" * 64, b"", b"\xff" * 200):
        der = ses.build_seseal(NAME, "合同专用章", PNG, 42, 42, [org.der], START, END, maker_der,
                               lambda data, j=junk: j, ses.OID_SM2_SM3, created=NOW)
        assert ses.verify_seseal(ses.parse_seseal(der)).status is ses.SignatureStatus.INVALID


def test_unknown_algorithm_is_reported_not_verifiable_never_valid(org: Holder) -> None:
    der = _build(org, sign=lambda data: b"\x30\x06\x02\x01\x01\x02\x01\x01", alg="1.2.3.4.5")
    check = ses.verify_seseal(ses.parse_seseal(der))
    assert check.status is ses.SignatureStatus.UNSUPPORTED
    assert not check.ok


def test_algorithm_and_key_must_agree(org: Holder) -> None:
    der = _build(org, alg=ses.OID_ECDSA_SHA256)  # RSA signature labelled ECDSA
    assert ses.verify_seseal(ses.parse_seseal(der)).status is ses.SignatureStatus.INVALID


# --- binding to a certificate -----------------------------------------------------

def test_seal_names_its_certificate(seal_der: bytes, org: Holder, other: Holder) -> None:
    p = ses.parse_seseal(seal_der)
    assert ses.seal_names_certificate(p, org.der)
    assert not ses.seal_names_certificate(p, other.der)
    assert ses.match_certificate(p, other.der) is ses.CertMatch.NONE


def test_seal_naming_another_certificate_is_detected(org: Holder, other: Holder) -> None:
    der = _build(org, certs=[other.der])  # made by org, but for other's certificate
    p = ses.parse_seseal(der)
    assert ses.verify_seseal(p).ok
    assert not ses.seal_names_certificate(p, org.der)
    assert ses.seal_names_certificate(p, other.der)


def test_renewed_certificate_with_the_same_key_is_not_a_match(org: Holder) -> None:
    renewed = _holder("东莞市莞城示范制造有限公司", org.key, serial=99)
    p = ses.parse_seseal(_build(org))
    assert ses.match_certificate(p, renewed.der) is ses.CertMatch.SAME_KEY
    assert not ses.seal_names_certificate(p, renewed.der)


def _with_digest_list(holder: Holder, digests: list[tuple[str, bytes]]) -> bytes:
    info = ses.build_seal_info(NAME, "公章", PNG, 42, 42, [holder.der], START, END, created=NOW)
    prop = info["property"]
    prop["cert_list_type"] = ses.CERT_LIST_DIGESTS
    prop["cert_list"] = ses.CertDigestList([{"type": t, "value": v} for t, v in digests])
    return ses.SESeal({"eseal_info": info, "cert": holder.der, "sign_alg_id": ses.OID_SHA256_RSA,
                       "signed_value": holder.sign(info.dump())}).dump()


def test_certificate_digest_list(org: Holder, other: Holder) -> None:
    der = _with_digest_list(org, [("SHA256", hashlib.sha256(org.der).digest())])
    p = ses.parse_seseal(der)
    assert p.cert_list_type == ses.CERT_LIST_DIGESTS and p.certs == ()
    assert ses.verify_seseal(p).ok
    assert ses.seal_names_certificate(p, org.der)
    assert not ses.seal_names_certificate(p, other.der)


def test_certificate_digest_list_sm3(org: Holder) -> None:
    try:
        digest = hashlib.new("sm3", org.der).digest()
    except ValueError:
        pytest.skip("no SM3 in this OpenSSL")
    p = ses.parse_seseal(_with_digest_list(org, [("SM3", digest)]))
    assert ses.seal_names_certificate(p, org.der)


# --- GM/T 0031-2014 (v2) ----------------------------------------------------------

def test_reads_the_older_gmt_0031_layout(org: Holder) -> None:
    utc = lambda d: x509.Time({"utc_time": d.replace(microsecond=0)})  # noqa: E731
    info = ses.SealInfoV2({
        "header": {"id": "ES", "version": 2, "vid": "OLDVENDOR"},
        "es_id": "OLD-1",
        "property": {"type": 1, "name": "东莞市旧版印章有限公司公章", "cert_list": [org.der],
                     "create_date": utc(NOW), "valid_start": utc(START), "valid_end": utc(END)},
        "picture": {"type": "png", "data": PNG, "width": 40, "height": 40},
    })
    der = ses.SESealV2({"eseal_info": info, "sign_info": {
        "cert": org.der, "signature_algorithm": ses.OID_SHA256_RSA, "sign_data": org.sign(info.dump())}}).dump()
    p = ses.parse_seseal(der)
    assert (p.version, p.name, p.picture_type, p.width_mm) == (2, "东莞市旧版印章有限公司公章", "PNG", 40)
    assert ses.verify_seseal(p).ok
    assert ses.seal_names_certificate(p, org.der)


# --- malformed input --------------------------------------------------------------

@pytest.mark.parametrize("case", ["empty", "garbage", "truncated", "trailing", "sequence_of_3",
                                  "not_a_sequence", "wrong_inner_types"])
def test_malformed_der_is_seal_invalid(case: str, seal_der: bytes) -> None:
    data = {
        "empty": b"",
        "garbage": b"this is not DER at all \x00\x01",
        "truncated": seal_der[: len(seal_der) // 2],
        "trailing": seal_der + b"\x00\x00",
        "sequence_of_3": core.Sequence.load(b"\x30\x09\x02\x01\x01\x02\x01\x02\x02\x01\x03").dump(),
        "not_a_sequence": core.OctetString(seal_der).dump(),
        "wrong_inner_types": b"\x30\x0c" + b"\x02\x01\x01" * 4,
    }[case]
    with pytest.raises(errors.SealInvalid) as info:
        ses.parse_seseal(data)
    assert info.value.code == "seal_invalid"
    assert "this is not DER" not in info.value.user_message()  # input never echoed


def test_wrong_header_id_is_seal_invalid(org: Holder) -> None:
    info = ses.build_seal_info(NAME, "公章", PNG, 42, 42, [org.der], START, END)
    info["header"]["id"] = "XX"
    der = ses.SESeal({"eseal_info": info, "cert": org.der, "sign_alg_id": ses.OID_SHA256_RSA,
                      "signed_value": org.sign(info.dump())}).dump()
    with pytest.raises(errors.SealInvalid):
        ses.parse_seseal(der)


def test_unknown_cert_list_type_is_seal_invalid(org: Holder) -> None:
    info = ses.build_seal_info(NAME, "公章", PNG, 42, 42, [org.der], START, END)
    info["property"]["cert_list_type"] = 3
    der = ses.SESeal({"eseal_info": info, "cert": org.der, "sign_alg_id": ses.OID_SHA256_RSA,
                      "signed_value": org.sign(info.dump())}).dump()
    with pytest.raises(errors.SealInvalid):
        ses.parse_seseal(der)


def test_unreadable_maker_certificate_is_invalid_not_a_crash(org: Holder) -> None:
    der = ses.build_seseal(NAME, "公章", PNG, 42, 42, [org.der], START, END, b"\x30\x03\x02\x01\x01", org.sign)
    assert ses.verify_seseal(ses.parse_seseal(der)).status is ses.SignatureStatus.INVALID


# --- seal type from the name ------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("东莞市莞城示范制造有限公司合同专用章", "合同专用章"),
    ("东莞市莞城示范制造有限公司公章", "公章"),
    ("东莞市虎门样例贸易有限公司抵押业务专用章", "抵押业务专用章"),
    ("某银行东莞分行信贷业务专用章", "信贷业务专用章"),
    ("东莞市某某有限公司财务专用章", "财务专用章"),
    ("东莞市某某有限公司", ""),
])
def test_infer_seal_type(name: str, expected: str) -> None:
    assert ses.infer_seal_type(name) == expected
