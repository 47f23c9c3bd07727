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
    """Names of the seals on the key, per signing certificate (SHA-256); {} if unreadable.

    Names only, for reminders and forms: the SESeal is parsed (asn1crypto) and
    matched to the certificate, but neither its signature is checked nor its
    picture decoded — that is the signing path's job (zhenglian.seals.store),
    and keeping cryptography and Pillow out of the idle tray app saves ≈ 15 MB.
    """
    from zhenglian.seals import ses
    from zhenglian.tokens.dataobjects import read_seal_objects

    certs = key.signing_certificates()
    out: dict[str, list[str]] = {kc.info.sha256: [] for kc in certs}
    try:
        with module.session(key.serial) as session:
            objects = read_seal_objects(session)
    except (errors.ZhenglianError, ValueError) as exc:
        log.info("could not read seal names: %s", type(exc).__name__)
        return {}
    for obj in objects:
        if obj.kind != "seseal":
            continue
        try:
            parsed = ses.parse_seseal(obj.value)
        except errors.ZhenglianError:
            continue
        for kc in certs:
            # A seal of a certificate renewed meanwhile still names this organisation's seal.
            if ses.match_certificate(parsed, kc.info.der) in (ses.CertMatch.EXACT, ses.CertMatch.SAME_KEY):
                out[kc.info.sha256].append(parsed.name)
    return {sha: list(dict.fromkeys(n for n in names if n)) for sha, names in out.items()}


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
