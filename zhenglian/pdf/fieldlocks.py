"""Field locks (FieldMDP) of earlier signatures: a seal never goes into a field one of them locks.

A signature may lock form fields (ISO 32000-1 12.8.2.4 FieldMDP; 12.7.4.5 the signature
field's /Lock): /Action /All (every field), /Include [names] (those) or /Exclude [names]
(all but those); a name covers the fields below it.  pyHanko's validator is the judge
(``pyhanko.sign.diff_analysis.policies``: "Update of … is not allowed because the form field
X is locked"): a later *visible* signature breaks the earlier one when its field is locked —
an existing empty field, and just as well a new field (so /All and /Exclude also lock the
field a seal at a position, on an anchor or across pages creates).  Our seals are always
visible, so every field name we sign into is checked, before the PIN.

Where a lock is read: the signature dictionary's /Reference with /TransformMethod /FieldMDP
(what pyHanko's validator reads — the first one), and the signed field's /Lock (what a
signer copies into /Reference when it signs the field; pyHanko's validator does not read it,
but the field's lock promises the locked fields once it is signed, so it counts too).  A lock
that cannot be read (no /Action, an unknown one, no /Fields list) is not one the validator
could enforce: it is logged and left out.  A field we fill in this run that carries a /Lock
gets that lock into our own signature (pyHanko's signer applies it), so it counts for the
seals signed after it; one whose /Lock that signer cannot read is refused here (DocumentCorrupt),
where it stopped the signer after the PIN.

Bounded: at most :data:`MAX_REFERENCES` /Reference entries per signature (a signature with more,
none of them FieldMDP, counts as locking every field: the validator reads them all), and
:data:`MAX_NAMES` names over the whole document; a lock whose list goes beyond the budget
counts as locking every field (a refusal rather than a broken signature).  A lock that names
nothing (/Include []) is dropped, so a field is held against at most MAX_NAMES locks that let
it pass; the hint's free fields are looked for among the first 200 empty ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from zhenglian import errors

log = logging.getLogger(__name__)

MAX_REFERENCES = 8  # /Reference entries read per signature (DocMDP, FieldMDP, UR3: a few)
MAX_NAMES = 10_000  # field names read from all locks of a document
_HINT_FIELDS = 10  # free fields named in the refusal's hint
_HINT_LOOKED_AT = 200  # empty fields looked at for it


@dataclass(frozen=True)
class FieldLock:
    """A lock one signature sets: ``by`` is its field's name; ``spec`` pyHanko's FieldMDPSpec."""

    by: str
    spec: Any

    def locks(self, name: str) -> bool:
        return bool(self.spec.is_locked(name))


def _get(dictionary: Any, key: str) -> Any:
    """``dictionary[key]`` dereferenced (dict.get would give the raw reference); None when absent."""
    try:
        return dictionary[key]
    except KeyError:
        return None


class _Budget:
    def __init__(self, names: int) -> None:
        self.names = names


def _spec(dictionary: Any, budget: _Budget) -> Any:
    """A FieldMDP /TransformParams or /Lock dictionary as pyHanko's FieldMDPSpec; None: no lock."""
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec

    if not isinstance(dictionary, generic.DictionaryObject) or "/Action" not in dictionary:
        return None
    try:
        action = FieldMDPAction(dictionary["/Action"])
    except (ValueError, TypeError):
        log.info("a field lock with an unknown /Action is not read")
        return None
    if action is FieldMDPAction.ALL:
        return FieldMDPSpec(action)
    names = _get(dictionary, "/Fields")
    if not isinstance(names, generic.ArrayObject):
        log.info("a field lock without a /Fields list is not read")
        return None
    if len(names) > budget.names:
        budget.names = 0
        log.info("a field lock names more fields than are read: taken as locking every field")
        return FieldMDPSpec(FieldMDPAction.ALL)
    budget.names -= len(names)
    read = (names[i] for i in range(len(names)))  # indexing dereferences
    fields = [str(n) for n in read if isinstance(n, str)]
    if action is FieldMDPAction.INCLUDE and not fields:
        return None  # locks nothing
    return FieldMDPSpec(action, fields)


def _reference_spec(signature: Any, budget: _Budget) -> Any:
    """The first FieldMDP transform in the signature's /Reference, as pyHanko's validator reads it."""
    from pyhanko.pdf_utils import generic

    refs = _get(signature, "/Reference") if isinstance(signature, generic.DictionaryObject) else None
    if not isinstance(refs, generic.ArrayObject):
        return None
    for i in range(min(len(refs), MAX_REFERENCES)):
        ref = refs[i]
        if isinstance(ref, generic.DictionaryObject) and _get(ref, "/TransformMethod") == "/FieldMDP":
            return _spec(_get(ref, "/TransformParams"), budget)
    if len(refs) > MAX_REFERENCES:
        # pyHanko's validator reads them all: a FieldMDP one beyond those read could lock any field
        from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec

        log.info("a signature with more /Reference entries than are read: taken as locking every field")
        return FieldMDPSpec(FieldMDPAction.ALL)
    return None


def _field_lock(field: Any, budget: _Budget) -> Any:
    from pyhanko.pdf_utils import generic

    return _spec(_get(field, "/Lock"), budget) if isinstance(field, generic.DictionaryObject) else None


def read_locks(reader: Any) -> list[FieldLock]:
    """Every field lock the document's signatures set (each signed field: its /Reference, its /Lock)."""
    from pyhanko.sign.fields import enumerate_sig_fields

    budget = _Budget(MAX_NAMES)
    locks: list[FieldLock] = []
    try:
        signed = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # noqa: BLE001 - a malformed form: counted, verified, not a lock
        log.info("signature fields not read for their field locks: %s", type(exc).__name__)
        return []
    for name, value, ref in signed:
        try:
            specs = (_reference_spec(value.get_object(), budget), _field_lock(ref.get_object(), budget))
        except Exception as exc:  # noqa: BLE001 - an unreadable lock is not one pyHanko enforces
            log.info("a signature's field lock not read: %s", type(exc).__name__)
            continue
        locks.extend(FieldLock(str(name), spec) for spec in specs if spec is not None)
    return locks


def _locks_every_change(field: Any) -> bool:
    """The field's /Lock has /P 1: once signed, it permits no change at all (ISO 32000-2 12.7.5.5)."""
    from pyhanko.pdf_utils import generic

    lock = _get(field, "/Lock") if isinstance(field, generic.DictionaryObject) else None
    return isinstance(lock, generic.DictionaryObject) and _get(lock, "/P") == 1


def _signer_cannot_read_lock(field: Any) -> bool:
    """The field has a /Lock pyHanko's signer refuses when it signs the field (after the PIN):
    not a dictionary, no or an unknown /Action, no /Fields list where one is needed, a /P
    that is no DocMDP level.  Read here the way the signer reads it."""
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm

    if not isinstance(field, generic.DictionaryObject) or "/Lock" not in field:
        return False
    try:
        lock = field["/Lock"]
        spec = FieldMDPSpec.from_pdf_object(lock)
        if spec.action is not FieldMDPAction.ALL and not isinstance(spec.fields, generic.ArrayObject):
            return True
        if "/P" in lock:
            MDPPerm(lock["/P"])
    except Exception:  # noqa: BLE001 - whatever the signer would raise on it
        return True
    return False


def _empty_fields(reader: Any) -> dict[str, Any]:
    """The empty signature fields by name: their field dictionaries."""
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        return {str(name): ref.get_object() for name, _value, ref in enumerate_sig_fields(reader, filled_status=False)}
    except Exception:  # noqa: BLE001 - only the hint and own locks lose them
        return {}


def _free(empty: dict[str, Any], locks: Sequence[FieldLock]) -> list[str]:
    """Empty fields no lock covers, for the hint: a few, from the first fields only."""
    free = []
    for n, name in enumerate(empty):
        if n >= _HINT_LOOKED_AT or len(free) > _HINT_FIELDS:
            break
        if not any(lk.locks(name) for lk in locks):
            free.append(name)
    return free


def check(path: str, reader: Any, locks: Sequence[FieldLock], names: Iterable[tuple[str, bool]]) -> None:
    """Refuse when a field we sign into (``names``: field name, new?) is locked; needs no key.

    ``locks``: the document's (:func:`read_locks`); a field we fill that carries a /Lock adds
    its lock for the fields signed after it, and one whose /Lock forbids any change (/P 1)
    must be the run's last (DocumentLocked)."""
    names = list(names)
    if not locks and not any(not new for _name, new in names):
        return  # nothing locked, no existing field that could lock our later seals
    in_force = list(locks)
    empty = _empty_fields(reader)
    budget = _Budget(MAX_NAMES)
    for i, (name, new) in enumerate(names):
        lock = next((lk for lk in in_force if lk.locks(name)), None)
        if lock is not None:
            free = _free(empty, in_force)
            shown = ", ".join(free[:_HINT_FIELDS]) + (", …" if len(free) > _HINT_FIELDS else "")
            if new and lock.spec.action.name == "INCLUDE":  # a new field's name on its list
                what_zh = f"盖章将新建的签名域“{name}”（该签名的锁定名单中有此名称）"
                what_en = f"the new signature field \"{name}\" the seal would create (its list names it)"
            elif new:
                what_zh = f"盖章将新建的签名域“{name}”（该签名锁定全部表单域，或其名单之外的全部表单域）"
                what_en = (f"the new signature field \"{name}\" the seal would create (that signature locks every field, "
                           "or every field but those it names)")
            else:
                what_zh, what_en = f"签名域“{name}”", f"signature field \"{name}\""
            raise errors.SignatureFieldLocked(path=path, field=name, by=lock.by, what_zh=what_zh, what_en=what_en,
                                              fields=shown or "无 / none")
        if not new:
            if _signer_cannot_read_lock(empty.get(name)):
                raise errors.DocumentCorrupt(
                    path=path, detail=f"签名域“{name}”的锁定设置（/Lock）无法读取 / "
                                      f"the lock (/Lock) of signature field \"{name}\" cannot be read")
            try:
                own = _field_lock(empty.get(name), budget)
                no_changes = _locks_every_change(empty.get(name))
            except Exception:  # noqa: BLE001 - an unreadable lock is not one pyHanko's signer applies
                own, no_changes = None, False
            if no_changes and i < len(names) - 1:
                # Its /Lock /P 1 makes our own signature there forbid any change after it: the
                # seals this run would sign after it would break it.
                raise errors.DocumentLocked(
                    path=path, reason_zh=f"签名域“{name}”签署后不允许任何更改，本次其后的印章会使该签名失效",
                    reason_en=f"signature field \"{name}\" forbids any change once signed, so this run's later "
                              "seals would invalidate it")
            if own is not None:
                in_force.append(FieldLock(name, own))


__all__ = ["MAX_NAMES", "MAX_REFERENCES", "FieldLock", "check", "read_locks"]
