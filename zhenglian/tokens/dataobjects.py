"""Seals stored on the key as PKCS#11 data objects (CKO_DATA).

A CA that binds a seal to a key leaves it beside the certificate.  We store
and look for:

* ``CKA_APPLICATION = "GB/T 38540 SESeal"``: ``CKA_VALUE`` is a DER SESeal
  (the seal's picture and properties signed by the seal maker);
* ``CKA_APPLICATION = "seal-image/png"`` (also ``…/jpeg``, ``…/gif``,
  ``…/bmp``): ``CKA_VALUE`` is only a picture, for vendors that store no
  SESeal.

``CKA_LABEL`` is the seal's name.  Both are token objects with
``CKA_PRIVATE = false``: like the certificate, a seal is public and must be
listed before the user types a PIN (the user picks the seal first).

Vendors use their own application strings too; a public data object whose
value *looks like* a DER SEQUENCE or a picture is returned as well, marked by
``kind``, and the seals layer decides what it really is.  Nothing here parses
the content — that stays in :mod:`zhenglian.seals`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

SESEAL_APPLICATION = "GB/T 38540 SESeal"
IMAGE_APPLICATION_PREFIX = "seal-image/"
PNG_APPLICATION = "seal-image/png"

ObjectKind = Literal["seseal", "image"]

_PICTURE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM")
# Values larger than this are not seals (a seal with a 1000 px PNG is ≈200 KB).
MAX_VALUE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SealObject:
    """One data object that holds (or may hold) a seal."""

    kind: ObjectKind
    label: str
    application: str
    value: bytes = field(repr=False)


def _pkcs11() -> Any:
    import pkcs11

    return pkcs11


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").rstrip("\x00").strip()


def _template(label: str, application: str, value: bytes) -> dict[Any, Any]:
    p = _pkcs11()
    A = p.Attribute  # noqa: N806
    return {
        A.CLASS: p.ObjectClass.DATA,
        A.TOKEN: True,
        A.PRIVATE: False,
        A.MODIFIABLE: True,
        A.LABEL: label,
        A.APPLICATION: application,
        A.VALUE: value,
    }


def store_seseal(session: Any, der: bytes, label: str) -> None:
    """Put an SESeal on the key (needs a read-write session)."""
    session.create_object(_template(label, SESEAL_APPLICATION, bytes(der)))


def store_seal_image(session: Any, picture: bytes, label: str, application: str = PNG_APPLICATION) -> None:
    """Put a bare seal picture on the key (what some vendors do instead of an SESeal)."""
    if not application.startswith(IMAGE_APPLICATION_PREFIX):
        raise ValueError(f"application must start with {IMAGE_APPLICATION_PREFIX!r}")
    session.create_object(_template(label, application, bytes(picture)))


def classify(application: str, value: bytes) -> ObjectKind | None:
    """What a data object holds, from its application string, else its first bytes."""
    app = application.strip()
    if app == SESEAL_APPLICATION:
        return "seseal"
    if app.lower().startswith(IMAGE_APPLICATION_PREFIX):
        return "image"
    if value.startswith(_PICTURE_MAGIC):
        return "image"
    if value[:1] == b"\x30" and len(value) > 64:
        return "seseal"  # a DER SEQUENCE of some size: let the parser decide
    return None


def _read(obj: Any, attribute: Any, default: Any) -> Any:
    p = _pkcs11()
    try:
        return obj[attribute]
    except (p.AttributeTypeInvalid, p.AttributeSensitive, p.PKCS11Error):
        return default


def _seal_object(obj: Any) -> SealObject | None:
    A = _pkcs11().Attribute  # noqa: N806
    value = _read(obj, A.VALUE, b"")
    value = bytes(value) if value else b""
    if not value or len(value) > MAX_VALUE_BYTES:
        return None
    application = _text(_read(obj, A.APPLICATION, ""))
    kind = classify(application, value)
    if kind is None:
        return None
    return SealObject(kind=kind, label=_text(_read(obj, A.LABEL, "")), application=application, value=value)


def read_seal_objects(session: Any) -> list[SealObject]:
    """Every data object on the key that holds a seal or may hold one.

    Works without a PIN: seals are public objects.  Objects the driver will
    not let us read are skipped, not fatal — one odd object must not hide
    the key's seals.
    """
    p = _pkcs11()
    out: list[SealObject] = []
    for obj in session.get_objects({p.Attribute.CLASS: p.ObjectClass.DATA}):
        found = _seal_object(obj)
        if found is not None:
            out.append(found)
    return out


def delete_seal_objects(session: Any, labels: Iterable[str] | None = None) -> int:
    """Remove seal data objects (all, or those with these labels); returns how many."""
    p = _pkcs11()
    wanted = set(labels) if labels is not None else None
    doomed = []
    for obj in session.get_objects({p.Attribute.CLASS: p.ObjectClass.DATA}):
        found = _seal_object(obj)
        if found is not None and (wanted is None or found.label in wanted):
            doomed.append(obj)
    for obj in doomed:
        obj.destroy()
    return len(doomed)
