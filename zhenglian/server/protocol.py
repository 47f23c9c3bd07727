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
