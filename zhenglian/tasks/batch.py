"""Sign many tasks with one PIN: fetch, check, stamp, sign, verify, queue, upload.

- One PIN for the whole batch (and for the server login if one is needed):
  one logged-in key session from start to end.
- Each signed file goes to the outbox *before* it is uploaded; a background
  thread uploads while the next document is being signed.  Whatever happens
  after that (network down, server killed, the program killed) the file is
  on disk and the outbox sends it later, once.
- One task's failure (its document changed, its anchor is missing, the
  server refuses it) does not stop the others; a failure of the key itself
  (removed, broken) does, because every later task would fail the same way —
  the tasks not reached stay pending on the server, and the summary says so.
- ``cancel`` is checked before a document goes to the key; files already
  signed are still uploaded.
- The tasks overlap around the key (:mod:`zhenglian.pdf.overlap`): while the
  key signs one, the next is fetched and placed and the last one checked and
  queued.  The key signs them, and the outbox and the register take them, in
  the batch's order; outcomes are reported in that order.  "signed" is
  reported when the key has made the signature (then "failed" if a later step
  fails), so a cancel or a pulled key stops at the document the operator saw.
- ``progress`` is called from the batch's threads and from the upload thread
  (never at the same time).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from zhenglian import errors
from zhenglian.backoff import Backoff
from zhenglian.keys.handle import KeyHandle
from zhenglian.pdf.overlap import Overlap, Stopped, Ticket
from zhenglian.register.recorder import SealRecorder
from zhenglian.server.models import Placement, Task
from zhenglian.server.session import ServerSession
from zhenglian.tasks import sealpick
from zhenglian.tasks.outbox import Outbox, OutboxEntry
from zhenglian.tasks.prefetch import Prefetch
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer

log = logging.getLogger(__name__)

class TaskState(StrEnum):
    """Outcome of one task in a batch."""

    UPLOADED = "uploaded"  # the server has the signed file
    QUEUED = "queued"  # signed, waiting in the outbox (uploaded later)
    FAILED = "failed"  # not signed (or refused by the server): see error
    NOT_SIGNED = "not_signed"  # not reached: cancelled, or the key failed before it
    SKIPPED = "skipped"  # no longer pending on the server


UPLOADED, QUEUED, FAILED, NOT_SIGNED, SKIPPED = (TaskState.UPLOADED, TaskState.QUEUED, TaskState.FAILED,
                                                 TaskState.NOT_SIGNED, TaskState.SKIPPED)

STATE_ZH = {UPLOADED: "已签署并上传", QUEUED: "已签署，等待上传", FAILED: "失败", NOT_SIGNED: "未签署",
            SKIPPED: "已跳过"}
# The key itself failed: no later task can be signed either.
KEY_FAILURES = (errors.TokenRemoved, errors.TokenError, errors.NoKey, errors.DriverError)
# The server could not be reached this many times in a row: stop fetching.
MAX_FETCH_FAILURES = 2


@dataclass
class TaskOutcome:
    task_id: str
    title: str = ""
    state: TaskState = NOT_SIGNED
    error: errors.ZhenglianError | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "title": self.title, "state": self.state, "state_zh": STATE_ZH[self.state],
                "sha256": self.sha256, "error": self.error.to_dict() if self.error else None}


@dataclass(frozen=True)
class Progress:
    """One step: ``phase`` is fetching, signed, uploaded, queued, failed or skipped."""

    index: int  # 0-based position in the batch
    total: int
    task_id: str
    title: str
    phase: str
    error: errors.ZhenglianError | None = None
    signed: int = 0
    uploaded: int = 0


@dataclass
class BatchResult:
    outcomes: list[TaskOutcome] = field(default_factory=list)
    cancelled: bool = False
    stopped_by: errors.ZhenglianError | None = None  # the key failure that ended the batch early
    seconds: float = 0.0

    def count(self, state: TaskState) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def signed(self) -> int:
        return self.count(UPLOADED) + self.count(QUEUED)

    @property
    def ok(self) -> bool:
        return all(o.state == UPLOADED for o in self.outcomes) and not self.cancelled

    def summary_zh(self) -> str:
        parts = [f"共 {len(self.outcomes)} 个任务：已签署并上传 {self.count(UPLOADED)} 个"]
        for state in (QUEUED, FAILED, NOT_SIGNED, SKIPPED):
            if self.count(state):
                parts.append(f"{STATE_ZH[state]} {self.count(state)} 个")
        text = "，".join(parts)
        if self.cancelled:
            text += "（已取消）"
        if self.stopped_by is not None:
            text += f"。已中止：{self.stopped_by.message_zh()}"
        if self.count(NOT_SIGNED) or self.count(FAILED):
            text += "。未签署的任务仍在服务器的待签署列表中"
        if self.count(QUEUED):
            text += "。已签文件保存在待上传队列，将自动上传"
        return text

    def summary_en(self) -> str:
        parts = [f"{len(self.outcomes)} tasks: {self.count(UPLOADED)} signed and uploaded"]
        names = {QUEUED: "signed, waiting to upload", FAILED: "failed", NOT_SIGNED: "not signed", SKIPPED: "skipped"}
        for state in (QUEUED, FAILED, NOT_SIGNED, SKIPPED):
            if self.count(state):
                parts.append(f"{self.count(state)} {names[state]}")
        text = ", ".join(parts)
        if self.cancelled:
            text += " (cancelled)"
        if self.stopped_by is not None:
            text += f". Stopped: {self.stopped_by.message_en()}"
        if self.count(NOT_SIGNED) or self.count(FAILED):
            text += ". Tasks not signed are still pending on the server"
        if self.count(QUEUED):
            text += ". Signed files wait in the outbox and are uploaded automatically"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"summary_zh": self.summary_zh(), "summary_en": self.summary_en(), "cancelled": self.cancelled,
                "stopped_by": self.stopped_by.to_dict() if self.stopped_by else None,
                "seconds": round(self.seconds, 3), "tasks": [o.to_dict() for o in self.outcomes]}


UPLOAD_THREADS = 2  # uploads in flight at once (the server checks one while the next travels)


class _Uploader:
    """Uploads outbox entries in the background, retrying transient failures.

    Its threads run until :meth:`finish` is called and the queue is empty, or the
    finish deadline passes (what is left stays in the outbox).  :data:`UPLOAD_THREADS`
    entries go up at once: the server validates every signed file before it answers
    (tens of ms), and one upload at a time left the batch waiting on that chain.  Each
    entry is sent by one thread at a time (:meth:`Outbox.upload_entry`).  It never
    touches the key: when the server wants a new login it parks the entry and sets
    ``auth_needed`` for the signing thread, which holds the key session.
    """

    def __init__(self, outbox: Outbox, client: Any, on_result: Callable[[OutboxEntry, str, Any], None],
                 threads: int = UPLOAD_THREADS) -> None:
        self.outbox = outbox
        self.client = client
        self.on_result = on_result
        self.queue: queue.Queue[OutboxEntry | None] = queue.Queue()
        self.auth_needed = threading.Event()
        self.parked: list[OutboxEntry] = []
        self._parked_lock = threading.Lock()
        self._finish_at: float | None = None
        self._wake = threading.Condition()
        self.last_error: errors.ZhenglianError | None = None
        self._threads = [threading.Thread(target=self._run, name=f"zhenglian-uploader-{i}", daemon=True)
                         for i in range(max(1, threads))]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads, ``timeout`` seconds at most in all."""
        end = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if end is None else max(0.0, end - time.monotonic()))

    def submit(self, entry: OutboxEntry) -> None:
        self.queue.put(entry)

    def _wake_all(self) -> None:
        """Every thread looks at the state again (one None each; the backoff sleep too)."""
        for _ in self._threads:
            self.queue.put(None)
        with self._wake:
            self._wake.notify_all()

    def resume_after_login(self) -> None:
        with self._parked_lock:
            parked, self.parked = self.parked, []
        for entry in parked:  # queued before auth_needed clears: a finishing thread sees them
            self.submit(entry)
        self.auth_needed.clear()
        self._wake_all()  # threads waiting for entries (none may have been parked)

    def finish(self, wait_s: float) -> None:
        self._finish_at = time.monotonic() + wait_s
        self._wake_all()  # now, not at the threads' next look: the batch waits for them

    def _expired(self) -> bool:
        return self._finish_at is not None and time.monotonic() >= self._finish_at

    def _left(self) -> float | None:
        """Seconds until the finish deadline (None: no deadline yet, wait for entries or finish)."""
        return None if self._finish_at is None else max(0.0, self._finish_at - time.monotonic())

    def _sleep(self, seconds: float) -> None:
        """The backoff before a retry; ends early at the finish deadline (finish() wakes it)."""
        end = time.monotonic() + seconds
        with self._wake:
            while not self._expired():
                now = time.monotonic()
                left = end - now if self._finish_at is None else min(end, self._finish_at) - now
                if left <= 0:
                    return
                if self._wake.wait(left):
                    return  # woken: finish() or a login; the deadline decides

    def _done(self) -> bool:
        return self._finish_at is not None and self.queue.empty() and not self.auth_needed.is_set()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self.queue.put(None)  # another thread may wait for an entry with no deadline yet: it looks again

    def _serve(self) -> None:
        # Event-driven: submit, finish and a resumed login put into the queue, so a thread
        # waits on it with no timer (it used to look every 0.1 s: up to 0.1 s at each batch's end).
        wait = Backoff(0.5, 5.0)
        while True:
            if self._expired() or self._done():
                return
            try:
                entry = self.queue.get(timeout=self._left())
            except queue.Empty:
                return  # the finish deadline passed: what is left stays in the outbox
            if entry is None:
                continue  # woken: look at the state again
            try:
                outcome = self.outbox.upload_entry(entry, self.client)
            except errors.AuthRequired as exc:
                with self._parked_lock:
                    self.parked.append(entry)
                self.last_error = exc
                self.auth_needed.set()
                continue
            except (errors.ServerUnreachable, errors.ServerError) as exc:
                # Try the others before this one again: one bad answer must not block the queue.
                self.last_error = exc
                self.on_result(entry, "retrying", exc)
                self._sleep(wait.next())
                self.queue.put(entry)
                continue
            except Exception as exc:  # noqa: BLE001 - the thread must not die silently
                log.exception("upload of %s failed unexpectedly", entry.task_id)
                self.last_error = errors.ZhenglianError(detail=type(exc).__name__)
                continue
            wait.reset()
            self.on_result(entry, outcome, None)


def sign_tasks(session: ServerSession, h: KeyHandle, pin: PinBuffer | None,
               task_ids: Sequence[str] | None, outbox: Outbox, *,
               progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
               confirmed_final_try: bool = False, upload_wait_s: float = 30.0,
               placements: Mapping[str, Placement] | None = None) -> BatchResult:
    """Sign ``task_ids`` (None: every pending task) with one PIN; see the module docstring.

    ``placements`` replaces the server's placement of some tasks (the operator
    moved the seal in the preview, where the task allows it: no anchor text).
    """
    from zhenglian.pdf import keysign

    started = time.perf_counter()
    client = session.client
    if session.handle is None:
        session.handle = h  # a login inside the batch signs through the key seam (SM2 keys need it)
    keysign.precheck(h, confirmed_final_try=confirmed_final_try)
    # The task list, the seals and the documents are fetched ahead on a thread of their own
    # (zhenglian.tasks.prefetch): with a server token at hand already while the key checks the
    # PIN, else from the batch's server login on; no document waits for the network at its turn.
    prefetch = Prefetch(client, outbox, task_ids)
    if session.logged_in:
        prefetch.start()
    try:
        return _sign_logged_in(session, h, pin, task_ids, outbox, prefetch, progress=progress, cancel=cancel,
                               confirmed_final_try=confirmed_final_try, upload_wait_s=upload_wait_s,
                               placements=placements, started=started)
    finally:
        prefetch.discard()


def _sign_logged_in(session: ServerSession, h: KeyHandle, pin: PinBuffer | None,
                    task_ids: Sequence[str] | None, outbox: Outbox, prefetch: Prefetch, *,
                    progress: Callable[[Progress], None] | None, cancel: threading.Event | None,
                    confirmed_final_try: bool, upload_wait_s: float,
                    placements: Mapping[str, Placement] | None, started: float) -> BatchResult:
    from zhenglian.tasks import pipeline

    client = session.client
    result = BatchResult()
    lock = threading.Lock()
    by_id: dict[str, TaskOutcome] = {}
    order: dict[str, int] = {}
    counters = {"signed": 0, "uploaded": 0}

    def report(task_id: str, phase: str, error: errors.ZhenglianError | None = None) -> None:
        if progress is None:
            return
        o = by_id.get(task_id)
        with lock:
            try:
                progress(Progress(order.get(task_id, 0), len(by_id), task_id, o.title if o else "", phase, error,
                                  counters["signed"], counters["uploaded"]))
            except Exception:  # noqa: BLE001 - a broken callback must not break signing
                log.exception("progress callback failed")

    def on_upload(entry: OutboxEntry, outcome: str, error: Any) -> None:
        o = by_id.get(entry.task_id)
        if o is None:
            return
        if outcome in ("uploaded", "duplicate"):
            with lock:  # the uploader's threads report side by side
                o.state, o.error = UPLOADED, None
                counters["uploaded"] += 1
            report(entry.task_id, "uploaded")
        elif outcome == "refused":
            with lock:
                o.state = FAILED
                o.error = errors.ServerRefused(status=0, reason=entry.last_error,
                                               reason_zh=entry.last_message_zh, reason_en=entry.last_message_en)
            report(entry.task_id, "failed", o.error)
        elif outcome == "retrying":
            o.error = error

    with pinops.user_session(h, pin, confirmed_final_try=confirmed_final_try) as p11:
        if pin is not None:
            pin.wipe()  # logged in: the PIN is not needed again in this batch
        session.ensure(p11)
        prefetch.start()  # already running when a token was held
        fetched = prefetch.task_ids() if task_ids is None else None
        if task_ids is not None:
            ids = list(task_ids)
        elif fetched is not None:
            ids = fetched
        else:
            ids = [t.id for t in session.call(p11, client.tasks).tasks]
        for i, tid in enumerate(dict.fromkeys(ids)):
            by_id[tid] = TaskOutcome(tid)
            order[tid] = i
        result.outcomes = list(by_id.values())
        listed = prefetch.seals()
        seals = pipeline.gather_seals(h, p11, listed if listed is not None else lambda: session.call(p11, client.seals))
        recorder = SealRecorder(h, "task", server=client.origin)
        uploader = _Uploader(outbox, client, on_upload)
        uploader.start()
        fetch_failures = 0
        try:
            with pipeline.open_task_signer(h, p11) as signer:

                at_key: set[str] = set()  # tasks the key has signed (the "signed" report was made)

                def work(tid: str, ticket: Ticket) -> tuple[str, Any]:
                    """One task, on a pool thread: fetch, sign (at the key in turn), check, queue."""
                    queued = outbox.find(client.origin, tid)
                    if queued is not None:  # signed earlier, not yet uploaded: never sign twice
                        return "queued", queued
                    report(tid, "fetching")
                    fetched = prefetch.take(tid)
                    original = None
                    if fetched is not None:
                        task, original = fetched  # fetched ahead (zhenglian.tasks.prefetch)
                    else:
                        task = pipeline.server_call(session, p11, ticket, client.task, tid)
                    by_id[tid].title = task.title
                    if task.status != "pending":
                        return "skipped", task
                    moved = (placements or {}).get(tid)
                    if moved is not None and not task.placement.anchor_text:
                        task = dataclasses.replace(task, placement=moved)

                    def signed_by_key() -> None:
                        with lock:
                            at_key.add(tid)
                            counters["signed"] += 1
                        report(tid, "signed")

                    ticket.after_key = signed_by_key
                    entry, _ = pipeline.sign_to_outbox(signer, session, p11, outbox, task,
                                                       sealpick.pick(seals, task), recorder, ticket,
                                                       original=original)
                    return "signed", entry

                def keep_going() -> bool:
                    if uploader.auth_needed.is_set():
                        _relogin(session, p11, uploader)  # this thread holds the key session
                    if cancel is not None and cancel.is_set():
                        result.cancelled = result.stopped_by is None
                        return False
                    return result.stopped_by is None

                # While the key signs task k, task k+1 is fetched and placed and task k-1
                # checked and queued (zhenglian.pdf.overlap); outcomes come back in order.
                with Overlap(work, stops=lambda e: isinstance(e, KEY_FAILURES), cancel=cancel) as overlap:
                    for done in overlap.map(by_id, keep_going=keep_going):
                        tid, outcome = done.item, by_id[done.item]
                        exc = done.error
                        if exc is None:
                            assert done.result is not None
                            kind, value = done.result
                            if kind == "queued":
                                outcome.title, outcome.state, outcome.sha256 = value.title, QUEUED, value.sha256
                                uploader.submit(value)
                            elif kind == "skipped":
                                outcome.state = SKIPPED
                                outcome.error = errors.TaskNotPending(title=value.title, status=value.status,
                                                                      status_zh=value.status_zh)
                                report(tid, "skipped", outcome.error)
                            else:
                                fetch_failures = 0
                                outcome.state, outcome.sha256 = QUEUED, value.sha256
                                uploader.submit(value)
                            continue
                        if isinstance(exc, Stopped):
                            if cancel is not None and cancel.is_set() and result.stopped_by is None:
                                result.cancelled = True
                            continue  # not reached: stays NOT_SIGNED
                        if not isinstance(exc, errors.ZhenglianError):
                            raise exc
                        if tid in at_key:  # the key signed it, a later step failed: not signed after all
                            with lock:
                                counters["signed"] -= 1
                        outcome.state, outcome.error = FAILED, exc
                        report(tid, "failed", exc)
                        if isinstance(exc, KEY_FAILURES):
                            result.stopped_by = result.stopped_by or exc
                        elif isinstance(exc, errors.ServerUnreachable | errors.ServerError):
                            fetch_failures += 1
                            if fetch_failures >= MAX_FETCH_FAILURES and result.stopped_by is None:
                                result.stopped_by = exc
                                overlap.stop_after(done.index)
        finally:
            if counters["signed"]:
                from zhenglian.keys.session import KeySession

                # the key is only touched when the setting asks (it may have been pulled out)
                recorder.anchor_if_enabled(lambda message: KeySession(h, p11).sign(message))
            # Signed files are on disk: let the uploads finish (bounded), with the
            # key session still open in case the server asks for a new login.
            uploader.finish(upload_wait_s)
            while uploader.is_alive():
                uploader.join(0.2)
                if uploader.auth_needed.is_set() and result.stopped_by is None:
                    try:
                        _relogin(session, p11, uploader)
                    except errors.ZhenglianError as exc:
                        log.warning("re-login for uploads failed: %s", exc.code)
                        uploader.finish(0)
    for o in result.outcomes:
        if o.state == QUEUED and o.error is None:
            o.error = uploader.last_error
        if o.state == NOT_SIGNED and o.error is None:
            o.error = result.stopped_by or (errors.PinCancelled() if result.cancelled else None)
    result.seconds = time.perf_counter() - started
    return result


def _relogin(session: ServerSession, p11: Any, uploader: _Uploader) -> None:
    session.forget()
    session.login(p11)
    uploader.resume_after_login()


__all__ = ["BatchResult", "Progress", "TaskOutcome", "sign_tasks", "Task"]
