"""BridgeJobs (redeem → task → confirm → PIN → sign → upload) against the real reference server.

The keys are the demo keys on the test SoftHSM; the confirmation and the
PIN prompter are scripted here (the Qt ones are tested in test_bridge_ui.py
and end to end in test_bridge_e2e.py).
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from helpers.server import RunningServer  # noqa: F401

from zhenglian import errors
from zhenglian.bridge.jobs import DONE, FAILED, BridgeJobs, SignRequestInfo
from zhenglian.bridge.protocol import SignRequest
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.server.api import ServerClient
from zhenglian.server.session import ServerSession
from zhenglian.server.tokenstore import TokenStore
from zhenglian.services import Context
from zhenglian.tasks.outbox import Outbox
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer

NETCA, SZCA, GDCA = DEMO_KEYS
PAGE = "https://sign.example.org"  # the page's origin as the bridge passed it on


class ScriptedPrompter:
    """A PinPrompter answering from a list (None = the user cancels); records what it was shown."""

    def __init__(self, events: list[str], pins: list[str | None]) -> None:
        self.events = events
        self.pins = list(pins)
        self.error: errors.ZhenglianError | None = None
        self.errors_shown: list[str] = []

    def locked(self, st: Any, error: Any) -> None:
        self.events.append("locked")

    def confirm_final_try(self, st: Any) -> bool:
        self.events.append("final_try")
        return False

    def ask_pin(self, st: Any) -> PinBuffer | None:
        self.events.append("pin")
        if self.error is not None:
            self.errors_shown.append(self.error.code)
        pin = self.pins.pop(0) if self.pins else None
        return PinBuffer(pin) if pin is not None else None

    def pinpad(self, st: Any) -> Any:
        return nullcontext()

    def keep_pin(self) -> bool:
        return False

    def show_error(self, error: errors.ZhenglianError) -> None:
        self.error = error


class Harness:
    def __init__(self, server: RunningServer, tmp: Path, labels: list[str], pins: list[str | None],
                 answer: bool | threading.Event = True, tokens: TokenStore | None = None) -> None:
        self.server = server
        self.ctx = Context.create()
        keys = [self.ctx.tokens.find_key(label) for label in labels]
        self.events: list[str] = []
        self.infos: list[SignRequestInfo] = []
        self.prompters: list[ScriptedPrompter] = []
        self.pins = pins
        self.answer = answer
        self.tokens = tokens or TokenStore(use_keyring=False)
        self.outbox = Outbox(tmp / "outbox")
        settings = SimpleNamespace(ca_bundle="", allowed_origins=[PAGE], server_url=server.url)
        self.jobs = BridgeJobs(settings, self.ctx.tokens, lambda: list(keys), self.confirm, self.prompter,
                               token_store=self.tokens, outbox=self.outbox,
                               client_factory=lambda url: ServerClient(url, timeout=10, retries=1, backoff=0.05))

    def confirm(self, info: SignRequestInfo) -> bool:
        self.events.append("confirm")
        self.infos.append(info)
        if isinstance(self.answer, threading.Event):
            self.answer.wait(20)
            return True
        return self.answer

    def prompter(self, key: Any) -> ScriptedPrompter:
        p = ScriptedPrompter(self.events, self.pins)
        self.prompters.append(p)
        return p

    def ticket(self, task_id: str, uscc: str) -> str:
        r = httpx.post(f"{self.server.url}/web/api/tasks/{task_id}/ticket", params={"institution": uscc})
        assert r.status_code == 200, r.text
        return r.json()["ticket"]

    def request(self, task_id: str, ticket: str, institution: str | None = None) -> SignRequest:
        return SignRequest(origin=PAGE, server=self.server.url, server_origin=self.server.url, task_id=task_id,
                           ticket=ticket, institution=institution)

    def run(self, req: SignRequest) -> dict[str, Any]:
        job = self.jobs.table.create(req.origin, req.task_id)
        self.jobs.run(job, req)
        return job.to_dict()


def login(h: Harness, spec: Any) -> None:
    """Log the key in beforehand, as an earlier session would have (the token in the store)."""
    k = h.ctx.tokens.find_key(spec.label)
    session = ServerSession(ServerClient(h.server.url), k, h.tokens)
    with pinops.user_session(h.ctx.tokens.handle(k), PinBuffer(spec.user_pin)) as p11:
        session.login(p11)


def test_no_login_yet_one_pin_then_confirm_sign_upload(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("贷款合同",))[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    ticket = h.ticket(tid, SZCA.uscc)
    from zhenglian.register import Register

    before = Register.open().head().seq
    out = h.run(h.request(tid, ticket, SZCA.uscc))
    assert out["state"] == DONE, out
    # The seal-use register has exactly this one use, from the page, with the signed file's hash.
    (entry,) = [e for e in Register.open().list() if e.seq > before]
    assert entry.use.origin == "web" and entry.use.web_origin == PAGE and entry.use.task_id == tid
    assert entry.use.outcome == "signed" and entry.use.output_sha256 == out["result"]["sha256"]
    assert out["result"]["status"] == "signed" and out["result"]["task_id"] == tid
    # One PIN: asked to log in (the task is only readable after), kept for the signing, then the confirmation.
    assert h.events == ["pin", "confirm"]
    info = h.infos[0]
    assert info.pin_entered is True  # the confirmation says the key is already logged in
    assert info.origin == PAGE and info.server == reference_server.url and info.task_id == tid
    assert info.institution == SZCA.organization and info.uscc == SZCA.uscc
    assert info.seal_type == "合同专用章" and "合同专用章" in info.seal_name and info.seal_png.startswith(b"\x89PNG")
    task = reference_server.store.task(tid)
    assert task.status == "signed" and reference_server.uploads_per_task() == {tid: 1}
    assert h.outbox.pending() == []
    text = json.dumps(out, ensure_ascii=False)
    assert SZCA.user_pin not in text and ticket not in text and "%PDF" not in text


def test_stored_login_confirms_before_the_pin(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    # Three keys plugged in; only SZCA's has a login; no institution hint from the page.
    h = Harness(reference_server, tmp_path, [s.label for s in DEMO_KEYS], [SZCA.user_pin])
    login(h, SZCA)
    out = h.run(h.request(tid, h.ticket(tid, SZCA.uscc)))
    assert out["state"] == DONE, out
    assert h.events == ["confirm", "pin"]
    assert h.infos[0].pin_entered is False  # the confirmation says the PIN comes next
    assert reference_server.store.task(tid).status == "signed"


def test_declined_confirmation_signs_nothing(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin], answer=False)
    login(h, SZCA)
    out = h.run(h.request(tid, h.ticket(tid, SZCA.uscc), SZCA.uscc))
    assert out["state"] == FAILED and out["error"]["code"] == "cancelled"
    assert h.events == ["confirm"]  # no PIN asked
    assert reference_server.store.task(tid).status == "pending" and reference_server.uploads_per_task() == {}


def test_page_names_another_institution(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    out = h.run(h.request(tid, h.ticket(tid, NETCA.uscc), NETCA.uscc))
    assert out["error"]["code"] == "wrong_institution"
    assert NETCA.uscc in out["error"]["message_zh"]
    assert SZCA.organization not in out["error"]["message_zh"] + out["error"]["message_en"]  # never told whose keys
    assert h.events == []


def test_ticket_of_another_institution_is_refused_and_not_used_up(reference_server, demo_keys,  # noqa: F811
                                                                   tmp_path) -> None:
    tid = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    login(h, SZCA)
    ticket = h.ticket(tid, NETCA.uscc)
    out = h.run(h.request(tid, ticket))
    # The ticket check (no login) names its institution: the plugged-in key is not that one's.
    assert out["error"]["code"] == "wrong_institution"
    assert NETCA.uscc in out["error"]["message_zh"]
    assert h.events == []
    # NETCA can still redeem it: SZCA's attempt did not use it up.
    assert reference_server.store.take_ticket(ticket, NETCA.uscc, time.time()) is not None


def test_forged_ticket_is_refused_before_any_pin(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    """A key with no stored login would need a PIN to redeem: the ticket is checked first."""
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    out = h.run(h.request(tid, "forged-" + "x" * 30))
    assert out["error"]["code"] == "ticket_invalid"
    assert h.events == []  # no PIN dialog, no confirmation
    used = h.ticket(tid, SZCA.uscc)
    assert reference_server.store.take_ticket(used, SZCA.uscc, time.time()) is not None
    out = h.run(h.request(tid, used))  # used up already
    assert out["error"]["code"] == "ticket_invalid" and h.events == []


def test_ticket_for_another_task_is_refused(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    a, b = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    login(h, SZCA)
    out = h.run(h.request(b, h.ticket(a, SZCA.uscc)))
    assert out["error"]["code"] == "ticket_mismatch"
    assert h.events == []
    assert {reference_server.store.task(i).status for i in (a, b)} == {"pending"}


def test_wrong_pin_is_shown_and_asked_again_never_retried(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], ["Wrong@PIN12", None])
    login(h, SZCA)
    out = h.run(h.request(tid, h.ticket(tid, SZCA.uscc)))
    assert out["error"]["code"] == "cancelled"
    assert h.events == ["confirm", "pin", "pin"]  # the user saw the error and cancelled
    assert h.prompters[0].errors_shown == ["wrong_pin"]
    assert reference_server.store.task(tid).status == "pending"
    # Clear the wrong try from our counter for the other tests.
    from zhenglian.tokens import pincounter

    pincounter.reset(h.ctx.tokens.find_key(SZCA.label).serial)


def test_keys_and_seals_refusals_before_any_dialog(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    none = Harness(reference_server, tmp_path, [], [])
    assert none.run(none.request(tid, "t" * 20))["error"]["code"] == "no_key"
    # Several keys without a stored login: the ticket's institution (checked before any PIN) picks SZCA's
    # key, so only its PIN is asked (cancelled here); with no ticket check, the page must name one.
    several = Harness(reference_server, tmp_path, [s.label for s in DEMO_KEYS], [])
    assert several.run(several.request(tid, several.ticket(tid, SZCA.uscc)))["error"]["code"] == "cancelled"
    assert several.events == ["pin"] and len(several.prompters) == 1
    several.events.clear()
    no_seal = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, seal_type="抵押业务专用章")[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    login(h, SZCA)
    out = h.run(h.request(no_seal, h.ticket(no_seal, SZCA.uscc)))
    assert out["error"]["code"] == "task_seal_missing" and "抵押业务专用章" in out["error"]["message_zh"]
    assert none.events == several.events == h.events == []


def test_upload_failure_leaves_the_signed_file_queued(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    tid = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin])
    login(h, SZCA)
    req = h.request(tid, h.ticket(tid, SZCA.uscc))
    reference_server.fault("upload-500")
    try:
        out = h.run(req)
    finally:
        reference_server.fault("")
    assert out["state"] == DONE and out["result"]["status"] == "queued"
    assert [e.task_id for e in h.outbox.pending()] == [tid]
    assert reference_server.store.task(tid).status == "pending"
    # The outbox sends it later (TaskSync does this in the tray app), once.
    client = ServerClient(reference_server.url)
    client.token = h.tokens.get(reference_server.url, h.ctx.tokens.find_key(SZCA.label).serial).token
    report = h.outbox.flush(client, force=True)
    assert [e.task_id for e in report.uploaded] == [tid]
    assert reference_server.store.task(tid).status == "signed"


def test_second_request_while_one_runs_is_busy(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    a, b = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    release = threading.Event()
    h = Harness(reference_server, tmp_path, [SZCA.label], [SZCA.user_pin], answer=release)
    login(h, SZCA)
    job = h.jobs.submit(h.request(a, h.ticket(a, SZCA.uscc)))
    deadline = time.monotonic() + 20
    while job.step != "confirming" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.step == "confirming"
    with pytest.raises(errors.BridgeBusy):
        h.jobs.submit(h.request(b, h.ticket(b, SZCA.uscc)))
    release.set()
    deadline = time.monotonic() + 60
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.state == DONE, job.to_dict()
    assert h.jobs.get(job.id, PAGE) is job and h.jobs.get(job.id, "https://other.example") is None


def _no_try_spent(h: Harness, spec: Any) -> None:
    from zhenglian.tokens import pincounter

    k = h.ctx.tokens.find_key(spec.label)
    st = pinops.status(h.ctx.tokens.handle(k))
    assert pincounter.failures(k.serial) == 0 and not st.flags.count_low and st.tries_left == st.max_tries


def test_factory_pin_is_refused_for_the_login(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    """NETCA's factory PIN typed to log in for the page: refused before the key, nothing signed."""
    assert NETCA.user_pin == "12345678"
    tid = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [NETCA.label], [NETCA.user_pin])
    out = h.run(h.request(tid, h.ticket(tid, NETCA.uscc), NETCA.uscc))
    assert out["state"] == FAILED and out["error"]["code"] == "initial_pin", out
    assert "zhenglian pin change" in out["error"]["hint_zh"]
    assert h.events == ["pin"]  # asked once, never again, no confirmation
    assert reference_server.store.task(tid).status == "pending" and reference_server.uploads_per_task() == {}
    _no_try_spent(h, NETCA)


def test_factory_pin_is_refused_for_the_signing(reference_server, demo_keys, tmp_path) -> None:  # noqa: F811
    """Logged in earlier (a stored server login): the signing PIN is the factory PIN — refused, nothing
    signed or uploaded, the task still pending."""
    tid = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)[0]
    h = Harness(reference_server, tmp_path, [NETCA.label], [NETCA.user_pin])
    login(h, NETCA)
    out = h.run(h.request(tid, h.ticket(tid, NETCA.uscc), NETCA.uscc))
    assert out["state"] == FAILED and out["error"]["code"] == "initial_pin", out
    assert h.events == ["confirm", "pin"]
    assert reference_server.store.task(tid).status == "pending" and reference_server.uploads_per_task() == {}
    assert h.outbox.pending() == []
    _no_try_spent(h, NETCA)
