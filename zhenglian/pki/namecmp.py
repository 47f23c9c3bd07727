"""asn1crypto's certificate-name comparison, worked out once per distinct name.

asn1crypto 1.5.1 compares two ``x509.Name`` values as RFC 5280 §7.1 asks: RDN by RDN, each
attribute's value run through the RFC 4518 string preparation (regular expressions and
``stringprep`` tables, character by character).  It keeps nothing between comparisons of
different objects, and every certificate read from a PDF is a new object: pyHanko matches the
signer's issuer and serial against every certificate in the signature and in the trust store,
and its path builder keys certificates by ``Name.hashable`` — about a third of validating one
signature (the reference server's upload check, ``zhenglian verify``) was this preparation,
repeated on the same few names.

Here ``Name.__eq__`` and ``Name.hashable`` give the library's own answers, remembered by the
name's DER bytes in a bounded LRU:

- :func:`comparison_key` is exactly what ``RDNSequence.__eq__`` / ``RelativeDistinguishedName.__eq__``
  compare — the number of RDNs, and for each RDN its number of attributes and its
  ``{type: prepared value}`` map (the library's own ``_get_values``) — so two keys are equal
  exactly when the library says the names are;
- equal DER gives equal parsed values, hence equal keys and the same ``hashable``; each Name
  object also keeps its own key and ``hashable``, as the library keeps its ``sha256``,
  ``human_friendly`` and prepared values (a name is not changed after it is parsed);
- bounded: at most ``MAX_NAMES`` names of at most ``MAX_NAME_BYTES`` each are remembered
  across objects (a longer name is kept on its own object only), so hostile PDFs full of
  distinct or huge names cannot grow it;
- a name whose key or ``hashable`` cannot be computed (a prohibited character, a value that is
  not a string, bytes that do not parse) is not remembered: the library's own method runs, and
  raises or answers as it always did.

Applied once, when :mod:`zhenglian.pki` is imported.  ``tests/test_pki_namecmp.py`` compares
every answer with the library's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zhenglian.memo import BoundedMemo

MAX_NAMES = 1024  # distinct names remembered (a CA's name is ~100–300 bytes of DER)
MAX_NAME_BYTES = 2048  # a longer name (hostile, or odd) is not remembered across objects: ≤ ~5 MiB in all

_PATCHED = "_zhenglian_name_memo"
_MISSING = object()
# Also kept on the Name object itself, as asn1crypto keeps a name's ``sha256`` and ``human_friendly``
# (and each attribute's prepared value): its DER need not be re-serialised for every comparison.
_OWN_KEY = "_zhenglian_name_key"
_OWN_HASHABLE = "_zhenglian_name_hashable"

ORIGINAL_EQ: Callable[[Any, Any], bool] | None = None  # asn1crypto's own (tests compare)
ORIGINAL_HASHABLE: Callable[[Any], str] | None = None


KEYS = BoundedMemo(MAX_NAMES)
HASHABLES = BoundedMemo(MAX_NAMES)


def comparison_key(name: Any) -> tuple[tuple[int, tuple[tuple[str, str], ...]], ...]:
    """What asn1crypto's name equality compares, as one value (raises where the library would)."""
    out = []
    for rdn in name.chosen:
        values = rdn._get_values(rdn)  # {type: RFC 4518-prepared value}, the library's own
        out.append((len(rdn), tuple(sorted(values.items()))))
    return tuple(out)


def _der(name: Any) -> bytes | None:
    """The name's DER when it may be remembered across objects; None when it may not."""
    try:
        der = name.dump()
    except Exception:  # noqa: BLE001 - the library's own method decides about such a value
        return None
    return der if isinstance(der, bytes) and len(der) <= MAX_NAME_BYTES else None


def _key(name: Any) -> Any:
    key = name.__dict__.get(_OWN_KEY, _MISSING)
    if key is not _MISSING:
        return key
    der = _der(name)
    key = KEYS.get(der, _MISSING) if der is not None else _MISSING
    if key is _MISSING:
        try:
            key = comparison_key(name)
        except Exception:  # noqa: BLE001 - not remembered; the library's method runs (and raises)
            return _MISSING
        if der is not None:
            KEYS.put(der, key)
    setattr(name, _OWN_KEY, key)
    return key


def _name_eq(self: Any, other: Any) -> bool:
    from asn1crypto.x509 import Name

    if not isinstance(other, Name):
        return False
    mine = _key(self)
    theirs = _key(other) if mine is not _MISSING else _MISSING
    if mine is _MISSING or theirs is _MISSING:
        assert ORIGINAL_EQ is not None
        return ORIGINAL_EQ(self, other)
    return bool(mine == theirs)


def _name_hashable(self: Any) -> str:
    assert ORIGINAL_HASHABLE is not None
    value = self.__dict__.get(_OWN_HASHABLE, _MISSING)
    if value is not _MISSING:
        return str(value)
    der = _der(self)
    value = HASHABLES.get(der, _MISSING) if der is not None else _MISSING
    if value is _MISSING:
        value = ORIGINAL_HASHABLE(self)  # raises as the library does; nothing remembered then
        if der is not None:
            HASHABLES.put(der, value)
    setattr(self, _OWN_HASHABLE, value)
    return str(value)


def apply() -> None:
    """Idempotent."""
    global ORIGINAL_EQ, ORIGINAL_HASHABLE
    from asn1crypto import x509

    own_eq = x509.Name.__dict__["__eq__"]
    if getattr(own_eq, _PATCHED, False):
        return
    ORIGINAL_EQ = own_eq
    ORIGINAL_HASHABLE = x509.Name.__dict__["hashable"].fget
    setattr(_name_eq, _PATCHED, True)
    _name_eq.__doc__ = own_eq.__doc__
    x509.Name.__eq__ = _name_eq  # type: ignore[method-assign,assignment]
    x509.Name.hashable = property(_name_hashable, doc=x509.Name.__dict__["hashable"].__doc__)  # type: ignore[method-assign,assignment]
