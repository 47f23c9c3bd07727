"""Remember the keys that are plugged in, with their seal names (for the tray app and the CLI).

Call :func:`remember_keys` whenever keys are listed (on every hot-plug
event): from then on the certificate is reminded even when its key stays in
a drawer.  Reading seal names needs no PIN (seals are public objects).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from zhenglian import errors
from zhenglian.lifecycle.store import CertificateStore, RememberedCert

log = logging.getLogger(__name__)


def seal_names(module: Any, key: Any) -> dict[str, list[str]]:
    """Names of the seals on the key, per signing certificate (SHA-256); {} if unreadable."""
    try:
        from zhenglian.seals.store import seals_for_key
    except ImportError:
        return {}
    certs = key.signing_certificates()
    out: dict[str, list[str]] = {}
    try:
        with module.session(key.serial) as session:
            for kc in certs:
                others = [c.info.der for c in certs if c is not kc]
                catalog = seals_for_key(session, kc.info.der, use_files=True, other_certs=others)
                names = [s.name for s in catalog.seals]
                # A seal of a certificate renewed meanwhile still names this organisation's seal.
                names += [r.name for r in catalog.rejected if r.reason == "renewed_certificate"]
                out[kc.info.sha256] = list(dict.fromkeys(n for n in names if n))
    except (errors.ZhenglianError, ValueError) as exc:
        log.info("could not read seal names: %s", type(exc).__name__)
        return {}
    return out


def remember_keys(tokens: Any, keys: Iterable[Any], store: CertificateStore | None = None,
                  now: datetime | None = None) -> list[RememberedCert]:
    """Remember every signing certificate of these (plugged-in) keys."""
    store = store or CertificateStore()
    out: list[RememberedCert] = []
    for key in keys:
        try:
            names = seal_names(tokens.module_for(key), key)
        except errors.ZhenglianError:
            names = {}
        out += store.remember(key, now, names)
    return out
