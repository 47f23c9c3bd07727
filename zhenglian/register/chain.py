"""The hash chain: how an entry's hash is made from its number, its predecessor and its body.

``hash(n) = SHA-256("zhenglian-register/1\\n" || n || "\\n" || hash(n-1) || "\\n" || body(n))``
with ``hash(0)`` = 64 zeros and ``body`` the canonical JSON of the entry's fields
(:func:`zhenglian.register.model.canonical_json`).  Changing any byte of any
entry — its number, its link or its body — changes its hash, and so breaks
the link of the entry after it; deleting an entry leaves a gap in the numbers.
"""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64
DOMAIN = b"zhenglian-register/1\n"
ANCHOR_DOMAIN = b"zhenglian-register-anchor/1\n"


def entry_hash(seq: int, prev_hash: str, body: str) -> str:
    h = hashlib.sha256(DOMAIN)
    h.update(f"{seq}\n{prev_hash}\n".encode("ascii"))
    h.update(body.encode("utf-8"))
    return h.hexdigest()


def anchor_message(register_id: str, seq: int, head_hash: str) -> bytes:
    """The bytes the key signs to anchor the chain: this register, this entry, this hash."""
    return ANCHOR_DOMAIN + f"{register_id}\n{seq}\n{head_hash}\n".encode("ascii")
