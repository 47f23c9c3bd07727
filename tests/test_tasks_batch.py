"""Login, list and batch signing against the real reference server (uvicorn, SQLite in tmp)."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest
from helpers.tasks import SZCA, key_parts, session_for

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.server.tokenstore import TokenStore
from zhenglian.tasks import batch
from zhenglian.tasks.outbox import Outbox
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer


@pytest.fixture
def login_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts PIN logins on the key (each is one PIN entry)."""
    calls: list[int] = []
    real = pinops.login

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pinops, "login", counting)
    return calls


def test_login_with_key_then_list(reference_server, demo_keys, file_keyring) -> None:  # noqa: F811
    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 3)
    key, module, manifest = key_parts(SZCA.label)
    tokens = TokenStore()
    assert tokens.persistent
    session = session_for(reference_server, key, tokens)
    assert not session.logged_in
    with pytest.raises(errors.AuthRequired):
        session.client.tasks()
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
        result = session.login(p11)
    assert result.uscc == SZCA.uscc and result.institution == SZCA.organization
    listing = session.client.tasks()
    assert sorted(t.id for t in listing.tasks) == sorted(ids)
    task = session.client.task(ids[0])
    assert task.status == "pending" and task.placement.page == 1
    data = session.client.download(task)
    assert hashlib.sha256(data).hexdigest() == task.doc_sha256 and data.startswith(b"%PDF-")
    # The token is in the keyring under (origin, serial), not the PIN.
    stored = file_keyring.path.read_text()
    assert reference_server.url in stored and key.serial in stored
    assert SZCA.user_pin not in stored
    # A second session (a new process) picks the token up without a PIN.
    again = session_for(reference_server, key, TokenStore())
    assert again.logged_in
    assert len(again.client.tasks().tasks) == 3


def test_another_institutions_tasks_are_invisible(reference_server, demo_keys) -> None:  # noqa: F811
    other = DEMO_KEYS[0]
    hidden = reference_server.add_tasks(other.uscc, other.organization, 1)[0]
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(reference_server, key)
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
        session.login(p11)
    assert session.client.tasks().tasks == []
    with pytest.raises(errors.ServerRefused) as exc:
        session.client.task(hidden)
    assert exc.value.status == 404


def test_twenty_tasks_one_pin_one_batch_all_confirmed(reference_server, demo_keys, tmp_path: Path,  # noqa: F811
                                                      login_counter: list[int]) -> None:
    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 20,
                                     kinds=("委托扣款授权书", "贷款合同", "抵押合同", "保证合同"),
                                     seal_type="合同专用章")
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(reference_server, key)
    outbox = Outbox(tmp_path / "outbox")
    seen: list[batch.Progress] = []
    pin = PinBuffer(SZCA.user_pin)
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), pin, None, outbox, progress=seen.append)
    assert pin.wiped
    assert len(login_counter) == 1  # one PIN for the login to the server and all 20 documents
    assert result.ok, result.summary_en()
    assert result.count(batch.UPLOADED) == 20
    assert {o.task_id for o in result.outcomes} == set(ids)
    # The server has every one, exactly once, each a valid signed version of its original.
    store = reference_server.store
    assert reference_server.uploads_per_task() == {i: 1 for i in ids}
    for task in store.tasks(SZCA.uscc):
        assert task.status == "signed"
        signed = store.read_file(task.signed_sha256)
        assert signed.startswith(store.read_file(task.doc_sha256))
    assert outbox.pending() == [] and len(outbox.journal()) == 20
    # Signed in memory: the outbox's own copy is the only one ever written.
    assert not (outbox.root / "tmp").exists()
    phases = [p.phase for p in seen]
    assert phases.count("signed") == 20 and phases.count("uploaded") == 20
    assert "甲方" not in result.summary_zh() and "20" in result.summary_zh()


def test_cross_page_and_certification_tasks_verify(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    """骑缝章 on a two-page contract and a certification signature, as the tasks ask."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 2, kinds=("抵押合同", "保证合同"),
                                     seal_type="合同专用章")
    key, module, manifest = key_parts(SZCA.label)
    result = batch.sign_tasks(session_for(reference_server, key), KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin),
                              ids, Outbox(tmp_path / "outbox"))
    assert result.ok, result.summary_en()
    store = reference_server.store
    cross, certified = (store.task(i) for i in ids)
    reader = PdfFileReader(io.BytesIO(store.read_file(cross.signed_sha256)))
    (sig,) = reader.embedded_signatures
    kids = sig.sig_field.get("/Kids", [])
    assert len(kids) >= 3  # the seal over the anchor + one strip on each of the two pages
    reader = PdfFileReader(io.BytesIO(store.read_file(certified.signed_sha256)))
    (sig,) = reader.embedded_signatures
    assert sig.docmdp_level is not None


def test_cancel_between_documents_keeps_the_rest_pending(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 6)
    key, module, manifest = key_parts(SZCA.label)
    cancel = threading.Event()

    def on_progress(p: batch.Progress) -> None:
        if p.phase == "signed" and p.signed == 2:
            cancel.set()

    result = batch.sign_tasks(session_for(reference_server, key), KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin),
                              ids, Outbox(tmp_path / "outbox"), progress=on_progress, cancel=cancel)
    assert result.cancelled and not result.ok
    assert result.count(batch.UPLOADED) == 2
    assert result.count(batch.NOT_SIGNED) == 4
    statuses = [reference_server.store.task(i).status for i in ids]
    assert statuses.count("signed") == 2 and statuses.count("pending") == 4
    assert "取消" in result.summary_zh()


def test_one_bad_task_does_not_stop_the_others(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    good = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 3)
    # A task whose anchor text is not in its document, and one asking for a seal type the key lacks.
    bad_anchor = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1,
                                            placement={"anchor_text": "丙方（盖章）"})[0]
    bad_seal = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 1, seal_type="抵押业务专用章")[0]
    key, module, manifest = key_parts(SZCA.label)
    order = [good[0], bad_anchor, good[1], bad_seal, good[2]]
    result = batch.sign_tasks(session_for(reference_server, key), KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin),
                              order, Outbox(tmp_path / "outbox"))
    states = {o.task_id: o for o in result.outcomes}
    assert [states[i].state for i in good] == [batch.UPLOADED] * 3, [(states[i].error, getattr(states[i].error, '__cause__', None)) for i in good]
    assert states[bad_anchor].state == batch.FAILED
    assert isinstance(states[bad_anchor].error, errors.AnchorNotFound)
    assert states[bad_seal].state == batch.FAILED
    assert isinstance(states[bad_seal].error, errors.TaskSealMissing)
    assert "抵押业务专用章" in states[bad_seal].error.message_zh()
    assert reference_server.store.task(bad_anchor).status == "pending"
