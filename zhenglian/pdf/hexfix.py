"""pyHanko's hex-string reader, read in one go instead of one byte at a time.

pyHanko 0.2x reads a PDF hex string (``<…>``) token by token in Python, one
``stream.read(1)`` per digit.  A signature's ``/Contents`` is such a string, as
large as the room reserved for the CMS (tens of thousands of digits), so every
time a signed PDF is read — the client's check of each signature it just made,
the verifier, the reference server's check of every upload — that loop was the
largest single cost of reading the file (≈ a third of the self-check).

:func:`apply` replaces ``pyhanko.pdf_utils.generic.read_hex_string_from_stream``
with a reader that finds the closing ``>`` in chunks, drops PDF white space and
decodes with :func:`binascii.unhexlify`.  Whatever it does not handle exactly as
pyHanko does — a comment inside the string, a character that is not a hex digit,
a string with no end — is handed back to pyHanko's own reader from the start of
the string, so errors and edge cases stay pyHanko's.  Applied once, when
:mod:`zhenglian.pdf.document` is imported (and by the reference server).
"""

from __future__ import annotations

import binascii
import re
from typing import Any

_PATCHED = "_zhenglian_hex_in_one_go"
_CHUNK = 64 * 1024
_PDF_WHITESPACE = b" \n\r\t\x0c\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
_HEX = re.compile(rb"[0-9A-Fa-f]*")


def _in_one_go(original: Any, pdf_string: Any) -> Any:
    def read_hex_string_from_stream(stream: Any) -> Any:
        start = stream.tell()
        stream.read(1)  # "<"
        body: list[bytes] = []
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break  # no closing ">": pyHanko's reader says so, its way
            end = chunk.find(b">")
            if end < 0:
                body.append(chunk)
                continue
            body.append(chunk[:end])
            text = b"".join(body)
            if b"%" in text:
                break  # a comment: pyHanko skips it (and a ">" inside it)
            digits = text.translate(None, _PDF_WHITESPACE)
            if _HEX.fullmatch(digits) is None:
                break  # pyHanko's error for the first bad character
            stream.seek(start + 1 + len(text) + 1)
            if len(digits) % 2:
                digits += b"0"  # a missing last digit is 0 (ISO 32000-1, 7.3.4.3)
            return pdf_string(binascii.unhexlify(digits))
        stream.seek(start)
        return original(stream)

    setattr(read_hex_string_from_stream, _PATCHED, True)
    read_hex_string_from_stream.__doc__ = original.__doc__
    return read_hex_string_from_stream


def apply() -> None:
    """Idempotent."""
    from pyhanko.pdf_utils import generic

    current = generic.read_hex_string_from_stream
    if not getattr(current, _PATCHED, False):
        generic.read_hex_string_from_stream = _in_one_go(current, generic.pdf_string)


__all__ = ["apply"]
