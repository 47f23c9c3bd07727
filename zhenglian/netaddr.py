"""One rule for network addresses: plain http only to this machine.

The signing server and the CA's renewal service (EST, RFC 7030 asks for TLS) carry
logins, signed documents and certificate requests, so a remote address must use
HTTPS; http is accepted for 127.0.0.1, ::1 and localhost, where the tests, the demo
and a local reference server run.  A time-stamp authority is exempt: its answers are
signed, and many public TSAs only speak http.  No third-party imports here: the
deployment defaults are read before the tray icon shows, and ``ipaddress`` is imported
only for an http address (the usual https one never needs it).
"""

from __future__ import annotations

import urllib.parse

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (``host`` lower-case, without brackets)."""
    if host in _LOOPBACK_NAMES:
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_to_another_machine(url: str) -> bool:
    """True when ``url`` is ``http://`` to a host other than this machine (to be refused).

    A malformed address (an unmatched IPv6 bracket) names no host of this machine: refused when
    it is http, and left to the caller's own check otherwise (never a ValueError here)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return url.strip().lower().startswith("http:")
    return parts.scheme.lower() == "http" and not is_loopback((parts.hostname or "").lower())
