"""The one path from a task to a signed file in the outbox, for the batch, the bridge and the preview.

- :func:`gather_seals` — the seals this key may use for tasks: its own (on the key),
  the server's, imported pictures; the server's list is optional (a key's own seals may do);
- :func:`open_task_signer` — a :class:`~zhenglian.tasks.signer.TaskSigner` on a logged-in
  key session (the key signs, every signature checked, the result verified before queueing);
- :func:`sign_to_outbox` — one task: a file already signed and waiting is reused (never
  signed twice), otherwise download (hash-checked), sign, and put in the outbox *before*
  anything is uploaded.

The preview uses :func:`gather_seals` and :meth:`TaskSigner.placements` (the same
placement the signer will use), so what is shown is what gets signed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf.overlap import SoloTicket, Ticket
from zhenglian.register.recorder import SealRecorder, input_facts, outcome_of
from zhenglian.server.models import Task
from zhenglian.tasks.outbox import Outbox, OutboxEntry
from zhenglian.tasks.signer import TaskSigner

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_SEAL_ERRORS = (errors.ServerRefused, errors.ServerError, errors.ServerUnreachable, errors.AuthRequired)


def gather_seals(h: KeyHandle, p11: Any, server_seals: Any) -> list[Any]:
    """Seals usable for this key's tasks.  ``server_seals``: a callable or a list (or None)."""
    from zhenglian.tasks import sealpick

    listed: list[Any] = []
    if callable(server_seals):
        try:
            listed = list(server_seals())
        except SERVER_SEAL_ERRORS as exc:
            log.info("server seals unavailable: %s", exc.code)  # the key's own seals may do
    elif server_seals:
        listed = list(server_seals)
    return list(sealpick.usable_seals(p11, h.signing_cert.info.der, listed, list(h.ca_ders)))


@contextmanager
def open_task_signer(h: KeyHandle, p11: Any) -> Iterator[TaskSigner]:
    """A TaskSigner on this logged-in session."""
    from zhenglian.pdf.keysign import batch_on

    with batch_on(h, p11) as batch:
        yield TaskSigner(batch, h)


def server_call(session: Any, p11: Any, ticket: Ticket | None, fn: Callable[..., T], *args: Any) -> T:
    """``session.call`` from any thread of a pipelined batch.

    The call itself runs here; only a new server login (it signs with the key) runs
    on the thread that holds the key session, once for all the threads that found
    the same token expired.
    """
    if ticket is None:
        return session.call(p11, fn, *args)
    for attempt in range(3):
        failed = session.client.token
        try:
            return fn(*args)
        except errors.AuthRequired:
            if attempt == 2:
                raise

            def relogin(failed: Any = failed) -> None:
                if session.client.token != failed:
                    return  # another thread of the batch logged in again meanwhile: try that
                # No forget() first: the other threads keep a token (the old one) until the
                # new one replaces it, rather than none at all for the length of a login.
                session.login(p11)

            ticket.on_owner(relogin)
    raise AssertionError("unreachable")


def sign_to_outbox(signer: TaskSigner, session: Any, p11: Any, outbox: Outbox, task: Task,
                   seal: Any, recorder: SealRecorder | None = None,
                   ticket: Ticket | None = None, original: bytes | None = None) -> tuple[OutboxEntry, bool]:
    """(the outbox entry for ``task``, whether it was signed now rather than found waiting).

    The seal-use register's entry is committed with the signed file on disk and before
    the outbox commits it (``recorder``; a task that fails after the PIN is recorded too).
    ``ticket``: the task's place in a pipelined batch (:mod:`zhenglian.pdf.overlap`): it
    takes the key, and then the outbox and the register, in the batch's order.
    ``original``: the task's document when already downloaded (and hash-checked) by
    :meth:`ServerClient.download` (:mod:`zhenglian.tasks.prefetch`).
    """
    client = session.client
    entry = outbox.find(client.origin, task.id)
    if entry is not None:
        return entry, False  # signed earlier and not yet uploaded: never sign twice
    if original is None:
        original = server_call(session, p11, ticket, client.download, task)
    try:
        signed, made = signer.sign_with_result(original, task, seal, ticket)
    except errors.ZhenglianError as exc:
        if recorder is not None:
            in_sha, in_size = input_facts(original)
            recorder.not_signed(outcome_of(exc), name=task.title, seal=seal, error=exc, task_id=task.id,
                                input_sha256=in_sha, input_size=in_size)
        raise
    return queue_signed(outbox, client.origin, task, original, signed, made, seal, recorder,
                        key_serial=signer.key.serial, ticket=ticket), True


def queue_signed(outbox: Outbox, origin: str, task: Task, original: bytes, signed: bytes, made: Any, seal: Any,
                 recorder: SealRecorder | None, *, key_serial: str = "", ticket: Ticket | None = None) -> OutboxEntry:
    """A task's signed file into the outbox (written and fsynced), its register entry committed
    with it and before the outbox record; ``ticket``: both in the batch's order."""
    in_sha, in_size = input_facts(original)

    def commit(entry: OutboxEntry) -> None:
        if recorder is not None:
            recorder.publish_signed(None, made, name=task.title, seal=seal, input_sha256=in_sha,
                                    input_size=in_size, output_sha256=entry.sha256,
                                    output_path=f"outbox:{entry.id}", task_id=task.id)

    # The signed file is written (and fsynced) beside the other documents of the batch; its
    # register entry and outbox record are committed in the batch's order.
    with outbox.stage(origin, task.id, signed, key_serial=key_serial, title=task.title) as staged, \
            (ticket or SoloTicket()).publish():
        return staged.commit(commit)
