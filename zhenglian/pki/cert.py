"""Parse the facts an operator cares about out of an X.509 certificate.

Chinese CAs put the organisation's 统一社会信用代码 in different subject
fields (serialNumber, OU, CN, O, or a CA-specific OID); we look in all of them,
in that order of preference, and accept only a code whose check digits are
right.  Names are decoded by asn1crypto from whatever string type the CA used
(UTF8String, BMPString, PrintableString …) so Chinese round-trips exactly.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import x509

from zhenglian.pki import uscc

# Subject attributes searched for the USCC, most specific first.
_USCC_FIELDS = ("serial_number", "organizational_unit_name", "common_name", "organization_name")


def days_until(not_after: datetime, now: datetime) -> int:
    """Whole days left, rounded up (23 hours left is "1 day"); negative once expired.

    THE days-left rule of the whole client: the key card, the banner, the tray, the
    reminders and the CLI all count through here, so they never disagree."""
    remaining = (not_after - now) / timedelta(days=1)
    return math.ceil(remaining) if remaining > 0 else math.floor(remaining)


@dataclass(frozen=True)
class CertInfo:
    der: bytes = field(repr=False)
    subject: str
    issuer: str
    issuer_fields: dict[str, str]
    organization: str | None
    common_name: str | None
    uscc: str | None
    serial_hex: str
    not_before: datetime
    not_after: datetime
    key_type: str  # "RSA", "EC", "SM2" …
    key_bits: int
    usage: str  # "signing", "encryption", "both", "unknown"
    key_usage: tuple[str, ...]
    is_ca: bool
    sha256: str

    def days_left(self, now: datetime | None = None) -> int:
        """Whole days left: :func:`days_until` (the one rule the card, the banner and the reminder use)."""
        return days_until(self.not_after, now or datetime.now(UTC))

    def is_valid_at(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.not_before <= now <= self.not_after

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "organization": self.organization,
            "common_name": self.common_name,
            "uscc": self.uscc,
            "serial": self.serial_hex,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "usage": self.usage,
            "key_usage": list(self.key_usage),
            "sha256": self.sha256,
        }


def _values(name: x509.Name, key: str) -> list[str]:
    out: list[str] = []
    for rdn in name.chosen:
        for atv in rdn:
            if atv["type"].native == key or atv["type"].dotted == key:
                value = atv["value"].native
                out.append(value if isinstance(value, str) else str(value))
    return out


def _all_values(name: x509.Name) -> list[str]:
    out = []
    for rdn in name.chosen:
        for atv in rdn:
            value = atv["value"].native
            if isinstance(value, str):
                out.append(value)
    return out


def find_uscc(name: x509.Name) -> str | None:
    for key in _USCC_FIELDS:
        for value in _values(name, key):
            found = uscc.find_in(value)
            if found:
                return found
    # CA-specific OIDs and anything else in the subject.
    for value in _all_values(name):
        found = uscc.find_in(value)
        if found:
            return found
    return None


def _usage(cert: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    ku = cert.key_usage_value
    names = tuple(sorted(ku.native)) if ku is not None else ()
    signs = bool({"digital_signature", "non_repudiation"} & set(names))
    encrypts = bool({"key_encipherment", "data_encipherment", "key_agreement"} & set(names))
    if signs and encrypts:
        return "both", names
    if signs:
        return "signing", names
    if encrypts:
        return "encryption", names
    return ("unknown" if names else "both"), names


def _key_type(cert: x509.Certificate) -> tuple[str, int]:
    pub = cert.public_key
    algo = pub.algorithm
    if algo == "rsa":
        return "RSA", pub.bit_size
    if algo == "ec":
        curve = pub.curve[1] if pub.curve[0] == "named" else "explicit"
        if curve in ("1.2.156.10197.1.301", "sm2p256v1", "sm2"):
            return "SM2", 256
        return "EC", pub.bit_size
    return algo.upper(), pub.bit_size


def _name_fields(name: x509.Name) -> dict[str, str]:
    out: dict[str, str] = {}
    for rdn in name.chosen:
        for atv in rdn:
            value = atv["value"].native
            if isinstance(value, str):
                out.setdefault(atv["type"].native, value)
    return out


def parse(der: bytes) -> CertInfo:
    """Parse a DER certificate.  Raises ValueError on garbage."""
    cert = x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    # Touch the fields now so a malformed certificate fails here, not later.
    subject = cert.subject
    issuer = cert.issuer
    org = _values(subject, "organization_name")
    cn = _values(subject, "common_name")
    usage, ku = _usage(cert)
    key_type, bits = _key_type(cert)
    validity = tbs["validity"]
    return CertInfo(
        der=der,
        subject=subject.human_friendly,
        issuer=issuer.human_friendly,
        issuer_fields=_name_fields(issuer),
        organization=org[0] if org else None,
        common_name=cn[0] if cn else None,
        uscc=find_uscc(subject),
        serial_hex=format(cert.serial_number, "X"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        key_type=key_type,
        key_bits=bits,
        usage=usage,
        key_usage=ku,
        is_ca=bool(cert.ca),
        sha256=hashlib.sha256(der).hexdigest(),
    )


def cryptography_public_key(cert_der: bytes) -> Any:
    """cryptography's public key of a DER certificate, ValueError for any it cannot read.

    cryptography raises ``InvalidVersion``, which is not a ValueError, for a version number out of
    range: one damaged byte in a certificate from a key, a seal or the register got past every
    ``except ValueError`` of its callers.
    """
    from cryptography import x509 as cx509

    try:
        return cx509.load_der_x509_certificate(bytes(cert_der)).public_key()
    except cx509.InvalidVersion as exc:
        raise ValueError(f"certificate version: {exc}") from None
