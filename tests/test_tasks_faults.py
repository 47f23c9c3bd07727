"""Faults: the server killed mid-upload, the client killed mid-batch, the key pulled out mid-batch,
a server that answers 500s, garbage or nothing.  Nothing signed may be lost or recorded twice,
and nothing may hang or crash."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.server import ROOT, RunningServer  # noqa: F401
from helpers.tasks import SZCA, key_parts, session_for

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.pki import uscc as uscc_mod
from zhenglian.reference import softhsm
from zhenglian.server.api import ServerClient
from zhenglian.tasks import batch
from zhenglian.tasks.outbox import Outbox
from zhenglian.tokens.secret import PinBuffer


def test_server_killed_mid_uploads_every_signed_task_arrives_once(reference_server, demo_keys,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 20)
    key, module, manifest = key_parts(SZCA.label)
    outbox = Outbox(tmp_path / "outbox")
    killed = threading.Event()
    restarted = threading.Event()

    def restart_later() -> None:
        time.sleep(1.5)  # down for a while: fetches and uploads meet a dead server
        server.start()
        restarted.set()

    def on_progress(p: batch.Progress) -> None:
        if p.phase == "uploaded" and p.uploaded == 5 and not killed.is_set():
            killed.set()
            server.kill()  # kill -9, in the middle of the uploads
            threading.Thread(target=restart_later, daemon=True).start()

    session = session_for(server, key)
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids, outbox,
                              progress=on_progress, upload_wait_s=60)
    assert killed.is_set()
    signed = {o.task_id for o in result.outcomes if o.state in (batch.UPLOADED, batch.QUEUED)}
    assert len(signed) >= 5
    # Whatever was signed reached the server, once; whatever was not is still pending there.
    assert outbox.pending() == [] and outbox.failed() == []
    uploads = server.uploads_per_task()
    assert set(uploads) == signed and set(uploads.values()) == {1}
    for tid in ids:
        assert server.store.task(tid).status == ("signed" if tid in signed else "pending")
    # A second batch signs the rest; in the end every task is signed exactly once.
    assert restarted.wait(60)  # the first batch may end (server unreachable) before the restart
    again = batch.sign_tasks(session_for(server, key), KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), None, outbox)
    assert again.ok, again.summary_en()
    assert server.uploads_per_task() == {tid: 1 for tid in ids}


def test_answer_lost_after_the_server_recorded_it_is_not_recorded_twice(reference_server, demo_keys,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    """The server records the upload and then fails (a crash before answering): the retry is a duplicate."""
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 3)
    key, module, manifest = key_parts(SZCA.label)
    outbox = Outbox(tmp_path / "outbox")
    server.fault("upload-commit-500")
    result = batch.sign_tasks(session_for(server, key), KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids, outbox,
                              upload_wait_s=6)
    assert result.count(batch.QUEUED) == 3  # the client never saw a 200
    assert all(isinstance(o.error, errors.ServerError) for o in result.outcomes)
    assert server.uploads_per_task() == {tid: 1 for tid in ids}  # but the server has them, once
    server.fault("")
    report = outbox.flush(_client_with_token(server, key, module, manifest), force=True)
    assert len(report.uploaded) == 3 and report.duplicates == 3
    assert server.uploads_per_task() == {tid: 1 for tid in ids}
    assert [j["duplicate"] for j in outbox.journal()] == [True, True, True]


def _client_with_token(server, key, module, manifest) -> ServerClient:  # type: ignore[no-untyped-def]
    from zhenglian.tokens import pin as pinops

    session = session_for(server, key)
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
        session.login(p11)
    return session.client


def test_client_killed_mid_batch_then_sync_uploads_each_once(reference_server, demo_keys, tmp_path: Path,  # noqa: F811
                                                             run_cli) -> None:
    """kill -9 of the client while files wait in the outbox: the next `tasks sync` delivers them once."""
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 12)
    server.fault("upload-500")  # nothing gets through: signed files pile up in the outbox
    home = Path(os.environ["ZHENGLIAN_HOME"]) / f"client-{tmp_path.name}"
    home.mkdir()
    env = dict(os.environ, ZHENGLIAN_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    proc = subprocess.Popen([sys.executable, "-m", "zhenglian", "tasks", "sign", "--all", "--server", server.url,
                             "--key", SZCA.label, "--pin-stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdin is not None
    proc.stdin.write(f"{SZCA.user_pin}\n".encode())
    proc.stdin.close()
    queue = home / "outbox" / "queue"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(queue.glob("*.json"))) < 4:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    queued = Outbox(home / "outbox").pending()
    assert len(queued) >= 4
    for entry in queued:  # every record has its whole, signed file
        data = Outbox(home / "outbox").read(entry)
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert server.uploads_per_task() == {}
    server.fault("")
    done = run_cli("tasks", "sync", "--server", server.url, "--key", SZCA.label, "--pin-stdin",
                   input=f"{SZCA.user_pin}\n", env={"ZHENGLIAN_HOME": str(home),
                                                    "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert done.returncode == 0, done.stderr
    assert Outbox(home / "outbox").pending() == []
    uploads = server.uploads_per_task()
    assert set(uploads) == {e.task_id for e in queued} and set(uploads.values()) == {1}
    assert set(uploads) <= set(ids)


def test_key_removed_mid_batch(reference_server, make_key, softhsm_conf, tmp_path: Path) -> None:  # noqa: F811
    """Pull the key out after 3 documents: those 3 reach the server, the rest stay pending, clearly said."""
    server: RunningServer = reference_server
    org = "东莞市厚街临时测试有限公司"
    code = uscc_mod.complete("91441900MA5XK7R2")
    made = make_key(organization=org, uscc=code, seal_names=("合同专用章",))
    server.add_institution(code, org)
    ids = server.add_tasks(code, org, 8)
    key, module, manifest = key_parts(made.spec.label)

    def on_progress(p: batch.Progress) -> None:
        if p.phase == "signed" and p.signed == 3:
            softhsm.delete_token(softhsm_conf, made.spec.label)

    result = batch.sign_tasks(session_for(server, key), KeyHandle(module, key, manifest), PinBuffer(made.spec.user_pin), ids,
                              Outbox(tmp_path / "outbox"), progress=on_progress)
    assert result.stopped_by is not None
    assert result.count(batch.UPLOADED) == 3
    assert result.count(batch.FAILED) == 1 and result.count(batch.NOT_SIGNED) == 4
    text = result.summary_zh()
    assert "UKey" in text and "未签署 4" in text, text
    assert all(o.error is not None for o in result.outcomes if o.state == batch.NOT_SIGNED)
    statuses = [server.store.task(i).status for i in ids]
    assert statuses.count("signed") == 3 and statuses.count("pending") == 5
    assert set(server.uploads_per_task().values()) == {1}


# --- a server that answers 500s, garbage, or nothing -------------------------------------------

@pytest.fixture
def fake_server() -> Iterator:  # type: ignore[type-arg]
    """A TCP server on 127.0.0.1 that misbehaves: mode "garbage" or "silent"."""
    servers = []

    def make(mode: str) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        stop = threading.Event()
        conns: list[socket.socket] = []

        def serve() -> None:
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conns.append(conn)
                if mode == "garbage":
                    try:
                        conn.recv(65536)
                        conn.sendall(os.urandom(64) + b"\r\n\r\n")
                    except OSError:
                        pass
                    conn.close()
                # "silent": accept, read nothing, answer nothing, keep the connection open

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        servers.append((sock, stop, conns))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield make
    for sock, stop, conns in servers:
        stop.set()
        sock.close()
        for c in conns:
            c.close()


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    try:
        fn()
    except errors.ZhenglianError as exc:
        return exc, time.monotonic() - start
    raise AssertionError("no error raised")


def test_garbage_answer_is_a_clear_server_error(fake_server) -> None:
    client = ServerClient(fake_server("garbage"), timeout=2, connect_timeout=1, retries=1, backoff=0.05)
    exc, took = _timed(client.challenge)
    assert isinstance(exc, errors.ServerError) and took < 5
    assert "应答无效" in exc.message_zh()


def test_silent_server_times_out_bounded(fake_server) -> None:
    client = ServerClient(fake_server("silent"), timeout=1, connect_timeout=1, retries=1, backoff=0.05)
    exc, took = _timed(client.challenge)
    assert isinstance(exc, errors.ServerUnreachable) and "超时" in exc.message_zh()
    assert took < 4  # two attempts of one second, no hang


def test_nobody_listening_is_unreachable() -> None:
    from helpers.server import free_port

    client = ServerClient(f"http://127.0.0.1:{free_port()}", timeout=1, retries=2, backoff=0.05)
    exc, took = _timed(client.challenge)
    assert isinstance(exc, errors.ServerUnreachable) and took < 3
    assert exc.exit_code == errors.ExitCode.SERVER


def test_real_server_answering_500_and_garbage(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(server, key)
    client = session.client
    client.token = _client_with_token(server, key, module, manifest).token
    server.fault("500")
    exc, took = _timed(client.tasks)
    assert isinstance(exc, errors.ServerError) and "500" in exc.message_zh() and took < 5
    server.fault("garbage")
    exc, _ = _timed(client.tasks)
    assert isinstance(exc, errors.ServerError) and "JSON" in exc.message_en()
    # A batch against a failing server: clear errors, nothing signed, nothing lost, no hang.
    server.fault("500")
    start = time.monotonic()
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids, Outbox(tmp_path / "o"))
    assert time.monotonic() - start < 20
    assert result.signed == 0 and isinstance(result.stopped_by, errors.ServerError)
    assert all(server.store.task(i).status == "pending" for i in ids)
    server.fault("")


def test_uploads_failing_keep_files_queued_until_the_server_is_back(reference_server, demo_keys,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 4)
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(server, key)
    outbox = Outbox(tmp_path / "outbox")
    server.fault("upload-500")
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids, outbox, upload_wait_s=1)
    assert result.count(batch.QUEUED) == 4
    assert "等待上传" in result.summary_zh()
    assert server.uploads_per_task() == {}
    # Not due yet (backoff) unless forced; a restart of the client keeps them (a new Outbox object).
    server.fault("")
    reopened = Outbox(tmp_path / "outbox")
    assert len(reopened.pending()) == 4
    report = reopened.flush(session.client, force=True)
    assert len(report.uploaded) == 4 and report.ok
    assert server.uploads_per_task() == {tid: 1 for tid in ids}
