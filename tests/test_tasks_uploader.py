"""The batch's uploader: two uploads in flight, every thread ends when the batch finishes."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from zhenglian import errors
from zhenglian.tasks.batch import UPLOAD_THREADS, _Uploader
from zhenglian.tasks.outbox import OutboxEntry


def _entry(i: int) -> OutboxEntry:
    return OutboxEntry(id=f"e{i}", origin="https://srv", task_id=f"t{i}", sha256="0" * 64, size=1)


class _Outbox:
    """Stands in for Outbox.upload_entry: each call runs ``send``."""

    def __init__(self, send: Any) -> None:
        self.send = send

    def upload_entry(self, entry: OutboxEntry, client: Any) -> str:
        return self.send(entry)


def test_uploads_go_side_by_side() -> None:
    assert UPLOAD_THREADS >= 2
    both_in_flight = threading.Barrier(2, timeout=60)  # broken (an error) if the second never starts

    def send(entry: OutboxEntry) -> str:
        if entry.id in ("e0", "e1"):
            both_in_flight.wait()
        return "uploaded"

    results: list[tuple[str, str]] = []
    up = _Uploader(_Outbox(send), SimpleNamespace(), lambda e, outcome, err: results.append((e.id, outcome)))
    up.start()
    for i in range(4):
        up.submit(_entry(i))
    up.finish(60)
    up.join(60)
    assert not up.is_alive()
    assert sorted(results) == [(f"e{i}", "uploaded") for i in range(4)]


def test_finish_with_nothing_queued_ends_every_thread() -> None:
    for _ in range(30):  # the threads may or may not be waiting for an entry when finish() comes
        up = _Uploader(_Outbox(lambda e: "uploaded"), SimpleNamespace(), lambda *a: None)
        up.start()
        up.finish(60)
        up.join(60)
        assert not up.is_alive()


def test_a_login_wanted_parks_the_entry_until_resumed() -> None:
    logged_in = threading.Event()
    seen: list[str] = []

    def send(entry: OutboxEntry) -> str:
        if not logged_in.is_set():
            raise errors.AuthRequired()
        seen.append(entry.id)
        return "uploaded"

    up = _Uploader(_Outbox(send), SimpleNamespace(), lambda *a: None)
    up.start()
    up.submit(_entry(0))
    assert up.auth_needed.wait(60)
    logged_in.set()
    up.resume_after_login()
    up.finish(60)
    up.join(60)
    assert seen == ["e0"] and not up.parked and not up.is_alive()
