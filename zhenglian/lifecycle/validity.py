"""Is a certificate usable for signing right now?

One function for every signer (PDF signing, seals, renewal): a signature made
with an expired or not-yet-valid certificate is worthless, and asking for the
PIN first would spend a try for nothing.  So callers run this *before* any
PIN prompt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from zhenglian import errors


class _HasValidity(Protocol):
    not_before: datetime
    not_after: datetime


def _local(when: datetime) -> str:
    """A date and minute in the computer's time zone (the user reads it)."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def check_usable(cert_info: _HasValidity, now: datetime | None = None) -> None:
    """Raise CertificateExpired / CertificateNotYetValid unless valid at ``now``.

    ``cert_info`` is a :class:`zhenglian.pki.cert.CertInfo` (anything with
    aware ``not_before`` / ``not_after``).  ``now`` defaults to the current
    time; pass it to test or to check a signing time in the past.
    """
    now = now or datetime.now(UTC)
    if now < cert_info.not_before:
        raise errors.CertificateNotYetValid(not_before=_local(cert_info.not_before))
    if now > cert_info.not_after:
        raise errors.CertificateExpired(not_after=_local(cert_info.not_after))
