"""Certificate facts: organisation, 统一社会信用代码, validity, key type; SM2/SM3."""

from zhenglian.pki import asn1fix as _asn1fix
from zhenglian.pki import namecmp as _namecmp
from zhenglian.pki import oids as _oids  # noqa: F401  (registers the SM2/SM3 OIDs with asn1crypto)

_asn1fix.apply()  # asn1crypto re-encoded values whose definite length ends in 0x80 on every dump
_namecmp.apply()  # certificate names prepared (RFC 4518) once per distinct name, not per comparison

import asn1crypto.cms  # noqa: E402, F401 - every asn1crypto module the client parses with, loaded so
import asn1crypto.crl  # noqa: E402, F401   settle() can build their classes' tables now
import asn1crypto.ocsp  # noqa: E402, F401
import asn1crypto.tsp  # noqa: E402, F401
import asn1crypto.x509  # noqa: E402, F401

from zhenglian.pki import asn1settle as _asn1settle  # noqa: E402

_asn1settle.settle()  # asn1crypto's lazy per-class tables, built now on one thread (not racing in workers)
