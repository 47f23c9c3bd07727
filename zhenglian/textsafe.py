"""Text from outside (a server, a page, a driver), made safe to print on a terminal.

A task title is the server's text; printed raw, ``\\x1b]0;…\\x07`` sets the
terminal's title, ``\\x1b[2J`` clears the screen, a C1 ``\\x9b`` is a CSI on
some terminals, U+202E turns the rest of the line around, and a newline
forges a line of its own.  :func:`terminal_safe` shows every such character
as a visible escape (``\\x1b``, ``\\u202e``) instead: the operator sees that
something odd was sent, and nothing acts on it.  Every CLI print goes
through it (``zhenglian.cli.output``).

Qt-free; the GUI shows server text as plain text (never rich text) instead.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# Control (C0, DEL, C1), format (bidi overrides and isolates, zero-width, BOM…),
# surrogates, and the line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def terminal_safe(text: Any, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """``text`` with every control, format or separator character shown as an escape.

    ``keep_newlines``: ``\\n`` stays (for our own multi-line messages; never
    for a single server value, where a newline would forge a line).  Tabs
    stay.  ``limit``: at most that many characters of the input, then ``…``.
    """
    s = "" if text is None else str(text)
    cut = limit is not None and len(s) > limit
    if cut:
        s = s[:limit]
    out = []
    for ch in s:
        if ch == "\t" or (ch == "\n" and keep_newlines) or not is_unsafe(ch):
            out.append(ch)
        else:
            out.append(_escape(ch))
    return "".join(out) + ("…" if cut else "")


def json_text_safe(json_text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with the unsafe characters that JSON leaves raw
    (DEL, C1, format characters, U+2028/2029) written as ``\\uXXXX`` escapes: the same JSON, safe to print.

    Outside strings JSON text holds only ASCII punctuation and whitespace, so
    every such character is inside a string, where the escape means itself.
    """
    out = []
    for ch in json_text:
        if ch in "\n\r\t" or not is_unsafe(ch):
            out.append(ch)
            continue
        n = ord(ch)
        if n >= 0x10000:  # a surrogate pair, as JSON spells characters beyond the BMP
            n -= 0x10000
            out.append(f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}")
        else:
            out.append(f"\\u{n:04x}")
    return "".join(out)
