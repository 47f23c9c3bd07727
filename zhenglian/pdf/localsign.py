"""Sign local files with the key: the one use case behind ``zhenglian sign`` and the tray's documents page.

Order of work, so the PIN is asked only when signing can succeed:
certificate validity → every document opened and every placement resolved
(any refusal stops here) → the one PIN gate (locked: refused; final try:
confirmed by the prompter) → the PIN → one login, the seal encoded once,
every document signed and written atomically.  The PIN is wiped as soon as
the key is logged in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf import placement as pl
from zhenglian.pdf.document import Source
from zhenglian.pdf.seal import SealLike
from zhenglian.pdf.sign import PreparedDocument, SignResult, prepare
from zhenglian.tokens import pin as pinops


@dataclass
class LocalSigning:
    """What to sign: (input, output) pairs, where the seals go, with which seal."""

    pairs: Sequence[tuple[Source, Path]]
    placements: Sequence[pl.Placement]
    seal: SealLike
    cross_page: pl.CrossPage | None = None
    certify: bool = False
    password: str | None = None
    timestamp_url: str | None = None
    refused: list[errors.ZhenglianError] = field(default_factory=list)


def _prepare_all(job: LocalSigning) -> list[tuple[PreparedDocument, Path]]:
    prepared: list[tuple[PreparedDocument, Path]] = []
    for src, dst in job.pairs:
        try:
            prepared.append((prepare(src, job.placements, seal=job.seal, cross_page=job.cross_page,
                                     certify=job.certify, password=job.password), dst))
        except errors.ZhenglianError as exc:
            job.refused.append(exc)
    if job.refused:
        for doc, _ in prepared:
            doc.close()
        raise job.refused[0]
    return prepared


def sign_files(h: KeyHandle, prompter: pinops.PinPrompter, job: LocalSigning, *,
               on_signed: Callable[[SignResult], None] | None = None) -> list[SignResult]:
    """Sign every document of ``job`` with one PIN.  Refusals (``job.refused``) come before the PIN."""
    from zhenglian.pdf.keysign import key_batch

    h.check_usable()  # an expired certificate: refused before anything else
    identity = h.identity()
    prepared = _prepare_all(job)
    results: list[SignResult] = []
    pin: Any = None
    try:
        st, pin = pinops.gate_and_ask(h, prompter)
        with key_batch(h, pin, seal=job.seal, timestamp_url=job.timestamp_url, identity=identity,
                       confirmed_final_try=st.final_try) as batch:
            if pin is not None:
                pin.wipe()  # logged in: the PIN is not needed again
            for doc, dst in prepared:
                result = batch.sign(doc, dst)
                results.append(result)
                if on_signed is not None:
                    on_signed(result)
    finally:
        if pin is not None:
            pin.wipe()
        for doc, _ in prepared:
            doc.close()
    return results
