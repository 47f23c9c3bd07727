"""A PIN held in a mutable buffer that is wiped after use.

Python strings are immutable and cannot be wiped; a PIN arrives as one from
the terminal or a Qt line edit, so we convert it at once, drop the string, and
keep only this buffer.  ``repr``/``str`` never show the content, and the
object refuses to be pickled, so it cannot reach logs, exceptions or files
by accident.
"""

from __future__ import annotations

from typing import NoReturn

from zhenglian import errors


class PinBuffer:
    __slots__ = ("_buf",)

    def __init__(self, data: bytes | bytearray | str = b"") -> None:
        if not isinstance(data, str):
            self._buf = bytearray(data)
            return
        try:
            # bytearray(str, "utf-8") encodes straight into the mutable buffer.
            self._buf = bytearray(data, "utf-8")
            return
        except UnicodeEncodeError:
            # A lone surrogate (stdin decoded with surrogateescape, e.g. a GBK byte): the
            # UnicodeEncodeError holds the whole PIN in its args, so it must not travel on.
            self._buf = bytearray()
        del data
        # Raised outside the except block: no __context__ chains the encode error to it.
        raise errors.PinUnreadable()

    @property
    def buffer(self) -> bytearray:
        """The live bytes, for the PKCS#11 call only."""
        return self._buf

    def __len__(self) -> int:
        return len(self._buf)

    def __bool__(self) -> bool:
        return bool(self._buf)

    def text(self) -> str:
        """Decoded copy, for a document password only (pyHanko takes a str).

        Never for a key's PIN: a ``str`` cannot be wiped, so its characters stay in
        freed memory.  Rule checks use :meth:`chars`.
        """
        return self._buf.decode("utf-8", "replace")

    def chars(self) -> list[str]:
        """The characters one by one, for rule checks, without the whole PIN as one ``str``.

        Each item is a one-character string (CPython shares those for Latin-1), so no
        contiguous copy of the PIN is made; invalid UTF-8 gives U+FFFD, as ``text`` does.
        """
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        out: list[str] = []
        for i in range(len(self._buf)):
            ch = decoder.decode(self._buf[i:i + 1])
            if ch:
                out.extend(ch)
        tail = decoder.decode(b"", final=True)
        if tail:
            out.extend(tail)
        return out

    def equals(self, other: PinBuffer) -> bool:
        """Constant-time comparison without making immutable (unwipeable) copies."""
        import hmac

        return hmac.compare_digest(self._buf, other._buf)

    def copy(self) -> PinBuffer:
        return PinBuffer(self._buf)

    def wipe(self) -> None:
        for i in range(len(self._buf)):
            self._buf[i] = 0
        self._buf = bytearray()

    def __del__(self) -> None:
        # Last line of defence: a buffer nobody wiped is zeroed when collected.
        try:
            self.wipe()
        except Exception:  # noqa: S110 - never raise from a finaliser
            pass

    @property
    def wiped(self) -> bool:
        return not self._buf

    def __repr__(self) -> str:
        return "PinBuffer(***)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a PIN cannot be pickled")

    def __enter__(self) -> PinBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()
