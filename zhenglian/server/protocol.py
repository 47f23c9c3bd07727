"""Protocol constants and the exact login bytes (docs/server-api.md).

The server side has its own copy (zhenglian.reference.server.pki, which the
client never imports); a test keeps the two byte-for-byte identical.
"""

from __future__ import annotations

import json

API_PREFIX = "/api/v1"
LOGIN_PURPOSE = "zhenglian-login-v1"
RSA_ALGORITHM = "rsa_pkcs1v15_sha256"
EC_ALGORITHM = "ecdsa_sha256"
SM2_ALGORITHM = "sm2_sm3"  # SM2 with SM3, default ID 1234567812345678, DER (r, s)


def challenge_bytes(nonce: str, origin: str, expires_at: int) -> bytes:
    """What the key signs to log in: canonical JSON (sorted keys, no spaces, ASCII), UTF-8."""
    doc = {"expires_at": int(expires_at), "nonce": nonce, "origin": origin, "purpose": LOGIN_PURPOSE}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


MAX_CONTENT_LENGTH_DIGITS = 18  # a Content-Length of more digits is refused, not parsed


def content_length(value: str) -> int | None:
    """A Content-Length header's value; None unless it is 1 to 18 ASCII digits.

    ``str.isdigit`` alone is not enough: it is true of '²' or '١', which ``int`` then refuses or
    reads, while HTTP allows only ASCII digits (RFC 9110 §8.6); the length bound keeps ``int`` cheap.
    """
    value = value.strip(" \t")
    if not value or len(value) > MAX_CONTENT_LENGTH_DIGITS or not value.isascii() or not value.isdigit():
        return None
    return int(value)
