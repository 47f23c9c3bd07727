"""The reference server's protocol, run for real (uvicorn, SQLite in tmp): login, tasks,
upload checks and their reasons, idempotency, reject, events, seals, tickets, admin CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import RunningServer, start_server  # noqa: F401
from helpers.tasks import SZCA, key_parts, login, session_for

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pki import uscc as uscc_mod
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.reference.server import pki as server_pki
from zhenglian.server import protocol
from zhenglian.server.api import ServerClient
from zhenglian.server.models import Challenge
from zhenglian.tasks.pipeline import open_task_signer
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer

NETCA = DEMO_KEYS[0]


def sign_as(spec: Any, original: bytes, task: Any, tmp: Path, **kw: Any) -> bytes:
    """The task's document signed with ``spec``'s key, as the client would (or with tweaks)."""
    from zhenglian.pdf.seal import SealPicture
    from zhenglian.seals import render

    key, module, manifest = key_parts(spec.label)
    seal = SealPicture(render.render_seal_png(spec.organization, "合同专用章", 42.0, dpi=200), 42.0, 42.0, "合同专用章")
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(spec.user_pin)) as p11, \
            open_task_signer(KeyHandle(module, key, manifest), p11) as signer:
        if kw.get("invisible"):
            from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
            from pyhanko.sign import signers

            out = io.BytesIO()
            signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(original)),
                             signers.PdfSignatureMetadata(field_name="Hidden"), signer=signer.batch.signer,
                             output=out)
            return out.getvalue()
        if kw.get("unchecked"):
            signer.check = lambda *a: None  # type: ignore[method-assign]
        return signer.sign(original, task, seal)


def _pending(server: RunningServer, client: ServerClient, n: int = 1, **kw: Any) -> list[Any]:
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, n, **kw)
    return [client.task(i) for i in ids]


# --- protocol basics -----------------------------------------------------------------------

def test_openapi_published_and_challenge_bytes_agree(reference_server) -> None:  # noqa: F811
    doc = httpx.get(f"{reference_server.url}/openapi.json").json()
    paths = doc["paths"]
    for p in ("/api/v1/auth/challenge", "/api/v1/auth/login", "/api/v1/tasks", "/api/v1/tasks/{task_id}/signed",
              "/api/v1/tasks/{task_id}/reject", "/api/v1/events", "/api/v1/seals", "/api/v1/tickets/redeem"):
        assert p in paths
    assert "put" in paths["/api/v1/tasks/{task_id}/signed"]
    assert "bearerAuth" in json.dumps(doc["components"]["securitySchemes"]) or "HTTPBearer" in json.dumps(doc)
    # The client and the server compute the same login bytes (they share no code).
    args = ("n0nce-_x", "https://sign.example.org:8443", 1767225600)
    assert protocol.challenge_bytes(*args) == server_pki.challenge_bytes(*args)
    assert protocol.challenge_bytes(*args) == (b'{"expires_at":1767225600,"nonce":"n0nce-_x",'
                                               b'"origin":"https://sign.example.org:8443","purpose":"zhenglian-login-v1"}')


def test_errors_are_json_with_both_languages(reference_server) -> None:  # noqa: F811
    r = httpx.get(f"{reference_server.url}/api/v1/tasks")
    assert r.status_code == 401 and set(r.json()) == {"error", "message_zh", "message_en"}
    r = httpx.get(f"{reference_server.url}/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"] == "auth_invalid"
    r = httpx.post(f"{reference_server.url}/api/v1/auth/login", json={"nonce": 1})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = httpx.get(f"{reference_server.url}/api/v1/nowhere")
    assert r.status_code == 404 and r.json()["message_en"]


# --- login ----------------------------------------------------------------------------------

def test_login_refusals(reference_server, demo_keys, make_key) -> None:  # noqa: F811
    server: RunningServer = reference_server
    client = ServerClient(server.url)
    key, module, manifest = key_parts(SZCA.label)
    cert = key.signing_certificate().info.der
    ch = client.challenge()
    with pytest.raises(errors.ServerRefused) as exc:  # a signature that does not verify
        client.login(ch.nonce, cert, [], protocol.RSA_ALGORITHM, b"\x01" * 256)
    assert exc.value.reason == "signature_invalid" and exc.value.status == 401
    with pytest.raises(errors.ServerRefused) as exc:  # the nonce was used up by that attempt
        client.login(ch.nonce, cert, [], protocol.RSA_ALGORITHM, b"\x01" * 256)
    assert exc.value.reason == "challenge_invalid"
    # A key whose institution the server does not know.
    code = uscc_mod.complete("91441900MA5YY8W3")
    made = make_key(organization="东莞市未登记测试有限公司", uscc=code)
    key2, module2, manifest2 = key_parts(made.spec.label)
    session = session_for(server, key2)
    with pinops.user_session(KeyHandle(module2, key2, manifest2), PinBuffer(made.spec.user_pin)) as p11, \
            pytest.raises(errors.ServerRefused) as exc:
        session.login(p11)
    assert exc.value.status == 403 and exc.value.reason == "institution_unknown"
    assert code in exc.value.message_zh()


def test_login_refused_when_the_ca_is_not_trusted(tmp_path: Path, demo_keys) -> None:
    server = start_server(tmp_path / "srv", trust_demo=False)
    try:
        key, module, manifest = key_parts(SZCA.label)
        session = session_for(server, key)
        with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11, \
                pytest.raises(errors.ServerRefused) as exc:
            session.login(p11)
        assert exc.value.reason == "certificate_untrusted"
        assert "信任" in exc.value.message_zh()
    finally:
        server.stop()


def test_login_refused_for_an_expired_certificate(reference_server, make_key) -> None:  # noqa: F811
    made = make_key(days_valid=0)  # expires the moment it is made
    time.sleep(1.1)
    key, module, manifest = key_parts(made.spec.label)
    session = session_for(reference_server, key)
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(made.spec.user_pin)) as p11, \
            pytest.raises(errors.ServerRefused) as exc:
        session.login(p11)
    assert exc.value.reason == "certificate_expired", exc.value.reason


def test_client_refuses_a_challenge_for_another_origin(reference_server, demo_keys,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A relaying server passing on another server's challenge gets no signature."""
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(reference_server, key)
    real = session.client.challenge
    signed: list[bytes] = []
    monkeypatch.setattr(session.client, "challenge",
                        lambda: Challenge(real().nonce, "https://evil.example", int(time.time()) + 60, ()))
    import zhenglian.server.session as sess

    monkeypatch.setattr(sess, "sign_challenge", lambda *a: signed.append(a[2]) or ("x", b""))
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11, \
            pytest.raises(errors.LoginChallengeMismatch):
        session.login(p11)
    assert signed == []


def test_expired_token_is_renewed_with_the_open_key_session(tmp_path: Path, demo_keys) -> None:
    """Tokens live 1 s here: the batch logs in again through the key session it holds (no new PIN)."""
    from zhenglian.tasks import batch
    from zhenglian.tasks.outbox import Outbox

    server = start_server(tmp_path / "srv", args=("--token-ttl", "1"))
    try:
        ids = server.add_tasks(SZCA.uscc, SZCA.organization, 3)
        key, module, manifest = key_parts(SZCA.label)
        session = session_for(server, key)
        with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
            session.login(p11)
        time.sleep(1.2)
        with pytest.raises(errors.AuthExpired):
            session.client.tasks()
        logins: list[int] = []
        real = session.login
        session.login = lambda p11: logins.append(1) or real(p11)  # type: ignore[method-assign]

        def slow(p: batch.Progress) -> None:
            if p.phase == "signed":
                time.sleep(1.1)

        result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids,
                                  Outbox(tmp_path / "outbox"), progress=slow)
        assert result.ok, result.summary_en()
        assert len(logins) >= 2
    finally:
        server.stop()


# --- tasks, uploads and their checks ---------------------------------------------------------

def test_upload_is_idempotent_and_a_different_file_conflicts(reference_server, demo_keys,  # noqa: F811
                                                             tmp_path: Path) -> None:
    server: RunningServer = reference_server
    client = login(server)
    (task,) = _pending(server, client)
    original = client.download(task)
    signed = sign_as(SZCA, original, task, tmp_path)
    first = client.upload(task.id, signed)
    second = client.upload(task.id, signed)
    assert not first.duplicate and second.duplicate
    assert first.sha256 == second.sha256 == hashlib.sha256(signed).hexdigest()
    assert server.uploads_per_task() == {task.id: 1}
    other = sign_as(SZCA, original, task, tmp_path)  # signed again: another signing time, another file
    assert other != signed
    with pytest.raises(errors.ServerRefused) as exc:
        client.upload(task.id, other)
    assert exc.value.status == 409 and exc.value.reason == "already_signed"
    assert client.task(task.id).status == "signed" and client.task(task.id).signed_sha256 == first.sha256
    r = httpx.get(f"{server.url}/api/v1/tasks/{task.id}/signed", headers={"Authorization": f"Bearer {client.token}"})
    assert r.content == signed


@pytest.mark.parametrize("case", ["not_pdf", "original_altered", "no_signature", "wrong_signer", "seal_missing",
                                  "signer_untrusted", "certification_required", "hash_mismatch"])
def test_invalid_uploads_refused_with_reasons(case: str, reference_server, demo_keys,  # noqa: F811
                                              tmp_path: Path) -> None:
    server: RunningServer = reference_server
    client = login(server)
    placement = {"anchor_text": "甲方（盖章）", "certify": True} if case == "certification_required" else None
    (task,) = _pending(server, client, kinds=("贷款合同",), placement=placement)
    original = client.download(task)
    status = 422
    if case == "not_pdf":
        body = b"PK\x03\x04 this is a zip, not a PDF"
    elif case == "original_altered":
        good = sign_as(SZCA, original, task, tmp_path)
        at = len(original) // 2
        body = good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:]
    elif case == "no_signature":
        body = original + b"\n% nothing signed here\n"
    elif case == "wrong_signer":
        body = sign_as(NETCA, original, task, tmp_path, unchecked=True)  # another institution's key
        status = 403
    elif case == "seal_missing":
        body = sign_as(SZCA, original, task, tmp_path, invisible=True)
    elif case == "signer_untrusted":
        body = sign_as(SZCA, original, task, tmp_path)
        for row in server.store.cas():
            if "SZCA" in row["subject"]:
                server.store.remove_ca(row["sha256"])
    elif case == "certification_required":
        task = dataclasses.replace(task, placement=dataclasses.replace(task.placement, certify=False))
        body = sign_as(SZCA, original, task, tmp_path)  # an approval signature, not a certification
    else:  # hash_mismatch: damaged in transit
        body = sign_as(SZCA, original, task, tmp_path)
        r = httpx.put(f"{server.url}/api/v1/tasks/{task.id}/signed", content=body,
                      headers={"Authorization": f"Bearer {client.token}", "X-Content-SHA256": "0" * 64})
        assert r.status_code == 400 and r.json()["error"] == "hash_mismatch"
        return
    with pytest.raises(errors.ServerRefused) as exc:
        client.upload(task.id, body)
    assert exc.value.status == status
    assert exc.value.reason == case
    assert exc.value.message_zh() and exc.value.message_en()
    assert server.store.task(task.id).status == "pending"
    assert server.uploads_per_task() == {}


def test_oversized_upload_refused(tmp_path: Path, demo_keys) -> None:
    server = start_server(tmp_path / "srv", args=("--max-upload-mb", "0.05"))
    try:
        client = login(server)
        (task,) = _pending(server, client)
        with pytest.raises(errors.ServerRefused) as exc:
            client.upload(task.id, b"%PDF-1.7\n" + b"0" * 60000)
        assert exc.value.status == 413 and exc.value.reason == "too_large"
    finally:
        server.stop()


def test_reject_with_reason(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    server: RunningServer = reference_server
    client = login(server)
    a, b = _pending(server, client, 2)
    rejected = client.reject(a.id, "合同金额与审批不符")
    assert rejected.status == "rejected" and rejected.reject_reason == "合同金额与审批不符"
    assert client.reject(a.id, "合同金额与审批不符").status == "rejected"  # idempotent
    with pytest.raises(errors.ServerRefused) as exc:
        client.upload(a.id, sign_as(SZCA, client.download(a), a, tmp_path))
    assert exc.value.status == 409 and exc.value.reason == "task_rejected"
    client.upload(b.id, sign_as(SZCA, client.download(b), b, tmp_path))
    with pytest.raises(errors.ServerRefused) as exc:
        client.reject(b.id, "太晚了")
    assert exc.value.status == 409
    assert [t.id for t in client.tasks("rejected").tasks] == [a.id]
    assert [t.id for t in client.tasks("signed").tasks] == [b.id]
    assert client.tasks("pending").tasks == []


def test_events_long_poll_wakes_on_a_new_task(reference_server, demo_keys) -> None:  # noqa: F811
    server: RunningServer = reference_server
    client = login(server)
    seq = client.events(-1).seq
    assert client.events(seq, wait=0).events == []
    threading.Timer(0.5, lambda: server.add_tasks(SZCA.uscc, SZCA.organization, 1)).start()
    start = time.monotonic()
    got = client.events(seq, wait=10)
    assert time.monotonic() - start < 5
    assert [e.kind for e in got.events] == ["created"] and got.seq > seq
    # Another institution's events are not shown.
    server.add_tasks(NETCA.uscc, NETCA.organization, 1)
    assert client.events(got.seq, wait=0.5).events == []


def test_seals_served_per_institution(reference_server, demo_keys) -> None:  # noqa: F811
    from zhenglian.seals import render

    server: RunningServer = reference_server
    png = render.render_seal_png(SZCA.organization, "合同专用章", 42.0, dpi=150)
    server.store.add_seal(SZCA.uscc, f"{SZCA.organization}合同专用章", "合同专用章", png, 42.0, 42.0)
    server.store.add_seal(NETCA.uscc, "另一机构的章", "公章", png, 40.0, 40.0)
    client = login(server)
    (seal,) = client.seals()
    assert seal.png == png and seal.seal_type == "合同专用章" and seal.width_mm == 42.0
    key, _, _ = key_parts(SZCA.label)
    assert seal.cert_sha256 == key.signing_certificate().info.sha256


def test_ticket_once_and_only_for_its_institution(reference_server, demo_keys) -> None:  # noqa: F811
    server: RunningServer = reference_server
    client = login(server)
    (task,) = _pending(server, client)
    ticket = client.ticket(task.id)
    other = login(server, NETCA)
    with pytest.raises(errors.ServerRefused) as exc:
        other.redeem(ticket)
    assert exc.value.reason == "ticket_invalid"
    assert client.redeem(ticket).id == task.id  # another institution's attempt did not use it up
    with pytest.raises(errors.ServerRefused):
        client.redeem(ticket)


# --- admin command line ------------------------------------------------------------------------

def test_admin_cli_adds_institution_ca_seal_task_and_lists(tmp_path: Path, demo_keys) -> None:
    from zhenglian.reference import democa
    from zhenglian.reference.server import docgen

    server = RunningServer(tmp_path / "admin", 0)
    code = uscc_mod.complete("91441900MA5WW1A2")
    out = server.admin("institution", "add", "--uscc", code, "--name", "东莞市命令行测试有限公司")
    assert code in out.stdout
    bad = server.admin("institution", "add", "--uscc", "123", "--name", "x", check=False)
    assert bad.returncode == 2 and "USCC" in bad.stderr
    root = democa.roots_pem()[0]
    assert "root" in server.admin("ca", "add", str(root)).stdout
    seals = json.loads(server.admin("seal", "add", "--institution", code, "--type", "合同专用章").stdout)
    assert seals[0]["seal_type"] == "合同专用章"
    pdf = tmp_path / "合同.pdf"
    pdf.write_bytes(docgen.make_pdf(docgen.template("贷款合同"), "东莞市命令行测试有限公司", code, seed=3))
    added = json.loads(server.admin("task", "add", "--institution", code, "--file", str(pdf), "--anchor",
                                    "甲方（盖章）", "--cross-page", "--title", "贷款合同（命令行）").stdout)
    assert added["status"] == "pending" and added["placement"] == {"anchor_text": "甲方（盖章）", "cross_page": True,
                                                                  "page": -1}
    assert added["doc_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    listed = json.loads(server.admin("task", "list", "--institution", code).stdout)
    assert [t["id"] for t in listed] == [added["id"]]
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_bytes(b"hello")
    assert server.admin("task", "add", "--institution", code, "--file", str(not_pdf), check=False).returncode == 2
    assert server.admin("fault", "set", "nonsense", check=False).returncode == 2
    assert "upload-500" in server.admin("fault", "set", "upload-500").stdout
    server.admin("reset")
    assert json.loads(server.admin("task", "list").stdout) == []
    assert json.loads(server.admin("institution", "list").stdout)  # kept by a plain reset


def test_demo_seed_makes_chinese_tasks_a_demo_key_can_sign(tmp_path: Path, demo_keys) -> None:
    server = RunningServer(tmp_path / "demo", 0)
    seeded = json.loads(server.admin("demo-seed", "--tasks", "4").stdout)
    from zhenglian.reference.provision import SM2_DEMO_KEYS

    # The RSA demo keys' institutions and the SM2 demo key's (SKF-DEMO shares SZCA's).
    assert {i["uscc"] for i in seeded["institutions"]} == {s.uscc for s in (*DEMO_KEYS, *SM2_DEMO_KEYS)}
    assert set(seeded["tasks"].values()) == {4}
    assert len(seeded["trusted_roots"]) >= 3
    tasks = server.store.tasks(SZCA.uscc)
    assert {t.business_type for t in tasks} >= {"公积金贷款", "抵押登记", "委托扣款"}
    from zhenglian.pdf.anchors import find

    loan = next(t for t in tasks if t.business_type == "公积金贷款")
    data = server.store.read_file(loan.doc_sha256)
    hits = find(data, "甲方（盖章）")
    assert len(hits) == 1 and hits[0].page_index == 2  # on the last of three pages
    assert len(server.store.seals(SZCA.uscc)) == len(SZCA.seal_names)
    # The document's text is real text (ToUnicode), in Chinese.
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(data)[0]
    assert "个人住房公积金贷款合同" in page.get_textpage().get_text_range()


def test_ec_login_signature_raw_or_der(tmp_path: Path, demo_keys) -> None:
    """EC keys: the client sends raw r||s (PKCS#11 CKM_ECDSA); DER is accepted as well."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from zhenglian.reference import democa, provision
    from zhenglian.reference.server.config import ServerConfig
    from zhenglian.reference.server.seed import trust_demo_cas
    from zhenglian.reference.server.store import Store

    store = Store(ServerConfig(tmp_path / "db"))
    trust_demo_cas(store)
    store.add_institution(SZCA.uscc, SZCA.organization)
    trust = server_pki.TrustStore(store)
    ca = democa.load_or_create("szca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = ca.issue(provision.subject_for(SZCA), key.public_key(), now - dt.timedelta(days=1),
                    now + dt.timedelta(days=30))
    der = cert.public_bytes(serialization.Encoding.DER)
    chain = [ca.sub_cert.public_bytes(serialization.Encoding.DER)]
    for raw in (True, False):
        nonce = f"n{raw}"
        expires = int(time.time()) + 60
        store.add_challenge(nonce, "https://s", expires)
        sig = key.sign(protocol.challenge_bytes(nonce, "https://s", expires), ec.ECDSA(hashes.SHA256()))
        if raw:
            r, s = decode_dss_signature(sig)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        who = server_pki.verify_login(trust, store, nonce, der, chain, protocol.EC_ALGORITHM, sig, time.time())
        assert who.uscc == SZCA.uscc
    store.add_challenge("bad", "https://s", int(time.time()) + 60)
    with pytest.raises(server_pki.LoginRefused) as exc:
        server_pki.verify_login(trust, store, "bad", der, chain, protocol.EC_ALGORITHM, b"\x01" * 64, time.time())
    assert exc.value.code == "signature_invalid"
