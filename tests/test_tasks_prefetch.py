"""The server's answers fetched while the key checks the PIN (zhenglian.tasks.prefetch).

Unit tests on a fake client (what is fetched, what is left to the batch, failures), and
batches against the real reference server: a held token makes the batch use the
prefetched documents (each downloaded once), a stale one falls back to the batch's own
calls with one PIN.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers.tasks import SZCA, key_parts, session_for

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.tasks import batch
from zhenglian.tasks.outbox import Outbox
from zhenglian.tasks.prefetch import Prefetch
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer

ORIGIN = "http://127.0.0.1:1"


class FakeClient:
    origin = ORIGIN

    def __init__(self, statuses: dict[str, str], *, seals_error: Exception | None = None,
                 task_error: Exception | None = None) -> None:
        self.statuses = statuses
        self.seals_error = seals_error
        self.task_error = task_error
        self.calls: list[tuple[str, str]] = []

    def tasks(self) -> Any:
        self.calls.append(("tasks", ""))
        return SimpleNamespace(tasks=[SimpleNamespace(id=t) for t in self.statuses])

    def seals(self) -> list[str]:
        self.calls.append(("seals", ""))
        if self.seals_error is not None:
            raise self.seals_error
        return ["server-seal"]

    def task(self, tid: str) -> Any:
        self.calls.append(("task", tid))
        if self.task_error is not None:
            raise self.task_error
        return SimpleNamespace(id=tid, status=self.statuses[tid])

    def download(self, task: Any) -> bytes:
        self.calls.append(("download", task.id))
        return f"%PDF {task.id}".encode()


def test_fetches_list_seals_and_documents_in_order_once(tmp_path: Path) -> None:
    client = FakeClient({f"t{i}": "pending" for i in range(8)})
    pre = Prefetch(client, Outbox(tmp_path / "outbox"), None, window=3).start()
    assert pre.task_ids() == [f"t{i}" for i in range(8)]
    assert pre.seals() == ["server-seal"]
    for i in range(8):
        task, doc = pre.take(f"t{i}") or (None, b"")
        assert task.id == f"t{i}" and doc == f"%PDF t{i}".encode()
    assert pre.take("t0") is None  # taken once
    assert [c for c in client.calls if c[0] == "download"] == [("download", f"t{i}") for i in range(8)]
    pre.discard()


def test_stays_within_its_window_of_the_batch(tmp_path: Path) -> None:
    taken: list[str] = []
    at_download: list[tuple[int, int]] = []  # (document index, documents taken when it was fetched)

    class Watching(FakeClient):
        def download(self, task: Any) -> bytes:
            at_download.append((int(task.id[1:]), len(taken)))
            return super().download(task)

    pre = Prefetch(Watching({f"t{i}": "pending" for i in range(10)}), Outbox(tmp_path / "outbox"),
                   [f"t{i}" for i in range(10)], window=2).start()
    for i in range(10):
        assert pre.take(f"t{i}") is not None
        taken.append(f"t{i}")
    assert [i for i, _ in at_download] == list(range(10))
    # document i is fetched only once the batch has asked for document i - window + 1
    assert all(i < done + 2 for i, done in at_download), at_download
    pre.discard()


def test_taking_waits_for_the_fetch_and_discard_ends_it(tmp_path: Path) -> None:
    release = threading.Event()

    class Slow(FakeClient):
        def download(self, task: Any) -> bytes:
            if task.id == "t1":
                release.wait(30)
            return super().download(task)

    client = Slow({f"t{i}": "pending" for i in range(4)})
    pre = Prefetch(client, Outbox(tmp_path / "outbox"), [f"t{i}" for i in range(4)])
    assert pre.take("t0") is None  # not started: the batch fetches it itself
    pre.start()
    assert pre.take("t0") is None  # asked once already
    release.set()
    assert pre.take("t1") is not None  # waited for
    pre.discard()
    assert pre.take("t2") is None  # discarded: the batch asks for nothing more here


def test_a_task_waiting_in_the_outbox_or_not_pending_is_left_to_the_batch(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(ORIGIN, "t0", b"%PDF signed earlier")
    client = FakeClient({"t0": "pending", "t1": "signed", "t2": "pending"})
    pre = Prefetch(client, outbox, ["t0", "t1", "t2"]).start()
    assert pre.take("t0") is None and pre.take("t1") is None
    assert pre.take("t2") is not None
    assert ("task", "t0") not in client.calls  # never fetched, so never signed twice
    assert ("download", "t1") not in client.calls


def test_seals_refused_still_fetches_documents(tmp_path: Path) -> None:
    client = FakeClient({"t0": "pending"}, seals_error=errors.ServerRefused(status=404, reason="x"))
    pre = Prefetch(client, Outbox(tmp_path / "outbox"), ["t0"]).start()
    assert pre.seals() is None  # the batch asks again (and may use the key's own seals)
    assert pre.take("t0") is not None


@pytest.mark.parametrize("error", [errors.AuthRequired(origin=ORIGIN), errors.ServerUnreachable(origin=ORIGIN),
                                   RuntimeError("a bug")])
def test_any_failure_means_the_batch_asks_itself(tmp_path: Path, error: Exception) -> None:
    client = FakeClient({"t0": "pending", "t1": "pending"}, task_error=error)
    pre = Prefetch(client, Outbox(tmp_path / "outbox"), None).start()
    assert pre.task_ids() == ["t0", "t1"] and pre.seals() == ["server-seal"]
    assert pre.take("t0") is None and pre.take("t1") is None  # answered, not hanging


def _counting(session: Any) -> dict[str, list[str]]:
    """Wrap the client's task and download calls: task id → the threads that made them."""
    seen: dict[str, list[str]] = {}
    client = session.client
    real_task, real_download = client.task, client.download

    def task(tid: str) -> Any:
        seen.setdefault(f"task:{tid}", []).append(threading.current_thread().name)
        return real_task(tid)

    def download(t: Any) -> bytes:
        seen.setdefault(f"download:{t.id}", []).append(threading.current_thread().name)
        return real_download(t)

    client.task, client.download = task, download
    return seen


def test_batch_with_a_held_token_uses_the_prefetched_documents(reference_server, demo_keys,  # noqa: F811
                                                                tmp_path: Path) -> None:
    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 5)
    key, module, manifest = key_parts(SZCA.label)
    h = KeyHandle(module, key, manifest)
    session = session_for(reference_server, key)
    with pinops.user_session(h, PinBuffer(SZCA.user_pin)) as p11:
        session.login(p11)
    seen = _counting(session)
    result = batch.sign_tasks(session, h, PinBuffer(SZCA.user_pin), ids, Outbox(tmp_path / "outbox"))
    assert result.ok, result.summary_en()
    assert reference_server.uploads_per_task() == {i: 1 for i in ids}
    for tid in ids:  # each task and document fetched once, ahead, by the prefetch thread
        assert seen[f"task:{tid}"] == ["zhenglian-prefetch"]
        assert seen[f"download:{tid}"] == ["zhenglian-prefetch"]


def test_batch_with_a_stale_token_logs_in_once_and_signs_everything(reference_server, demo_keys,  # noqa: F811
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 4)
    key, module, manifest = key_parts(SZCA.label)
    session = session_for(reference_server, key)
    session.client.token = "not-a-token-the-server-knows"  # held, so prefetched with; refused
    logins: list[int] = []
    real = pinops.login

    def counting(*args: Any, **kwargs: Any) -> Any:
        logins.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pinops, "login", counting)
    result = batch.sign_tasks(session, KeyHandle(module, key, manifest), PinBuffer(SZCA.user_pin), None,
                              Outbox(tmp_path / "outbox"))
    assert result.ok, result.summary_en()
    assert len(logins) == 1  # one PIN: the server login used the batch's key session
    assert {o.task_id for o in result.outcomes} == set(ids)
    assert reference_server.uploads_per_task() == {i: 1 for i in ids}
