"""Which seal to stamp with: the key's own (by name), else one drawn from the certificate."""

from __future__ import annotations

from typing import Any

from zhenglian import errors
from zhenglian.pdf.seal import SealLike, SealPicture
from zhenglian.services import Context
from zhenglian.tokens.model import KeyInfo


def choose_seal(ctx: Context, key: KeyInfo, wanted: str | None) -> SealLike:
    """The key's seal by name (default the first usable), else one drawn from the certificate.

    Reads public data objects only: no PIN.
    """
    from zhenglian.seals.store import seals_for_key

    cert = key.signing_certificate()
    if cert is None:
        raise errors.NoCertificate(serial=key.serial)
    module = ctx.tokens.module_for(key)
    with module.session(key.serial) as session:
        seals: list[Any] = list(seals_for_key(session, cert.info.der).usable())
    if seals:
        if not wanted:
            return seals[0]
        for s in seals:
            if wanted in (s.name, getattr(s, "id", None), getattr(s, "seal_type", None)):
                return s
        raise errors.UsageError(detail=f"UKey 上没有印章“{wanted}”（有：{'、'.join(s.name for s in seals)}）/ "
                                       f"no seal named {wanted!r} on the key")
    return drawn_seal(cert.info.organization or cert.info.common_name or key.label, wanted)


def drawn_seal(organization: str, seal_type: str | None) -> SealLike:
    """A standard round seal drawn for the organisation (keys that carry no seal)."""
    from zhenglian.seals import render

    kind = seal_type or render.OFFICIAL_SEAL
    diameter = 42.0
    png = render.render_seal_png(organization, kind, diameter, dpi=300)
    return SealPicture(png, diameter, diameter, kind)
