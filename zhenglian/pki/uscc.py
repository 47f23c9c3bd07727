"""统一社会信用代码 (Unified Social Credit Code), GB 32100-2015.

18 characters from a 31-symbol alphabet (digits and capitals without I, O, S,
V, Z):

- 1: registration authority, 2: organisation type,
- 3–8: administrative division code (digits),
- 9–17: organisation code (GB 11714: 8 characters and a check character),
- 18: check character over the first 17, weights 3^i mod 31.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# GB 11714 organisation code: digits and capitals (all 26 letters allowed there).
_ORG_VALUE = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]

# A candidate inside a longer string (some CAs prefix it, e.g. "91…" in CN).
CANDIDATE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")


def check_char(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def is_valid(code: str) -> bool:
    """True when ``code`` is a well-formed USCC with a correct check character.

    The embedded GB 11714 organisation code is checked too where it is the
    classic form (characters 9–16 digits/capitals, 17th its check): codes issued
    since 2015 always satisfy it.
    """
    if len(code) != 18 or any(c not in _VALUE for c in code):
        return False
    if not code[2:8].isdigit():
        return False
    if check_char(code[:17]) != code[17]:
        return False
    return org_code_check_char(code[8:16]) == code[16]


def find_in(text: str) -> str | None:
    """The first valid USCC inside ``text`` (upper-cased), or None."""
    for match in CANDIDATE.finditer(text.upper()):
        if is_valid(match.group(0)):
            return match.group(0)
    return None


def complete(first16: str) -> str:
    """Append both check characters to a 16-character body (used by the demo CA)."""
    body = first16[:8] + first16[8:16]
    with_org = body + org_code_check_char(first16[8:16])
    return with_org + check_char(with_org)
