"""SM2 (GB/T 32918) signature verification and SM3 (GB/T 32905) hashing.

One small module every SM2 user in the client shares: the token layer (to
check a signature before it is embedded), the PDF validator and the seal
verifier.  The curve arithmetic comes from python-``ecdsa`` (MIT, pure Python,
Jacobian coordinates with a precomputed generator: about 4 ms per check;
``gmalg``, also evaluated, needs about 110 ms); SM3 comes from
``cryptography`` (OpenSSL's C code: PDFs are big).

The SM2/SM3 OIDs are registered with asn1crypto by ``zhenglian.pki.oids``
(imported with the package), so SM2 certificates, public keys and CMS
structures parse everywhere.

An SM2 signature is e = SM3(Z ‖ M) signed, Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖
yG ‖ xA ‖ yA), with the default ID ``1234567812345678`` (GM/T 0009).
"""

from __future__ import annotations

from typing import Final

from asn1crypto import algos, keys, x509
from cryptography.hazmat.primitives import hashes
from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

from zhenglian.errors import SM2InvalidPublicKey, SM2SignatureMalformed
from zhenglian.pki.oids import (  # noqa: F401  (re-exported: one place to import SM2 names from)
    CURVE_NAME,
    OID_SM2_CURVE,
    OID_SM2_SIGN,
    OID_SM2_SM3,
    OID_SM3,
    SIGNATURE_NAMES,
)

DEFAULT_ID: Final = b"1234567812345678"

# The recommended curve (GB/T 32918.5-2017).
P: Final = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A: Final = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B: Final = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
N: Final = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
G: Final = (0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
            0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0)
CURVE: Final = CurveFp(P, A, B, 1)
GENERATOR: Final = PointJacobi(CURVE, G[0], G[1], 1, N, generator=True)


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _public_key_info(obj: x509.Certificate | keys.PublicKeyInfo) -> keys.PublicKeyInfo:
    if isinstance(obj, x509.Certificate):
        return obj["tbs_certificate"]["subject_public_key_info"]
    return obj


def is_sm2(obj: x509.Certificate | keys.PublicKeyInfo) -> bool:
    """True when the key (of a certificate) is on the SM2 curve."""
    info = _public_key_info(obj)
    alg = info["algorithm"]
    if alg["algorithm"].dotted != "1.2.840.10045.2.1":  # id-ecPublicKey
        return False
    params = alg["parameters"]
    return params.name == "named" and params.chosen.dotted == OID_SM2_CURVE


def _check_point(point: bytes) -> tuple[int, int]:
    if len(point) != 65 or point[0] != 4:
        raise SM2InvalidPublicKey(detail=f"{len(point)} bytes")
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:], "big")
    # The cofactor is 1: on the curve and not infinity is all there is to check.
    if x >= P or y >= P or not CURVE.contains_point(x, y):
        raise SM2InvalidPublicKey(detail="point not on the SM2 curve")
    return x, y


def public_point(obj: x509.Certificate | keys.PublicKeyInfo) -> bytes:
    """The 65-byte uncompressed point 04 ‖ x ‖ y of an SM2 key."""
    if not is_sm2(obj):
        raise SM2InvalidPublicKey(detail="not an SM2 key")
    raw = bytes(_public_key_info(obj)["public_key"])
    if len(raw) == 33 and raw[0] in (2, 3):  # compressed: rare, but legal
        raw = _decompress(raw)
    _check_point(raw)
    return raw


def _decompress(raw: bytes) -> bytes:
    x = int.from_bytes(raw[1:], "big")
    if x >= P:
        raise SM2InvalidPublicKey(detail="compressed point not on the SM2 curve")
    y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)  # p = 3 (mod 4)
    if (y * y - (x * x * x + A * x + B)) % P:
        raise SM2InvalidPublicKey(detail="compressed point not on the SM2 curve")
    if y & 1 != raw[0] & 1:
        y = P - y
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def z_value(point: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)."""
    _check_point(point)
    if len(uid) * 8 > 0xFFFF:
        raise SM2InvalidPublicKey(detail="ID longer than 8191 bytes")
    return sm3(
        (len(uid) * 8).to_bytes(2, "big") + uid
        + b"".join(v.to_bytes(32, "big") for v in (A, B, G[0], G[1]))
        + point[1:]
    )


def e_value(point: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z ‖ M): the 32 bytes an SM2 "sign the hash" operation takes."""
    h = hashes.Hash(hashes.SM3())
    h.update(z_value(point, uid))
    h.update(message)
    return h.finalize()


def der_to_raw(signature: bytes) -> bytes:
    """DER SEQUENCE { r, s } -> 64 bytes r ‖ s; strict DER, 1 <= r, s < n."""
    try:
        seq = algos.DSASignature.load(bytes(signature), strict=True)
        r, s = seq["r"].native, seq["s"].native
        canonical = algos.DSASignature({"r": r, "s": s}).dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise SM2SignatureMalformed(detail="not a DER SEQUENCE of two INTEGERs") from exc
    if canonical != bytes(signature):
        raise SM2SignatureMalformed(detail="not canonical DER")
    _check_rs(r, s)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_to_der(rs: bytes) -> bytes:
    """64 bytes r ‖ s -> DER SEQUENCE { r, s }."""
    if len(rs) != 64:
        raise SM2SignatureMalformed(detail=f"{len(rs)} bytes, expected 64")
    r = int.from_bytes(rs[:32], "big")
    s = int.from_bytes(rs[32:], "big")
    _check_rs(r, s)
    return algos.DSASignature({"r": r, "s": s}).dump()


def _check_rs(r: object, s: object) -> None:
    if not (isinstance(r, int) and isinstance(s, int) and 1 <= r < N and 1 <= s < N):
        raise SM2SignatureMalformed(detail="r or s out of range")


def verify_digest(point: bytes, e: bytes, signature_der: bytes) -> bool:
    """Check an SM2 signature over e = SM3(Z ‖ M) (GB/T 32918.2, 7.1).

    False for any signature that does not verify, including a malformed
    one; an unusable public key raises :class:`SM2InvalidPublicKey`.
    """
    pk = _check_point(point)
    if len(e) != 32:
        return False
    try:
        rs = der_to_raw(signature_der)
    except SM2SignatureMalformed:
        return False
    r = int.from_bytes(rs[:32], "big")
    s = int.from_bytes(rs[32:], "big")
    t = (r + s) % N
    if t == 0:
        return False
    # (x1, y1) = [s]G + [t]PA (Shamir's trick)
    x1y1 = GENERATOR.mul_add(s, PointJacobi(CURVE, pk[0], pk[1], 1, N), t)
    if x1y1 == INFINITY:
        return False
    return (int.from_bytes(e, "big") + x1y1.x()) % N == r


def verify(point: bytes, message: bytes, signature_der: bytes, uid: bytes = DEFAULT_ID) -> bool:
    """Check an SM2 signature (DER) over ``message`` with user ID ``uid``."""
    return verify_digest(point, e_value(point, message, uid), signature_der)
