"""From the signing path's objects to a :class:`SealUse`, and the record-then-hand-on step.

The signing path holds a key (``tokens.model.KeyInfo``), a certificate
(``pki.cert.CertInfo``), a seal (``seals.model.Seal``) and the document; this
module reads only the attributes it names from them (no import of those
layers), cleans what came from outside (names from a server or a web page:
control characters removed, clipped to the register's bound) and builds the
entry.  :func:`record_then_publish` is the order every path follows: signed
bytes flushed to a temporary file → entry committed → file renamed into
place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zhenglian.fsutil import fsync_dir
from zhenglian.register.model import MAX_TEXT, Placement, SealUse


def clean(value: object) -> str:
    """Outside text fit for the register: no control characters, at most MAX_TEXT characters."""
    text = "" if value is None else str(value)
    text = "".join(" " if ord(c) < 0x20 or c == "\x7f" else c for c in text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_use(*, outcome: str, origin: str, document_name: str, key: Any = None, cert: Any = None,
                 seal: Any = None, document_size: int = 0, input_sha256: str = "", output_sha256: str = "",
                 page_count: int = 0, placements: Iterable[tuple[int, float, float, float, float]] = (),
                 server: str = "", task_id: str = "", web_origin: str = "", local_path: str | Path = "",
                 output_path: str | Path = "", error: BaseException | None = None) -> SealUse:
    """A :class:`SealUse` from the signing path's facts.

    ``placements``: (page 1-based, x mm, y mm, width mm, height mm) from the
    top left.  ``error``: the typed error of a refused / cancelled / failed use
    (only its stable ``code`` is kept, never its text).
    """
    error_code = ""
    if error is not None:
        error_code = clean(getattr(error, "code", type(error).__name__))[:80]
    return SealUse(
        outcome=outcome,
        origin=origin,
        document_name=clean(document_name),
        key_ca=clean(getattr(key, "ca_id", "") or ""),
        key_serial=clean(getattr(key, "serial", "") or ""),
        cert_serial=clean(getattr(cert, "serial_hex", "") or ""),
        cert_subject=clean(getattr(cert, "subject", "") or ""),
        cert_uscc=clean(getattr(cert, "uscc", "") or ""),
        organization=clean(getattr(cert, "organization", "") or getattr(cert, "common_name", "") or ""),
        seal_name=clean(getattr(seal, "name", "") or ""),
        seal_type=clean(getattr(seal, "seal_type", "") or ""),
        seal_id=clean(getattr(seal, "id", "") or ""),
        document_size=max(0, int(document_size)),
        input_sha256=input_sha256.lower(),
        output_sha256=output_sha256.lower(),
        page_count=max(0, int(page_count)),
        placements=tuple(Placement(int(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4]))
                         for p in placements),
        server=clean(server),
        task_id=clean(task_id),
        web_origin=clean(web_origin),
        local_path=clean(local_path),
        output_path=clean(output_path),
        error_code=error_code,
    )


def record_then_publish(register: Any, use: SealUse, temporary: Path, final: Path) -> int:
    """Commit the entry, then hand the signed file on (rename into place); returns the entry number.

    ``temporary`` must already hold the signed bytes, flushed to disk.  When
    recording fails the temporary file is removed and the error (a
    ``RegisterError``) propagates: no signed file without its entry.
    """
    try:
        seq = int(register.record(use))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    os.replace(temporary, final)
    fsync_dir(Path(final).parent)
    return seq
