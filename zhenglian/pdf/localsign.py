"""Sign local files with the key: the one use case behind ``zhenglian sign`` and the tray's documents page.

Order of work, so the PIN is asked only when signing can succeed:
certificate validity → every document opened and every placement resolved
(any refusal stops here) → the one PIN gate (locked: refused; final try:
confirmed by the prompter) → the PIN → one login, the seal encoded once,
every document signed and written atomically.  The PIN is wiped as soon as
the key is logged in.

The documents overlap around the key (:mod:`zhenglian.pdf.overlap`): while
the key signs one, the next is hashed and the previous one written, so a slow
USB key is the only limit.  The key signs them, and they are published
(register entry, rename), in the order given; the first failure stops the
batch and the documents after it are left unwritten, as in a sequential batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf import placement as pl
from zhenglian.pdf.document import Source
from zhenglian.pdf.outfile import check_target
from zhenglian.pdf.overlap import Overlap, Ticket
from zhenglian.pdf.seal import SealLike
from zhenglian.pdf.sign import PreparedDocument, SignResult, prepare
from zhenglian.pdf.warmup import warming
from zhenglian.tokens import pin as pinops

if TYPE_CHECKING:
    from zhenglian.register.recorder import SealRecorder

log = logging.getLogger(__name__)


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


def _name(doc: PreparedDocument) -> str:
    """The document's file name (its folder is recorded apart, as the local path)."""
    return doc.opened.path.name if doc.opened.path is not None else doc.name


def _prepare_all(job: LocalSigning) -> list[tuple[PreparedDocument, Path]]:
    prepared: list[tuple[PreparedDocument, Path]] = []
    for src, dst in job.pairs:
        try:
            check_target(src, dst)
            prepared.append((prepare(src, job.placements, seal=job.seal, cross_page=job.cross_page,
                                     certify=job.certify, password=job.password), dst))
        except errors.ZhenglianError as exc:
            job.refused.append(exc)
    if job.refused:
        for doc, _ in prepared:
            doc.close()
        raise job.refused[0]
    return prepared


def _import_register() -> None:
    import zhenglian.register.recorder  # noqa: F401 - the import is the point (≈ 20 ms: sqlite3, the register)


def sign_files(h: KeyHandle, prompter: pinops.PinPrompter, job: LocalSigning, *,
               on_signed: Callable[[SignResult], None] | None = None,
               recorder: SealRecorder | None = None) -> list[SignResult]:
    """Sign every document of ``job`` with one PIN.  Refusals (``job.refused``) come before the PIN.

    Every signed document gets its seal-use register entry before it is written in place;
    documents not signed after the PIN was typed are recorded as failed or cancelled.
    """
    from zhenglian.pdf.keysign import key_batch

    h.check_usable()  # an expired certificate: refused before anything else
    identity = h.identity()
    prepared = _prepare_all(job)
    signed: dict[int, SignResult] = {}  # by position: filled by the threads, read once they are done
    results: list[SignResult] = []
    reported: set[int] = set()  # positions handed to on_signed
    pin: Any = None
    typed = False  # the PIN was entered: from here on, a document not signed is recorded
    work = list(zip(prepared, job.pairs, strict=True))
    try:
        # While the operator types, the signing half of pyHanko, the register and the
        # compressed seal are made ready on a thread that never touches the key.
        with warming(prompter, [job.seal], extra=_import_register) as (asking, _):
            st, pin = pinops.gate_and_ask(h, asking)
        typed = True
        from zhenglian.register.recorder import SealRecorder, input_facts

        recorder = recorder or SealRecorder(h, "local")
        with key_batch(h, pin, seal=job.seal, timestamp_url=job.timestamp_url, identity=identity,
                       confirmed_final_try=st.final_try) as batch:
            if pin is not None:
                pin.wipe()  # logged in: the PIN is not needed again

            def sign_one(item: tuple[tuple[PreparedDocument, Path], tuple[Source, Path]], ticket: Ticket) -> SignResult:
                (doc, dst), (source, _) = item
                in_sha, in_size = input_facts(source)

                def publish(tmp: Path, result: SignResult) -> None:
                    recorder.publish_signed(tmp, result, name=_name(doc), seal=job.seal, input_sha256=in_sha,
                                            input_size=in_size, output_path=dst, local_path=doc.opened.path or "")

                result = batch.sign(doc, dst, before_publish=publish, ticket=ticket)
                signed[ticket.index] = result
                return result

            # While the key signs one document the next is hashed and the last written
            # (zhenglian.pdf.overlap); the first failure stops the batch as before.
            failure: BaseException | None = None
            with Overlap(sign_one) as overlap:
                for outcome in overlap.map(work):
                    if outcome.error is not None:
                        failure = failure or outcome.error
                        continue
                    assert outcome.result is not None
                    results.append(outcome.result)
                    if on_signed is not None and failure is None:
                        reported.add(outcome.index)
                        on_signed(outcome.result)
            if failure is not None:
                raise failure
            if results:
                recorder.anchor_if_enabled(batch.signer.session.sign)
    except BaseException as exc:
        # Stopped (Ctrl-C, a failure): the documents the key had already signed were finished and
        # written as the batch stopped; the operator is told of each, not only of those before.
        if on_signed is not None:
            for index in sorted(set(signed) - reported):
                try:
                    on_signed(signed[index])
                except Exception:  # noqa: BLE001 - a report must not hide why the batch stopped
                    log.exception("reporting a signed document failed")
        if typed and not isinstance(exc, errors.WrongPin):  # a wrong PIN stamped nothing: not a use
            from zhenglian.register.recorder import SealRecorder, outcome_of

            recorder = recorder or SealRecorder(h, "local")
            left = [(_name(doc), job.seal) for i, ((doc, _), _) in enumerate(work) if i not in signed]
            recorder.not_signed_all(outcome_of(exc), left, exc)
        raise
    finally:
        if pin is not None:
            pin.wipe()
        for doc, _ in prepared:
            doc.close()
    return results
