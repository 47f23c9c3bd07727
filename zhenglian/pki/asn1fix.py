"""A narrow correction of asn1crypto 1.5.1's "indefinite length" test in ``dump()``.

asn1crypto decides that a parsed value had an *indefinite* (BER) length when the last byte of
its header is 0x80, and then re-encodes the whole value from its native form, every time it is
dumped.  A definite long-form length whose last octet is 0x80 (``81 80`` = 128 bytes,
``82 01 80`` = 384 …) matches too.  pyHanko wraps the signer's issuer name in a ``GeneralNames``
for signing-certificate-v2; when that issuer name is 126 bytes long (as the demo SM2 CA's is, and
as a real CA's may be), ``GeneralNames`` is ``30 81 80 …`` and the name is rebuilt from Python
strings hundreds of times per signature: ≈30 ms per document (docs/sm2.md, "Speed").

Here the test is made exact: a header whose length octets really are the single byte 0x80 still
forces re-encoding (BER to DER, as asn1crypto intends); for any other header the library's
normal path runs, with the header recomputed from the unchanged contents (identical bytes for DER
input).

A second correction, in the same place: ``Asn1Value.dump()`` read ``self.contents`` up to three
times (once for the value, once for its header, once per explicit tag).  For a structure built
from Python values that property re-encodes the whole structure each time, and each child's dump
does the same, so the work doubled at every level: pyHanko's signed attributes (seven levels deep)
took ≈ 25 ms to encode once.  :func:`_dump_contents_once` is the same method reading it once —
the bytes are the same, the re-encoding is deterministic.

Applied once, when :mod:`zhenglian.pki` is imported (with the OID registrations).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PATCHED = "_zhenglian_exact_indefinite"


def ends_indefinite(header: bytes) -> bool:
    """True when the last TLV header in ``header`` (outer explicit tags first) has the
    indefinite length octet 0x80; unparseable input counts as indefinite (the library's view)."""
    pos, n, last_indefinite = 0, len(header), False
    while pos < n:
        first = header[pos]
        pos += 1
        if first & 0x1F == 0x1F:  # high tag number: continuation bytes
            while pos < n and header[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= n:
            return True
        length = header[pos]
        pos += 1
        last_indefinite = length == 0x80
        if length > 0x80:
            pos += length & 0x7F
    return last_indefinite if pos == n else True


def _exact(dump: Callable[..., bytes]) -> Callable[..., bytes]:
    def exact_dump(self: Any, force: bool = False) -> bytes:
        header = self._header
        if not force and header is not None and header[-1:] == b"\x80" and not ends_indefinite(header):
            self._header = None  # a definite length that merely ends in 0x80: recompute the header only
        return dump(self, force)

    setattr(exact_dump, _PATCHED, True)
    exact_dump.__doc__ = dump.__doc__
    return exact_dump


def _dump_contents_once(self: Any, force: bool = False) -> bytes:
    """asn1crypto 1.5.1's ``Asn1Value.dump``, with ``self.contents`` read once (see above)."""
    from asn1crypto.core import Constructable
    from asn1crypto.parser import _dump_header

    contents = self.contents
    # If the length is indefinite, force the re-encoding
    if self._header is not None and self._header[-1:] == b"\x80":
        force = True
    if self._header is None or force:
        if isinstance(self, Constructable) and self._indefinite:
            self.method = 0
            contents = self.contents  # as the library reads it after the change of method
        header = _dump_header(self.class_, self.method, self.tag, contents)
        if self.explicit is not None:
            for class_, tag in self.explicit:
                header = _dump_header(class_, 1, tag, header + contents) + header
        self._header = header
        self._trailer = b""
    return self._header + contents + self._trailer


ORIGINAL_DUMP: Callable[..., bytes] | None = None  # asn1crypto's own Asn1Value.dump (tests compare)


def apply() -> None:
    """Idempotent."""
    global ORIGINAL_DUMP
    from asn1crypto import core

    own = core.Asn1Value.__dict__["dump"]
    if not getattr(own, _PATCHED, False):
        ORIGINAL_DUMP = own
        _dump_contents_once.__doc__ = own.__doc__
        core.Asn1Value.dump = _dump_contents_once  # type: ignore[method-assign]
    for cls in (core.Asn1Value, core.Choice, core.Primitive, core.Sequence, core.SequenceOf):
        own = cls.__dict__.get("dump")
        if own is not None and not getattr(own, _PATCHED, False):
            cls.dump = _exact(own)  # type: ignore[method-assign]
