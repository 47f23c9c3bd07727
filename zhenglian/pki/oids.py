"""SM2/SM3 OIDs registered with asn1crypto (and so with pyHanko), idempotently.

Imported by ``zhenglian.pki`` itself, so any code that touches certificates
reads SM2 keys, SM3 digests and SM2-with-SM3 signatures by name, whatever it
imported first.  asn1crypto only; nothing heavy.

- ``1.2.156.10197.1.401``   sm3
- ``1.2.156.10197.1.501``   sm2_sm3 (SM2 signature with SM3; what we write)
- ``1.2.156.10197.1.301.1`` sm2_sign (seen in old SM2 CMS and seals; read only)
- ``1.2.156.10197.1.301``   the SM2 curve, ``sm2p256v1``
"""

from __future__ import annotations

from typing import Final

from asn1crypto import algos, core, keys

OID_SM3: Final = "1.2.156.10197.1.401"
OID_SM2_SM3: Final = "1.2.156.10197.1.501"
OID_SM2_SIGN: Final = "1.2.156.10197.1.301.1"
OID_SM2_CURVE: Final = "1.2.156.10197.1.301"
CURVE_NAME: Final = "sm2p256v1"
# Names the signature OIDs get in asn1crypto (and so in pyHanko).
SIGNATURE_NAMES: Final = frozenset({"sm2_sm3", "sm2_sign"})


def _register(cls: type[core.ObjectIdentifier], oid: str, name: str) -> None:
    """Add ``oid`` <-> ``name`` to an asn1crypto OID map.

    asn1crypto builds the reverse map (name -> OID, used when writing) lazily
    from ``_map``; if it exists already it is patched too.
    """
    cls._map[oid] = name  # type: ignore[index]
    if cls._reverse_map is not None:
        cls._reverse_map[name] = oid


def register() -> None:
    _register(algos.DigestAlgorithmId, OID_SM3, "sm3")
    _register(algos.SignedDigestAlgorithmId, OID_SM2_SM3, "sm2_sm3")
    _register(algos.SignedDigestAlgorithmId, OID_SM2_SIGN, "sm2_sign")
    if OID_SM2_CURVE not in keys.NamedCurve._map:
        keys.NamedCurve.register(CURVE_NAME, OID_SM2_CURVE, 32)


register()
