"""Signing jobs started by the web page: the job table and the runner.

One job at a time (a second request while one runs is refused as busy).
A job runs in its own thread:

1. **Which key, and the task.**  The ticket is first checked at the signing
   server without any login (``/tickets/check``: good, for this task, for which
   institution) — a forged or used ticket is refused before any dialog, and
   only keys of the ticket's institution are considered.  It is then redeemed
   with the key's login.  A key with a stored login (keyring) redeems at
   once, no PIN; a ticket of another institution fails there without being
   used up, so every key with a login may try.  Otherwise the one key left
   logs in with its PIN first (the PIN is then kept, in memory only, for
   this job's signing step and wiped when the job ends — one PIN per job).
   The page's ``institution`` (USCC), when given, narrows the keys.
2. **Prepare.**  The certificate must be valid, the task pending, and a seal
   of the task's type usable (key, server or imported) — refusals that need
   no PIN come before any dialog.
3. **Confirm.**  The caller's ``confirm(info)`` shows the user the requesting
   site, the document, the institution and the seal; nothing is signed
   without a yes.
4. **PIN and sign.**  The caller's :class:`~zhenglian.tokens.pin.PinPrompter`
   asks the PIN (flags first, final-try confirmation; a wrong PIN is shown
   and asked again at most :data:`MAX_PIN_ROUNDS` times, never retried by
   itself).  The document is downloaded and hash-checked, signed with
   :mod:`zhenglian.tasks` (TaskSigner: local verification), put in the
   outbox *before* the upload, and uploaded.  A failed upload leaves the
   file in the outbox (sent later, once): the page is told "queued".

Every failure ends the job with a typed error from :mod:`zhenglian.errors`;
its ``code`` is what the page sees (docs/bridge.md).  The job's JSON never
holds a document, a PIN or the ticket.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from zhenglian import errors
from zhenglian.bridge.protocol import SignRequest
from zhenglian.tokens.model import KeyInfo

log = logging.getLogger(__name__)

MAX_PIN_ROUNDS = 3  # PIN dialogs per job, the first included
MAX_JOBS_KEPT = 32  # finished jobs stay readable for the page's polling …
JOB_KEEP_S = 600.0  # … this long

# Steps, in order (the page shows them as progress).
STEPS = ("starting", "login", "redeeming", "preparing", "confirming", "pin", "signing", "uploading", "finished")

RUNNING, DONE, FAILED = "running", "done", "failed"

T = TypeVar("T")


@dataclass(frozen=True)
class SignRequestInfo:
    """What the user confirms: who asks, for which document, with which key and seal."""

    origin: str  # the requesting web page
    server: str  # the signing server's origin
    task_id: str
    title: str
    filename: str
    business_type: str
    deadline: str | None
    institution: str  # the certificate's organisation
    uscc: str
    seal_name: str
    seal_type: str
    seal_png: bytes = field(repr=False)
    key_label: str
    key_serial: str
    ca_name_zh: str | None
    ca_name_en: str | None
    # The key is already logged in for this job: its PIN, typed to log in to the server, is kept
    # for the signing step, so Confirm seal signs at once and no PIN is asked after it.
    pin_entered: bool = False


@dataclass
class Job:
    id: str
    origin: str
    task_id: str
    created: float = field(default_factory=time.monotonic)
    state: str = RUNNING
    step: str = "starting"
    title: str = ""
    result: dict[str, Any] | None = None
    error: errors.ZhenglianError | None = None
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        err = None
        if self.error is not None:
            hz, he = self.error.hint()
            err = {"code": self.error.code, "message_zh": self.error.message_zh(),
                   "message_en": self.error.message_en(), "hint_zh": hz, "hint_en": he}
        return {"job": self.id, "state": self.state, "step": self.step, "task_id": self.task_id,
                "title": self.title, "result": self.result, "error": err}


class JobTable:
    """Jobs by id; finished ones are kept a while for the page to read, then dropped."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        now = time.monotonic()
        for jid in [j.id for j in self._jobs.values() if j.finished is not None and now - j.finished > JOB_KEEP_S]:
            del self._jobs[jid]
        done = sorted((j for j in self._jobs.values() if j.finished is not None), key=lambda j: j.finished or 0)
        while len(self._jobs) > MAX_JOBS_KEPT and done:
            del self._jobs[done.pop(0).id]

    def create(self, origin: str, task_id: str) -> Job:
        """A new running job; BridgeBusy when one is running already."""
        with self._lock:
            self._prune()
            if any(j.state == RUNNING for j in self._jobs.values()):
                raise errors.BridgeBusy()
            job = Job(secrets.token_urlsafe(18), origin, task_id)
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str, origin: str | None) -> Job | None:
        """A job, for the origin that started it only."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.origin == origin else None

    def running(self) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.state == RUNNING), None)


class BridgeJobs:
    """Runs sign requests from the page.  Qt-free: the GUI gives the callbacks.

    ``keys()`` lists the keys plugged in (the tray's watcher snapshot);
    ``tokens`` is the :class:`~zhenglian.tokens.manager.TokenManager`
    (``handle(key)``); ``confirm(info)`` and
    ``prompter(key)`` are called from the job's thread and must marshal to
    the GUI themselves.  ``on_update(job)`` is told each step and the end.
    """

    def __init__(self, settings: Any, tokens: Any, keys: Callable[[], list[KeyInfo]],
                 confirm: Callable[[SignRequestInfo], bool], prompter: Callable[[KeyInfo], Any], *,
                 on_update: Callable[[Job], None] | None = None, token_store: Any = None,
                 outbox: Any = None, client_factory: Callable[[str], Any] | None = None,
                 confirm_login: Callable[[str, str], bool] | None = None) -> None:
        self.settings = settings
        # (page origin, server origin) -> may the key log in for this page?  Asked before a login
        # PIN, so the first thing the operator sees of a page's request names the page.
        self.confirm_login = confirm_login
        self.tokens = tokens
        self.keys = keys
        self.confirm = confirm
        self.prompter = prompter
        self.on_update = on_update
        self._token_store = token_store
        self._outbox = outbox
        self._client_factory = client_factory
        self.table = JobTable()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- public ------------------------------------------------------------------

    def submit(self, req: SignRequest) -> Job:
        """Start a job for a validated request; BridgeBusy while another runs."""
        if self._stop.is_set():
            raise errors.BridgeBusy()
        job = self.table.create(req.origin, req.task_id)
        thread = threading.Thread(target=self.run, args=(job, req), name="zhenglian-bridge-job", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        log.info("bridge job %s: %s asks to sign task %s on %s", job.id[:6], req.origin, req.task_id,
                 req.server_origin)
        return job

    def get(self, job_id: str, origin: str | None) -> Job | None:
        return self.table.get(job_id, origin)

    @property
    def busy(self) -> bool:
        return self.table.running() is not None

    def stop(self, wait_s: float = 2.0) -> None:
        """No new jobs; a running one ends at its next step (as cancelled)."""
        self._stop.set()
        for t in self._threads:
            t.join(wait_s)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, job: Job, req: SignRequest) -> None:
        """The whole job, in the calling thread (submit() runs it in a new one)."""
        from zhenglian.tokens.pincache import PinCache

        cache = PinCache(idle_s=900)
        try:
            job.result = self._run(job, req, cache)
            job.state = DONE
        except errors.ZhenglianError as exc:
            job.error, job.state = exc, FAILED
            log.info("bridge job %s failed: %s", job.id[:6], exc.code)
        except Exception as exc:  # noqa: BLE001 - the page gets an answer, the app keeps running
            log.exception("bridge job %s failed unexpectedly", job.id[:6])
            job.error, job.state = errors.ZhenglianError(detail=type(exc).__name__), FAILED
        finally:
            cache.close()
            job.finished = time.monotonic()
            self._step(job, "finished")

    # --- steps -------------------------------------------------------------------

    def _step(self, job: Job, step: str) -> None:
        if step != "finished" and self._stop.is_set():
            raise errors.SignDeclined()
        job.step = step
        if self.on_update is not None:
            try:
                self.on_update(job)
            except Exception:  # noqa: BLE001 - a broken listener must not break signing
                log.exception("bridge on_update failed")

    def _tokenstore(self) -> Any:
        if self._token_store is None:
            from zhenglian.server.tokenstore import TokenStore

            self._token_store = TokenStore()
        return self._token_store

    def _client(self, url: str) -> Any:
        if self._client_factory is not None:
            return self._client_factory(url)
        from zhenglian.server.api import ServerClient

        return ServerClient(url, ca_bundle=self.settings.ca_bundle or "")

    def _run(self, job: Job, req: SignRequest, cache: Any) -> dict[str, Any]:
        from zhenglian.server.session import ServerSession

        self._step(job, "starting")
        client = self._client(req.server)
        try:
            self._candidates(req)  # no key plugged in (or none of the page's institution): say so first
            ticket_uscc = self._check_ticket(client, req)
            key, session, task, logged_in_with_pin = self._acquire(job, req, client, cache, ServerSession,
                                                                   ticket_uscc)
            job.title = task.title
            h = self.tokens.handle(key)
            self._step(job, "preparing")
            seal, info = self._prepare(req, h, session, task)
            # What the confirmation says comes next: the same fact _with_pin acts on below.
            info = replace(info, pin_entered=logged_in_with_pin and cache.has(key))
            self._step(job, "confirming")
            if not self.confirm(info):
                raise errors.SignDeclined()
            self._step(job, "pin")
            prompter = self.prompter(key)

            def sign(p11: Any) -> dict[str, Any]:
                self._step(job, "signing")
                session.ensure(p11)
                return self._sign(job, p11, session, h, task, seal)

            return self._with_pin(h, prompter, cache if logged_in_with_pin else None, sign)
        finally:
            client.close()

    @staticmethod
    def _check_ticket(client: Any, req: SignRequest) -> str | None:
        """The ticket's institution (USCC), checked before any PIN; None when the server cannot say."""
        try:
            task_id, uscc = client.check_ticket(req.ticket)
        except errors.ServerRefused as exc:
            if exc.reason == "ticket_invalid":
                raise errors.TicketInvalid() from None
            log.info("server has no ticket check (%s): the ticket is checked when redeemed", exc.reason)
            return None
        if task_id != req.task_id:
            raise errors.TicketTaskMismatch(got=task_id[:64], expected=req.task_id[:64])
        return uscc

    def _candidates(self, req: SignRequest, ticket_uscc: str | None = None) -> list[KeyInfo]:
        keys = [k for k in self.keys() if k.signing_certificate() is not None]
        if not keys:
            raise errors.NoKey()
        for wanted in (req.institution, ticket_uscc):
            if not wanted:
                continue
            mine = [k for k in keys if k.signing_certificate().info.uscc == wanted]  # type: ignore[union-attr]
            if not mine:
                raise errors.KeyOfOtherInstitution(wanted=wanted)  # the page is not told whose keys are in
            keys = mine
        return keys

    def _acquire(self, job: Job, req: SignRequest, client: Any, cache: Any,
                 session_cls: Any, ticket_uscc: str | None = None) -> tuple[KeyInfo, Any, Any, bool]:
        """(key, server session, task, whether the PIN was asked to log in)."""
        keys = self._candidates(req, ticket_uscc)
        store = self._tokenstore()
        without_login: list[KeyInfo] = []
        for key in keys:
            session = session_cls(client, key, store, self.tokens.handle(key))
            if not session.restore():
                without_login.append(key)
                continue
            self._step(job, "redeeming")
            try:
                return key, session, self._redeem(session, req), False
            except errors.TicketInvalid:
                client.token = None
                continue  # another institution's key: the ticket is not used up by this try
            except errors.AuthRequired:
                session.forget()
                without_login.append(key)
        if not without_login:
            raise errors.TicketInvalid()
        if len(without_login) > 1:
            raise errors.SeveralKeysPlugged(count=len(without_login))  # no names for the page
        key = without_login[0]
        session = session_cls(client, key, store, self.tokens.handle(key))
        if self.confirm_login is not None and not self.confirm_login(req.origin, client.origin):
            raise errors.SignDeclined()
        self._step(job, "login")
        self._with_pin(self.tokens.handle(key), self.prompter(key), cache, session.login, keep=True)
        self._step(job, "redeeming")
        return key, session, self._redeem(session, req), True

    @staticmethod
    def _redeem(session: Any, req: SignRequest) -> Any:
        try:
            task = session.client.redeem(req.ticket)
        except errors.ServerRefused as exc:
            if exc.reason == "ticket_invalid":
                raise errors.TicketInvalid() from None
            raise
        if task.id != req.task_id:
            raise errors.TicketTaskMismatch(got=task.id[:64], expected=req.task_id[:64])
        return task

    def _prepare(self, req: SignRequest, h: Any, session: Any, task: Any) -> tuple[Any, SignRequestInfo]:
        """Everything that can refuse without a PIN: certificate, task state, seal."""
        from zhenglian.tasks import pipeline, sealpick

        key = h.key
        h.check_usable()
        cert = h.signing_cert
        if task.status != "pending":
            raise errors.TaskNotPending(title=task.title, status=task.status, status_zh=task.status_zh)
        with h.backend.session(key.serial) as p11:  # seal objects are public: no PIN
            seals = pipeline.gather_seals(h, p11, session.client.seals)
        seal = sealpick.pick(seals, task)
        info = SignRequestInfo(
            origin=req.origin, server=req.server_origin, task_id=task.id, title=task.title,
            filename=task.filename, business_type=task.business_type, deadline=task.deadline,
            institution=cert.info.organization or key.label, uscc=cert.info.uscc or "",
            seal_name=seal.name, seal_type=seal.seal_type, seal_png=seal.png, key_label=key.label,
            key_serial=key.serial, ca_name_zh=key.ca_name_zh, ca_name_en=key.ca_name_en)
        return seal, info

    def _with_pin(self, h: Any, prompter: Any, cache: Any, body: Callable[[Any], T], *, keep: bool = False) -> T:
        """``body(p11)`` in a logged-in session; a wrong PIN is asked again (by the user), at most
        MAX_PIN_ROUNDS.  ``keep``: the PIN is kept in ``cache`` for this job's signing step."""
        from zhenglian.tokens import pin as pinops

        for round_ in range(MAX_PIN_ROUNDS):
            try:
                with pinops.interactive_session(h, prompter, cache=cache, keep=keep) as p11:
                    return body(p11)
            except errors.WrongPin as exc:
                if round_ == MAX_PIN_ROUNDS - 1 or self._stop.is_set():
                    raise
                prompter.show_error(exc)
        raise AssertionError("unreachable")

    def _sign(self, job: Job, p11: Any, session: Any, h: Any, task: Any, seal: Any) -> dict[str, Any]:
        from zhenglian.register.recorder import SealRecorder
        from zhenglian.tasks import pipeline
        from zhenglian.tasks.outbox import Outbox

        client = session.client
        outbox = self._outbox or Outbox()
        recorder = SealRecorder(h, "web", server=client.origin, web_origin=job.origin)
        with pipeline.open_task_signer(h, p11) as signer:
            entry, _ = pipeline.sign_to_outbox(signer, session, p11, outbox, task, seal, recorder)
        self._step(job, "uploading")
        base = {"task_id": task.id, "title": task.title, "sha256": entry.sha256}
        try:
            outcome = session.call(p11, outbox.upload_entry, entry, client)
        except (errors.ServerUnreachable, errors.ServerError) as exc:
            log.info("bridge job %s: upload deferred (%s); the file waits in the outbox", job.id[:6], exc.code)
            return {**base, "status": "queued"}
        if outcome == "refused":
            raise errors.ServerRefused(status=0, reason=entry.last_error, reason_zh=entry.last_message_zh,
                                       reason_en=entry.last_message_en)
        return {**base, "status": "signed", "duplicate": outcome == "duplicate"}
