"""Finish asn1crypto's lazy per-class set-up once, on one thread, before workers parse.

asn1crypto builds each class's lookup tables (a ``Sequence``'s field map, an OID class's
name -> OID map, a ``Choice``'s alternatives) the first time an instance is made, and it
does so by assigning an empty dict to the class and then filling it.  Two threads meeting a
class for the first time at the same moment can see the half-filled dict: in a pipelined
batch (one worker stamping the next document while another signs) this showed as
``KeyError: 'organization_name'`` and a good task failing.

:func:`settle` runs that set-up for every structured asn1crypto class defined so far
(asn1crypto's own, pyHanko's, ours) and marks it done, so no later first use builds anything.
It is cheap (a few milliseconds) and idempotent; :mod:`zhenglian.pki` calls it on import and
:func:`zhenglian.pdf.preload.pdf_stack` again after importing pyHanko.

Name maps (OID, integer and bit names: asn1crypto's ``ValueMap``) are the exception: libraries
add names to them when a module is first imported (pyHanko registers ``pdf_mac_data`` only when
its PDF-MAC module loads, and relies on the reverse map being built afterwards), so building them
early would lose those names.  They stay lazy; :func:`_atomic_reverse_map` makes asn1crypto
publish each one complete, in one assignment, so a second thread sees either none or all of it.
"""

from __future__ import annotations

import threading

from asn1crypto import core

_lock = threading.Lock()


def _subclasses(root: type) -> list[type]:
    seen: set[type] = set()
    stack = [root]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return list(seen)


def _set_up(cls: type) -> None:
    """What ``Asn1Value.__init__`` does for a class it has not seen, without needing
    a valid value: normalise ``explicit`` and build the class's tables."""
    explicit = getattr(cls, "explicit", None)
    if explicit is not None and isinstance(explicit[0], int):
        cls.explicit = (explicit,)
    setup = getattr(cls, "_setup", None)
    if setup is not None:
        setup(object.__new__(cls))


def _atomic_reverse_map(self: core.ValueMap) -> None:
    """asn1crypto's ``ValueMap._setup``, building the reverse map before publishing it."""
    cls = self.__class__
    if cls._map is None or cls._reverse_map is not None:
        return
    cls._reverse_map = {value: key for key, value in cls._map.items()}


def _resync_oid_names(classes: list[type]) -> None:
    """Give every OID name registered after its class's reverse map was built its entry.

    A module that adds to an OID class's ``_map`` after the reverse map (name -> OID) exists
    must patch that map too.  pyHanko's ISO 32004 module (``pdf_mac_data``, ``pdf_mac_wrap_kdf``)
    writes the entry the wrong way round (OID -> name), and its CAdES attributes not at all; if
    anything had unmapped a CMS attribute name before pyHanko was imported, signing an encrypted
    document would fail with "invalid literal for int() … 'pdf_mac_data'".
    """
    for cls in classes:
        forward = cls.__dict__.get("_map")
        reverse = cls.__dict__.get("_reverse_map")
        if not (isinstance(forward, dict) and isinstance(reverse, dict)):
            continue
        for oid, name in list(forward.items()):
            if not isinstance(name, str):
                continue
            if reverse.get(oid) == name and oid != name:  # the wrong way round: OID -> name
                del reverse[oid]
            reverse.setdefault(name, oid)


def settle() -> int:
    """Set up every structured asn1crypto class not yet set up; return how many were."""
    done = core._SETUP_CLASSES
    with _lock:
        core.ValueMap._setup = _atomic_reverse_map  # type: ignore[method-assign]
        _resync_oid_names(_subclasses(core.ObjectIdentifier))
        fresh = [cls for cls in _subclasses(core.Asn1Value)
                 if cls not in done and not issubclass(cls, core.ValueMap)]
        count = 0
        for cls in fresh:
            try:
                _set_up(cls)
            except Exception:  # noqa: BLE001 - an abstract or odd class: asn1crypto sets it up on first use as before
                continue
            done[cls] = True
            count += 1
        return count
