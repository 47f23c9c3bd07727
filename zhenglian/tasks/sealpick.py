"""Which seal a task is stamped with.

The seals of the key's certificate come from zhenglian.seals (on the key,
imported files) plus those the server keeps for the institution (集中式用章).
A task names the seal type it needs (合同专用章 …); the first usable seal of
that type is used, and a task whose type this certificate has no seal for
is refused with the list of what there is, never stamped with another seal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from zhenglian import errors
from zhenglian.server.models import ServerSealRecord, Task

log = logging.getLogger(__name__)


def usable_seals(p11session: Any, cert_der: bytes, server: Sequence[ServerSealRecord] = (),
                 other_certs: Sequence[bytes] = ()) -> list[Any]:
    """Seals this certificate may stamp now (key, server, imported files)."""
    from zhenglian.seals.store import ServerSeal, seals_for_key

    records = [ServerSeal(id=s.id, name=s.name, seal_type=s.seal_type, picture=s.png, cert_sha256=s.cert_sha256,
                          width_mm=s.width_mm, height_mm=s.height_mm) for s in server]
    catalog = seals_for_key(p11session, cert_der, records, other_certs=other_certs)
    for r in catalog.rejected:
        log.info("seal %s not offered: %s", r.name, r.reason)
    return list(catalog.usable())


def pick(seals: Sequence[Any], task: Task, chosen: Any = None) -> Any:
    """The seal for ``task``: ``chosen`` if given, else the first of the required type."""
    if chosen is not None:
        return chosen
    if not task.seal_type:
        if seals:
            return seals[0]
    else:
        for seal in seals:
            if seal.seal_type == task.seal_type:
                return seal
    raise errors.TaskSealMissing(title=task.title, seal_type=task.seal_type or "印章",
                                 available="、".join(s.name for s in seals) or "无 / none")
