"""After a renewal: what was bound to the old certificate moves to the new one.

- the remembered-certificates store: the old entry is superseded;
- imported seal pictures (``zhenglian.seals.store.SealFileStore``), bound by
  the certificate's SHA-256: each gets a copy bound to the new certificate
  (the old binding stays; it is harmless once the old certificate is gone,
  and it keeps the picture for the expired certificate's paper forms).

SESeal objects *on the key* name the old certificate inside a structure the
seal maker (the CA) signed: the client cannot re-sign them.  They keep
naming the old certificate until the CA issues new ones; see
docs/lifecycle.md.
"""

from __future__ import annotations

import logging
from typing import Any

from zhenglian.pki.cert import CertInfo

log = logging.getLogger(__name__)


def rebind_imported_seals(old_sha256: str, new_sha256: str, store: Any = None) -> int:
    """Bind every imported seal of the old certificate to the new one too; returns how many."""
    try:
        from zhenglian.seals.store import SealFileStore
    except ImportError:
        return 0
    store = store or SealFileStore()
    rebind = getattr(store, "rebind", None)
    if callable(rebind):  # the seals package's own API, when it has one
        return int(rebind(old_sha256, new_sha256) or 0)
    entries = store.entries()
    have_new = {(e.get("png_sha256"), e.get("name")) for e in entries if e.get("cert_sha256") == new_sha256}
    count = 0
    for e in entries:
        if e.get("cert_sha256") != old_sha256 or (e.get("png_sha256"), e.get("name")) in have_new:
            continue
        try:
            picture = (store.root / str(e["file"])).read_bytes()
            store.add(picture, str(e["name"]), str(e.get("type", "")), new_sha256,
                      float(e.get("width_mm", 42.0)), float(e.get("height_mm", 0)) or None,
                      original=str(e.get("original", "")))
            count += 1
        except Exception as exc:  # one broken entry must not stop the others
            log.warning("could not re-bind an imported seal: %s", type(exc).__name__)
    return count


def carry_over(old: CertInfo, new: CertInfo, key: Any, cert_store: Any = None, seal_store: Any = None) -> int:
    """Update the remembered store and the imported seals; returns seals re-bound."""
    from zhenglian.lifecycle.store import CertificateStore

    (cert_store or CertificateStore()).record_renewal(old, new, key)
    return rebind_imported_seals(old.sha256, new.sha256, seal_store)
