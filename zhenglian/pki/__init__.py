"""Certificate facts: organisation, 统一社会信用代码, validity, key type; SM2/SM3."""

from zhenglian.pki import asn1fix as _asn1fix
from zhenglian.pki import oids as _oids  # noqa: F401  (registers the SM2/SM3 OIDs with asn1crypto)

_asn1fix.apply()  # asn1crypto re-encoded values whose definite length ends in 0x80 on every dump
