"""TaskSync against the real server: event-driven refresh, login state, outbox drain, outages;
the token store without a keyring; TLS with a custom CA bundle."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from helpers.server import RunningServer, free_port, start_server  # noqa: F401
from helpers.tasks import SZCA, key_parts, session_for

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.server.api import ServerClient, normalise_url
from zhenglian.server.tokenstore import StoredToken, TokenStore
from zhenglian.tasks.outbox import Outbox
from zhenglian.tasks.sync import TaskSummary, TaskSync
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer


def wait_for(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_tasksync_follows_the_server(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    server: RunningServer = reference_server
    server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(server, key)
    outbox = Outbox(tmp_path / "outbox")
    summaries: list[TaskSummary] = []
    new: list[list[str]] = []
    sync = TaskSync(session, outbox, on_summary=summaries.append, on_new_tasks=lambda ts: new.append([t.id for t in ts]),
                    wait_s=1, retry_s=0.2, max_retry_s=1, min_refresh_s=0.2)
    sync.start()
    try:
        assert wait_for(lambda: summaries and summaries[-1].needs_login)
        assert "登录" in summaries[-1].text_zh()
        with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
            sync.login(p11)
        assert wait_for(lambda: summaries[-1].online and summaries[-1].pending == 2)
        assert summaries[-1].text_zh() == "2 个待签署任务"
        # A new task arrives: the long-poll wakes the loop, no polling interval to wait for.
        added = server.add_tasks(SZCA.uscc, SZCA.organization, 1, seed=7)[0]
        assert wait_for(lambda: summaries[-1].pending == 3, timeout=30)
        assert new == [[added]]
        # The server goes away: the summary says so, the thread survives and recovers.
        server.kill()
        assert wait_for(lambda: not summaries[-1].online, timeout=15)
        assert isinstance(summaries[-1].error, (errors.ServerUnreachable, errors.ServerError))
        server.start()
        assert wait_for(lambda: summaries[-1].online, timeout=15)
    finally:
        sync.stop(timeout=3)  # a long poll in flight ends within wait_s
    assert sync._thread is not None and not sync._thread.is_alive()


def test_tasksync_drains_the_outbox(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811
    from zhenglian.tasks import batch

    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(server, key)
    outbox = Outbox(tmp_path / "outbox")
    server.fault("upload-500")
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), ids, outbox, upload_wait_s=0.5)
    assert result.count(batch.QUEUED) == 2
    server.fault("")
    for e in outbox.pending():  # make them due now rather than after the backoff
        e.next_try_at = 0
        outbox._save(e)
    summary = TaskSync(session, outbox).refresh()
    assert summary.outbox_queued == 0 and summary.pending == 0
    assert server.uploads_per_task() == {i: 1 for i in ids}


def test_token_store_without_keyring_keeps_the_token_in_memory(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with caplog.at_level("WARNING"):
            store = TokenStore()
        assert not store.persistent
        assert "memory" in caplog.text
        store.put("https://s", "SER1", StoredToken("tok", time.time() + 600, "U"))
        assert store.get("https://s", "SER1").token == "tok"  # for this process
        assert TokenStore().get("https://s", "SER1") is None  # not for the next one
        store.put("https://s", "SER2", StoredToken("old", time.time() + 5))
        assert store.get("https://s", "SER2") is None  # about to expire: treated as expired
    finally:
        keyring.set_keyring(previous)


def test_urls_http_only_to_this_machine() -> None:
    assert normalise_url("https://Sign.Example.org:443/base/") == ("https://sign.example.org/base",
                                                                   "https://sign.example.org")
    assert normalise_url("sign.example.org:8443")[1] == "https://sign.example.org:8443"
    assert normalise_url("http://127.0.0.1:8765")[1] == "http://127.0.0.1:8765"
    with pytest.raises(errors.ServerInsecure):
        normalise_url("http://sign.example.org")
    with pytest.raises(errors.ServerNotConfigured):
        normalise_url("  ")


def _tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zhenglian test TLS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def test_tls_verified_with_a_custom_ca_bundle(tmp_path: Path, demo_keys) -> None:
    ca, cert, key_file = _tls_files(tmp_path)
    port = free_port()
    server = RunningServer(tmp_path / "srv", port, ("--tls-cert", str(cert), "--tls-key", str(key_file)))
    (tmp_path / "srv").mkdir()
    server.ready = lambda: _https_ready(port, ca)  # type: ignore[method-assign]
    server.start()
    try:
        url = f"https://127.0.0.1:{port}"
        assert ServerClient(url, ca_bundle=str(ca)).info()["origin"] == url
        start = time.monotonic()
        with pytest.raises(errors.ServerUnreachable) as exc:  # not trusted without the bundle: no retries
            ServerClient(url, retries=3, backoff=1).info()
        assert "证书" in exc.value.message_zh() and time.monotonic() - start < 3
        with pytest.raises(errors.ConfigError):
            ServerClient(url, ca_bundle=str(tmp_path / "missing.pem"))
    finally:
        server.stop()


def _https_ready(port: int, ca: Path) -> bool:
    import ssl

    import httpx

    try:
        return httpx.get(f"https://127.0.0.1:{port}/api/v1/info", timeout=1,
                         verify=ssl.create_default_context(cafile=str(ca))).status_code == 200
    except httpx.HTTPError:
        return False


def test_long_poll_is_bounded_and_stop_is_prompt(tmp_path: Path, demo_keys) -> None:
    server = start_server(tmp_path / "srv", args=("--max-wait", "1"))
    try:
        key, module, manifest = key_parts(SZCA.label)
        session = session_for(server, key)
        with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin)) as p11:
            session.login(p11)
        start = time.monotonic()
        got = session.client.events(session.client.events(-1).seq, wait=60)  # the server caps the wait
        assert got.events == [] and time.monotonic() - start < 5
        sync = TaskSync(session, Outbox(tmp_path / "o"), wait_s=1)
        sync.start()
        time.sleep(0.5)
        t = time.monotonic()
        sync.stop(timeout=5)
        assert time.monotonic() - t < 5
    finally:
        server.stop()


def test_the_english_summary_counts_one_in_the_singular() -> None:
    from zhenglian.tasks.sync import TaskSummary

    one = TaskSummary("https://sign.example.org", pending=1, outbox_queued=1, outbox_failed=1, online=True)
    assert one.text_en() == "1 pending task, 1 signed file waiting to upload, 1 file refused by the server"
    two = TaskSummary("https://sign.example.org", pending=2, outbox_queued=2, outbox_failed=2, online=True)
    assert two.text_en() == "2 pending tasks, 2 signed files waiting to upload, 2 files refused by the server"
    assert one.text_zh().startswith("1 个待签署任务")


class _Listings:
    """A logged-in session whose server lists the ids it is given (no network), and an empty outbox."""

    origin = "https://sign.example.org"
    logged_in = True

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.client = self

    def tasks(self, status: str = "pending"):  # type: ignore[no-untyped-def]
        from zhenglian.server.models import Placement, Task, TaskList

        return TaskList([Task(i, f"任务 {i}", "公积金贷款", "", None, "pending", "合同专用章", Placement(), "a.pdf",
                              "0" * 64, 1, f"/api/v1/tasks/{i}/document") for i in self.ids], seq=0)

    def flush(self, client, origin):  # type: ignore[no-untyped-def]
        from types import SimpleNamespace

        return SimpleNamespace(auth_required=False, error=None)

    def pending(self, origin: str) -> list[str]:
        return []

    failed = pending


def test_new_tasks_are_announced_and_the_memory_of_ids_stays_the_size_of_the_listing() -> None:
    server = _Listings()
    new: list[list[str]] = []
    sync = TaskSync(server, server, on_new_tasks=lambda ts: new.append([t.id for t in ts]))  # type: ignore[arg-type]
    server.ids = ["a", "b"]
    sync.refresh()
    assert new == []  # the first look: nothing is "new" yet
    server.ids = ["a", "b", "c"]
    sync.refresh()
    assert new == [["c"]]
    # Weeks of uptime: tasks come and are signed, a thousand of them; each is announced once,
    # and what the sync remembers is the listing, not every id it ever saw.
    new.clear()
    for i in range(1000):
        server.ids = [f"t{i}", f"t{i + 1}"]
        sync.refresh()
        assert sync._seen == {f"t{i}", f"t{i + 1}"}
    assert new[0] == ["t0", "t1"] and new[1:] == [[f"t{i + 1}"] for i in range(1, 1000)]
    server.ids = ["t1000"]
    sync.refresh()  # one signed: nothing new
    assert len(new) == 1000
    # A task that left the list and is back (a rejection reopened) waits for a signature again: announced again.
    server.ids = ["t1000", "t3"]
    sync.refresh()
    assert new[-1] == ["t3"]


class _Burst(_Listings):
    """A server whose events never stop (a batch uploading, colleagues signing): each long poll
    answers at once with something new."""

    def __init__(self) -> None:
        super().__init__()
        self.listings = 0
        self.polls = 0

    def tasks(self, status: str = "pending"):  # type: ignore[no-untyped-def]
        self.listings += 1
        return super().tasks(status)

    def events(self, since: int, wait: float = 0):  # type: ignore[no-untyped-def]
        from zhenglian.server.models import Events

        self.polls += 1
        return Events(since + 1, [])


def test_a_burst_of_events_is_answered_by_one_listing_and_a_wake_at_once() -> None:
    server = _Burst()
    server.ids = ["a"]
    # An hour between listings: within the test no listing may follow an event, however many come.
    sync = TaskSync(server, server, min_refresh_s=3600)  # type: ignore[arg-type]
    sync.start()
    try:
        assert wait_for(lambda: server.polls == 1)  # listed once, an event came: now waiting it out
        assert server.listings == 1
        sync.wake()  # the operator asks (or a batch ends): listed at once, then the burst waits again
        assert wait_for(lambda: server.polls == 2)
        assert server.listings == 2
    finally:
        sync.stop(timeout=3)
    assert sync._thread is not None and not sync._thread.is_alive()  # stop ends the wait too
    # Without the bound the same server is listed after every event.
    server = _Burst()
    sync = TaskSync(server, server, min_refresh_s=0)  # type: ignore[arg-type]
    sync.start()
    try:
        assert wait_for(lambda: server.listings >= 5)
    finally:
        sync.stop(timeout=3)


class _Quiet(_Burst):
    """A server with nothing new to say: a long poll waits until released (or stopped)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()

    def events(self, since: int, wait: float = 0):  # type: ignore[no-untyped-def]
        from zhenglian.server.models import Events

        self.polls += 1
        self.release.wait(60)
        return Events(since, [])


def test_refresh_now_lists_at_once_while_the_loop_sits_in_a_long_poll() -> None:
    server = _Quiet()
    server.ids = ["a"]
    summaries: list[TaskSummary] = []
    sync = TaskSync(server, server, on_summary=summaries.append, wait_s=60)  # type: ignore[arg-type]
    sync.start()
    try:
        assert wait_for(lambda: server.polls == 1)  # listed once, now in the long poll
        server.ids = ["a", "b"]
        sync.refresh_now()  # the operator's 刷新, on this (a worker's) thread
        assert server.listings == 2 and summaries[-1].pending == 2
        assert server.polls == 1  # the loop is still waiting: the listing did not wait for it
    finally:
        server.release.set()
        sync.stop(timeout=3)


class _Gated(_Burst):
    """A long poll that answers once per permit given (nothing new in it)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.permits = threading.Semaphore(0)

    def events(self, since: int, wait: float = 0):  # type: ignore[no-untyped-def]
        from zhenglian.server.models import Events

        self.polls += 1
        self.permits.acquire(timeout=60)
        return Events(since, [])


def test_a_wake_during_the_long_poll_is_answered_by_one_listing() -> None:
    server = _Gated()
    sync = TaskSync(server, server, min_refresh_s=0)  # type: ignore[arg-type]
    sync.start()
    try:
        assert wait_for(lambda: server.polls == 1)
        sync.wake()  # e.g. a batch ended while the loop waited on the server
        server.permits.release()
        assert wait_for(lambda: server.polls == 2)  # listed, and waiting again
        assert server.listings == 2
    finally:
        for _ in range(3):
            server.permits.release()
        sync.stop(timeout=3)
