"""The electronic seal structure of GB/T 38540-2020 (SESeal v4), and GM/T 0031-2014.

A CA that binds a seal to a key stores it as an ``SESeal``: the seal's
picture and properties (``SES_SealInfo``), signed by the seal maker (制章者)::

    SESeal ::= SEQUENCE {
        esealInfo    SES_SealInfo,
        cert         OCTET STRING,          -- the seal maker's certificate
        signAlgID    OBJECT IDENTIFIER,
        signedValue  BIT STRING }            -- over the DER of esealInfo

    SES_SealInfo ::= SEQUENCE {
        header    SES_Header { ID IA5String "ES", version INTEGER 4, Vid IA5String },
        esID      IA5String,
        property  SES_ESPropertyInfo {
                      type INTEGER, name UTF8String, certListType INTEGER,
                      certList SES_CertList, createDate, validStart, validEnd GeneralizedTime },
        picture   SES_ESPictrueInfo { type IA5String, data OCTET STRING,
                                      width INTEGER, height INTEGER },   -- mm
        extDatas  ExtensionDatas OPTIONAL }

    SES_CertList ::= CHOICE {                -- chosen by certListType
        certs           SEQUENCE OF OCTET STRING,      -- 1: the certificates
        certDigestList  SEQUENCE OF CertDigestObj }    -- 2: their hashes

The certificates in ``certList`` are the *signers'* (签章者): a seal may be
used only with a certificate it lists.  That is what binds the seal to the
institution's certificate on the key, and what :func:`seal_names_certificate`
checks.  The older GM/T 0031-2014 layout (version 2/3: no certListType,
UTCTime dates, signature in a nested ``SES_SignInfo``) is read too, because
keys issued before 2020 still carry it.

The seal maker signs the DER of ``SES_SealInfo`` (as ofdrw and the public
GB/T 38540 verifiers do).  RSA, ECDSA and SM2 signatures are verified here
(SM2 with SM3 and the default ID 1234567812345678, signature DER (r, s) or
r‖s); any other algorithm is reported as "not verifiable here" — never as
valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from asn1crypto import core, x509

from zhenglian import errors

UTC = dt.UTC

SES_ID = "ES"
SES_VERSION = 4
DEFAULT_VID = "ZHENGLIAN"

# property.type (印章类型) as in GM/T 0031 / GB/T 38540: 1 单位印章, 2 个人印章.
SEAL_KIND_ORGANIZATION = 1
SEAL_KIND_PERSONAL = 2

# certListType
CERT_LIST_CERTS = 1
CERT_LIST_DIGESTS = 2

OID_SM2_SM3 = "1.2.156.10197.1.501"
OID_SM2_SIGN = "1.2.156.10197.1.301.1"  # "SM2 signature" as some seal makers write it
_SM2_OIDS = (OID_SM2_SM3, OID_SM2_SIGN)
OID_SHA256_RSA = "1.2.840.113549.1.1.11"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"

_RSA_HASHES = {
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_ECDSA_HASHES = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
# CertDigestObj.type: a hash name (PrintableString); some writers put an OID.
_DIGEST_NAMES = {
    "sm3": "sm3", "1.2.156.10197.1.401": "sm3",
    "sha1": "sha1", "1.3.14.3.2.26": "sha1",
    "sha256": "sha256", "2.16.840.1.101.3.4.2.1": "sha256",
    "sha384": "sha384", "2.16.840.1.101.3.4.2.2": "sha384",
    "sha512": "sha512", "2.16.840.1.101.3.4.2.3": "sha512",
}


# --- ASN.1 -----------------------------------------------------------------

class SESHeader(core.Sequence):
    _fields = [
        ("id", core.IA5String),
        ("version", core.Integer),
        ("vid", core.IA5String),
    ]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields = [
        ("type", core.PrintableString),
        ("value", core.OctetString),
    ]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


class ESPropertyInfo(core.Sequence):
    """v4 property.  ``cert_list`` is a CHOICE of two SEQUENCE OFs with the
    same tag, told apart only by ``cert_list_type``: read it as Any."""

    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", x509.Time),
        ("valid_start", x509.Time),
        ("valid_end", x509.Time),
    ]


class ESPropertyInfoV2(core.Sequence):
    """GM/T 0031-2014 property: certificates only, UTCTime dates."""

    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", CertInfoList),
        ("create_date", x509.Time),
        ("valid_start", x509.Time),
        ("valid_end", x509.Time),
    ]


class ESPictureInfo(core.Sequence):
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class ExtData(core.Sequence):
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SealInfo(core.Sequence):
    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", ESPropertyInfo),
        ("picture", ESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SealInfoV2(core.Sequence):
    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", ESPropertyInfoV2),
        ("picture", ESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("eseal_info", SealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class SignInfoV2(core.Sequence):
    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESealV2(core.Sequence):
    _fields = [
        ("eseal_info", SealInfoV2),
        ("sign_info", SignInfoV2),
    ]


class _Outer(core.SequenceOf):
    """Just the top-level elements, to tell the v4 layout (4) from v2 (2)."""

    _child_spec = core.Any


# --- parsed form -----------------------------------------------------------

@dataclass(frozen=True)
class ParsedSeal:
    """Everything a seal says, in Python types.  ``signed_data`` is the exact
    encoding the signature covers, as found (not re-encoded)."""

    version: int
    vid: str
    es_id: str
    kind: int  # property.type: 1 单位印章, 2 个人印章 …
    name: str
    cert_list_type: int
    certs: tuple[bytes, ...]
    cert_digests: tuple[tuple[str, bytes], ...]
    create_date: dt.datetime
    valid_start: dt.datetime
    valid_end: dt.datetime
    picture_type: str
    picture: bytes = field(repr=False)
    width_mm: int
    height_mm: int
    signer_cert: bytes = field(repr=False)
    sign_alg_oid: str
    signature: bytes = field(repr=False)
    signed_data: bytes = field(repr=False)
    ext_datas: tuple[tuple[str, bool, bytes], ...] = ()

    def is_valid_at(self, when: dt.datetime | None = None) -> bool:
        when = when or dt.datetime.now(UTC)
        return self.valid_start <= when <= self.valid_end


def _time(value: dt.datetime) -> x509.Time:
    """GeneralizedTime in UTC, whole seconds (DER forbids a trailing .0)."""
    if value.tzinfo is None:
        raise ValueError("seal dates must carry a time zone")
    value = value.astimezone(UTC).replace(microsecond=0)
    return x509.Time({"general_time": value})


def kind_for_type(seal_type: str | int) -> int:
    """property.type for a seal type: every institution seal is a 单位印章."""
    if isinstance(seal_type, int):
        return seal_type
    return SEAL_KIND_PERSONAL if seal_type.strip() in ("个人", "个人印章", "个人章", "名章") else SEAL_KIND_ORGANIZATION


def build_seal_info(name: str, seal_type: str | int, png: bytes, width_mm: int, height_mm: int,
                    cert_list_der: Sequence[bytes], valid_start: dt.datetime, valid_end: dt.datetime,
                    *, created: dt.datetime | None = None, es_id: str | None = None,
                    vid: str = DEFAULT_VID, picture_type: str = "PNG") -> SealInfo:
    """The unsigned SES_SealInfo (v4)."""
    if not cert_list_der:
        raise ValueError("a seal must name at least one certificate")
    if not es_id:
        import uuid  # only when a seal is made: the idle tray app reads seal names with this module

        es_id = uuid.uuid4().hex
    return SealInfo({
        "header": {"id": SES_ID, "version": SES_VERSION, "vid": vid},
        "es_id": es_id,
        "property": {
            "type": kind_for_type(seal_type),
            "name": name,
            "cert_list_type": CERT_LIST_CERTS,
            "cert_list": CertInfoList(list(cert_list_der)),
            "create_date": _time(created or dt.datetime.now(UTC)),
            "valid_start": _time(valid_start),
            "valid_end": _time(valid_end),
        },
        "picture": {"type": picture_type, "data": png, "width": int(round(width_mm)),
                    "height": int(round(height_mm))},
    })


def build_seseal(name: str, seal_type: str | int, png: bytes, width_mm: float, height_mm: float,
                 cert_list_der: Sequence[bytes], valid_start: dt.datetime, valid_end: dt.datetime,
                 signer_cert_der: bytes, sign: Callable[[bytes], bytes],
                 sign_alg_oid: str = OID_SHA256_RSA, *, created: dt.datetime | None = None,
                 es_id: str | None = None, vid: str = DEFAULT_VID) -> bytes:
    """A signed SESeal (DER).

    ``sign`` gets the DER of SES_SealInfo and returns the signature value in
    the form ``sign_alg_oid`` defines (PKCS#1 v1.5 for RSA, DER (r, s) for
    ECDSA and SM2); it is a callable so the private key can stay on the key.
    """
    info = build_seal_info(name, seal_type, png, int(round(width_mm)), int(round(height_mm)),
                           cert_list_der, valid_start, valid_end, created=created, es_id=es_id, vid=vid)
    tbs = info.dump()
    signature = sign(tbs)
    return SESeal({
        "eseal_info": info,
        "cert": signer_cert_der,
        "sign_alg_id": sign_alg_oid,
        "signed_value": signature,
    }).dump()


# --- parsing ---------------------------------------------------------------

def _invalid(detail: str) -> errors.SealInvalid:
    return errors.SealInvalid(detail=detail)


def _cert_list(prop: ESPropertyInfo) -> tuple[int, tuple[bytes, ...], tuple[tuple[str, bytes], ...]]:
    kind = prop["cert_list_type"].native
    raw = prop["cert_list"].dump()
    if kind == CERT_LIST_CERTS:
        certs = CertInfoList.load(raw, strict=True)
        return kind, tuple(c.native for c in certs), ()
    if kind == CERT_LIST_DIGESTS:
        digests = CertDigestList.load(raw, strict=True)
        return kind, (), tuple((d["type"].native, d["value"].native) for d in digests)
    raise _invalid(f"certListType {kind}")


def _ext(info: core.Sequence) -> tuple[tuple[str, bool, bytes], ...]:
    exts = info["ext_datas"]
    if isinstance(exts, core.Void):
        return ()
    return tuple((e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].native) for e in exts)


def _parse_v4(der: bytes) -> ParsedSeal:
    seal = SESeal.load(der, strict=True)
    info = seal["eseal_info"]
    prop = info["property"]
    list_type, certs, digests = _cert_list(prop)
    return _parsed(info, prop, list_type, certs, digests, cert=seal["cert"].native,
                   alg=seal["sign_alg_id"].dotted, signature=seal["signed_value"].native)


def _parse_v2(der: bytes) -> ParsedSeal:
    seal = SESealV2.load(der, strict=True)
    info = seal["eseal_info"]
    prop = info["property"]
    certs = tuple(c.native for c in prop["cert_list"])
    sign_info = seal["sign_info"]
    return _parsed(info, prop, CERT_LIST_CERTS, certs, (), cert=sign_info["cert"].native,
                   alg=sign_info["signature_algorithm"].dotted, signature=sign_info["sign_data"].native)


def _parsed(info: core.Sequence, prop: core.Sequence, list_type: int, certs: tuple[bytes, ...],
            digests: tuple[tuple[str, bytes], ...], *, cert: bytes, alg: str, signature: bytes) -> ParsedSeal:
    header = info["header"]
    picture = info["picture"]
    if header["id"].native != SES_ID:
        raise _invalid(f"header ID {header['id'].native!r}")
    return ParsedSeal(
        version=header["version"].native,
        vid=header["vid"].native,
        es_id=info["es_id"].native,
        kind=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=list_type,
        certs=certs,
        cert_digests=digests,
        create_date=prop["create_date"].native,
        valid_start=prop["valid_start"].native,
        valid_end=prop["valid_end"].native,
        picture_type=(picture["type"].native or "").upper(),
        picture=picture["data"].native,
        width_mm=picture["width"].native,
        height_mm=picture["height"].native,
        signer_cert=cert,
        sign_alg_oid=alg,
        signature=signature,
        signed_data=info.dump(),
        ext_datas=_ext(info),
    )


def parse_seseal(der: bytes) -> ParsedSeal:
    """Read an SESeal (GB/T 38540 v4, or GM/T 0031 v2/v3).

    Raises :class:`errors.SealInvalid` for anything that is not one: the
    library's own message is not passed on (it could quote the input).
    """
    try:
        outer = _Outer.load(bytes(der), strict=True)
        count = len(outer)
        if count == 4:
            return _parse_v4(der)
        if count == 2:
            return _parse_v2(der)
        raise _invalid(f"{count} top-level elements, expected 4 (v4) or 2 (v2)")
    except errors.SealInvalid:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise _invalid(f"not an SESeal ({type(exc).__name__})") from None


# --- checks ----------------------------------------------------------------

class SignatureStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNSUPPORTED = "unsupported"  # an algorithm not verifiable here: never "valid"


@dataclass(frozen=True)
class SignatureCheck:
    status: SignatureStatus
    algorithm: str  # dotted OID of signAlgID
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is SignatureStatus.VALID


def verify_seseal(parsed: ParsedSeal) -> SignatureCheck:
    """Check the seal maker's signature over SES_SealInfo.

    This says the seal is intact and made by the holder of ``signer_cert``;
    whether that certificate is trusted is the certificate validator's job.
    """
    oid = parsed.sign_alg_oid
    if oid in _SM2_OIDS:
        return _verify_sm2(parsed)
    if oid not in _RSA_HASHES and oid not in _ECDSA_HASHES:
        return SignatureCheck(SignatureStatus.UNSUPPORTED, oid, "unknown signature algorithm")
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        public_key = _public_key(parsed.signer_cert)
    except UnsupportedAlgorithm:
        return SignatureCheck(SignatureStatus.UNSUPPORTED, oid, "seal maker key type not supported here")
    except ValueError:
        return SignatureCheck(SignatureStatus.INVALID, oid, "seal maker certificate unreadable")
    ok = _verify(public_key, oid, parsed.signature, parsed.signed_data)
    return SignatureCheck(SignatureStatus.VALID if ok else SignatureStatus.INVALID, oid)


def _verify_sm2(parsed: ParsedSeal) -> SignatureCheck:
    from zhenglian.pki import sm2

    oid = parsed.sign_alg_oid
    try:
        cert = x509.Certificate.load(parsed.signer_cert, strict=True)
        is_sm2 = sm2.is_sm2(cert)
        point = sm2.public_point(cert) if is_sm2 else b""
    except (ValueError, TypeError, KeyError):
        return SignatureCheck(SignatureStatus.INVALID, oid, "seal maker certificate unreadable")
    except errors.SM2InvalidPublicKey:
        return SignatureCheck(SignatureStatus.INVALID, oid, "seal maker SM2 public key unusable")
    if not is_sm2:
        return SignatureCheck(SignatureStatus.INVALID, oid, "SM2 signature, but the seal maker key is not SM2")
    signature = parsed.signature
    if len(signature) == 64:  # r‖s, unless it happens to be a short DER (r, s)
        try:
            sm2.der_to_raw(signature)
        except errors.SM2SignatureMalformed:
            try:
                signature = sm2.raw_to_der(signature)
            except errors.SM2SignatureMalformed:
                return SignatureCheck(SignatureStatus.INVALID, oid, "SM2 signature malformed")
    if sm2.verify(point, parsed.signed_data, signature):
        return SignatureCheck(SignatureStatus.VALID, oid)
    if sm2.verify(point, parsed.signed_data, signature, uid=b""):
        return SignatureCheck(SignatureStatus.INVALID, oid, "SM2 signature made with an empty ID")
    return SignatureCheck(SignatureStatus.INVALID, oid)


def _public_key(cert_der: bytes):  # type: ignore[no-untyped-def]
    from zhenglian.pki.cert import cryptography_public_key

    return cryptography_public_key(cert_der)


def _verify(public_key, oid: str, signature: bytes, data: bytes) -> bool:  # type: ignore[no-untyped-def]
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if oid in _RSA_HASHES and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), _hash(oid, _RSA_HASHES))
            return True
        if oid in _ECDSA_HASHES and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(_ecdsa_der(signature), data, ec.ECDSA(_hash(oid, _ECDSA_HASHES)))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False  # algorithm and key type do not agree


def _hash(oid: str, table: dict[str, str]):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import hashes

    return {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
            "sha512": hashes.SHA512}[table[oid]]()


def _ecdsa_der(signature: bytes) -> bytes:
    """ECDSA signatures come DER (r, s) or raw r‖s; accept both."""
    from asn1crypto.algos import DSASignature

    if signature[:1] == b"\x30":
        return signature
    if len(signature) % 2:
        return signature
    return DSASignature.from_p1363(signature).dump()


class CertMatch(StrEnum):
    EXACT = "exact"  # the seal lists this very certificate (or its hash)
    SAME_KEY = "same_key"  # lists another certificate of the same key (e.g. before renewal)
    NONE = "none"


def _digest(name: str, data: bytes) -> bytes | None:
    algo = _DIGEST_NAMES.get(name.strip().lower().replace("-", ""))
    if algo is None:
        return None
    try:
        return hashlib.new(algo, data).digest()
    except ValueError:
        return None  # this OpenSSL has no SM3


def _spki(cert_der: bytes) -> bytes | None:
    try:
        return x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"].dump()
    except (ValueError, TypeError):
        return None


def match_certificate(parsed: ParsedSeal, cert_der: bytes) -> CertMatch:
    """How the seal's certList relates to a certificate.

    The standard's intent is the certificate itself: a verifier compares the
    signer's certificate with the list (or its hash with the digest list).
    A listed certificate with the same public key is reported separately,
    because it usually means the certificate was renewed and the seal was
    not re-bound yet — still not a match.
    """
    if any(c == cert_der for c in parsed.certs):
        return CertMatch.EXACT
    for name, value in parsed.cert_digests:
        if _digest(name, cert_der) == value:
            return CertMatch.EXACT
    key = _spki(cert_der)
    if key is not None and any(_spki(c) == key for c in parsed.certs):
        return CertMatch.SAME_KEY
    return CertMatch.NONE


def seal_names_certificate(parsed: ParsedSeal, cert_der: bytes) -> bool:
    """True if the seal may be used with this certificate (it is in certList)."""
    return match_certificate(parsed, cert_der) is CertMatch.EXACT


# --- seal types from names -------------------------------------------------

def infer_seal_type(name: str, known: Sequence[str] = ()) -> str:
    """The seal type an 印章名称 ends with (…合同专用章 → 合同专用章).

    SESeal has no field for 公章 / 合同专用章; CAs put it in the name.  A name
    ending in another ``…专用章`` gives that purpose; a plain name is taken
    as the 公章 only when it ends in 公章, otherwise the type is unknown ("").
    """
    from zhenglian.seals.render import SEAL_TYPES

    text = name.strip()
    for t in sorted((*SEAL_TYPES, *known), key=len, reverse=True):
        if text.endswith(t):
            return t
    marker = text.rfind("专用章")
    if marker > 0:
        start = max(0, marker - 4)
        for cut in ("公司", "中心", "银行", "局", "部", "所", "院", "会"):
            found = text.rfind(cut, 0, marker)
            if found >= 0:
                start = max(start, found + len(cut))
        return text[start:]
    return ""
