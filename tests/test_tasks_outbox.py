"""The outbox on its own: durable, idempotent, never sends an entry twice, sorts refusals out."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from zhenglian import errors
from zhenglian.server.models import UploadResult
from zhenglian.tasks.outbox import ORPHAN_AGE_S, Outbox

ORIGIN = "https://sign.example.org"


class FakeServer:
    """Idempotent like the real one: a task takes one file; the same file again is a duplicate."""

    def __init__(self) -> None:
        self.signed: dict[str, str] = {}
        self.calls = 0
        self.fail_with: errors.ZhenglianError | None = None

    def upload(self, task_id: str, data: bytes) -> UploadResult:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        sha = hashlib.sha256(data).hexdigest()
        if task_id in self.signed:
            if self.signed[task_id] != sha:
                raise errors.ServerRefused(status=409, reason="already_signed", reason_zh="已用另一份文件签署",
                                           reason_en="already signed with another file")
            return UploadResult(task_id, sha, True, "")
        self.signed[task_id] = sha
        return UploadResult(task_id, sha, False, "")


def test_put_is_atomic_idempotent_and_survives_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    a = box.put(ORIGIN, "t1", b"%PDF-signed-1", title="贷款合同")
    assert box.put(ORIGIN, "t1", b"%PDF-signed-1").id == a.id  # same file: same entry
    assert len(box.pending()) == 1
    again = Outbox(tmp_path)  # the program restarted
    (entry,) = again.pending()
    assert entry.title == "贷款合同" and again.read(entry) == b"%PDF-signed-1"
    assert again.find(ORIGIN, "t1") is not None and again.find("https://other", "t1") is None
    # No temporary files are left behind.
    assert not [p for p in (tmp_path / "queue").iterdir() if p.name.startswith(".")]


def test_staged_writes_commit_in_the_callers_order_and_vanish_uncommitted(tmp_path: Path) -> None:
    """A pipelined batch writes its documents side by side and commits them in order."""
    box = Outbox(tmp_path)
    seen: list[str] = []
    with box.stage(ORIGIN, "t1", b"%PDF-1") as first, box.stage(ORIGIN, "t2", b"%PDF-2") as second:
        assert first.pdf.is_file() and second.pdf.is_file()  # written (and fsynced) already
        assert box.pending() == []  # ... but nothing is queued before its commit
        second_entry = second.commit(lambda e: seen.append(e.task_id))
        first_entry = first.commit(lambda e: seen.append(e.task_id))
    assert seen == ["t2", "t1"]
    assert [e.task_id for e in box.pending()] == ["t2", "t1"]  # the commit order, not the write order
    assert first_entry.created_at >= second_entry.created_at
    # Left without a commit (the batch stopped, the register refused): no file, no entry.
    try:
        with box.stage(ORIGIN, "t3", b"%PDF-3") as third:
            pdf = third.pdf
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not pdf.exists() and box.find(ORIGIN, "t3") is None

    def refuse(_entry: object) -> None:
        raise OSError("register unwritable")

    try:
        with box.stage(ORIGIN, "t4", b"%PDF-4") as fourth:
            fourth.commit(refuse)
    except OSError:
        pass
    assert not fourth.pdf.exists() and box.find(ORIGIN, "t4") is None
    # The same file staged again is the committed entry, untouched.
    with box.stage(ORIGIN, "t1", b"%PDF-1") as again:
        assert again.commit() == first_entry
    assert box.read(box.find(ORIGIN, "t1")) == b"%PDF-1"


def test_flush_uploads_once_and_journals(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    for i in range(3):
        box.put(ORIGIN, f"t{i}", f"%PDF-{i}".encode())
    server = FakeServer()
    report = box.flush(server, ORIGIN)
    assert report.ok and len(report.uploaded) == 3 and report.remaining == 0
    assert server.calls == 3
    assert [j["task_id"] for j in box.journal()] == ["t0", "t1", "t2"]
    # A crash between the journal line and the deletion: the entry reappears but is never sent again.
    entry = box.put(ORIGIN, "t1", b"%PDF-1")
    assert box.upload_entry(entry, server) == "duplicate"
    assert server.calls == 3 and box.pending() == []


def test_transient_errors_keep_the_entry_with_a_delay(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.put(ORIGIN, "t1", b"%PDF-1")
    box.put(ORIGIN, "t2", b"%PDF-2")
    server = FakeServer()
    server.fail_with = errors.ServerUnreachable(origin=ORIGIN, detail_zh="连接失败", detail_en="connection failed")
    report = box.flush(server, ORIGIN)
    assert isinstance(report.error, errors.ServerUnreachable) and report.remaining == 2
    assert server.calls == 1  # the first failure stops the flush: the server is down
    (first, _) = sorted(box.pending(), key=lambda e: e.task_id)
    assert first.attempts == 1 and first.next_try_at > time.time() and first.last_error == "server_unreachable"
    server.fail_with = None
    report = box.flush(server, ORIGIN)  # t1 is not due yet; t2 never failed
    assert [e.task_id for e in report.uploaded] == ["t2"] and report.remaining == 1
    report = box.flush(server, ORIGIN, force=True)
    assert box.pending() == [] and server.signed.keys() == {"t1", "t2"}


def test_refusal_moves_the_file_aside_and_auth_stops(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    server = FakeServer()
    server.signed["t1"] = "0" * 64  # signed elsewhere with another file
    box.put(ORIGIN, "t1", b"%PDF-mine")
    report = box.flush(server, ORIGIN)
    assert [e.task_id for e in report.refused] == ["t1"] and box.pending() == []
    (failed,) = box.failed(ORIGIN)
    assert failed.last_error == "already_signed" and "另一份文件" in failed.last_message_zh
    assert box.read(failed, failed=True) == b"%PDF-mine"  # kept for the user
    box.put(ORIGIN, "t2", b"%PDF-2")
    server.fail_with = errors.AuthExpired(origin=ORIGIN)
    report = box.flush(server, ORIGIN)
    assert report.auth_required and report.remaining == 1


def test_interrupted_writes_and_damaged_files(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    orphan = tmp_path / "queue" / "deadbeef-00.pdf"  # PDF written, crash before its record
    orphan.write_bytes(b"%PDF-half")
    old = time.time() - ORPHAN_AGE_S - 5
    os.utime(orphan, (old, old))
    fresh = tmp_path / "queue" / "cafe-01.pdf"  # maybe another process writing right now
    fresh.write_bytes(b"%PDF-new")
    Outbox(tmp_path)
    assert not orphan.exists() and fresh.exists()
    # A journal line cut short by a crash is ignored, not fatal.
    entry = box.put(ORIGIN, "t9", b"%PDF-9")
    with open(box.journal_file, "a", encoding="utf-8") as fh:
        fh.write('{"origin": "x", "task_')
    assert not box.is_done(ORIGIN, "t9", entry.sha256)
    # A record whose file was damaged on disk is set aside, not uploaded.
    (tmp_path / "queue" / f"{entry.id}.pdf").write_bytes(b"%PDF-tampered")
    server = FakeServer()
    assert box.upload_entry(entry, server) == "refused" and server.calls == 0
    (failed,) = box.failed()
    assert failed.last_error == "outbox_file_damaged"
    assert json.loads((tmp_path / "failed" / f"{entry.id}.json").read_text())["state"] == "failed"


def test_only_one_process_flushes_at_a_time(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.put(ORIGIN, "t1", b"%PDF-1")
    other = Outbox(tmp_path)
    assert other._plock.acquire()
    try:
        report = box.flush(FakeServer(), ORIGIN)
        assert report.busy and report.remaining == 1
    finally:
        other._plock.release()
    assert box.flush(FakeServer(), ORIGIN).ok


def test_journal_read_as_it_grows_and_a_cut_line_swallows_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    server = FakeServer()
    first = box.put(ORIGIN, "t1", b"%PDF-1")
    assert box.upload_entry(first, server) == "uploaded"
    # another process (another Outbox on the same folder) appends; this one sees it
    other = Outbox(tmp_path)
    second = other.put(ORIGIN, "t2", b"%PDF-2")
    assert other.upload_entry(second, server) == "uploaded"
    assert box.is_done(ORIGIN, "t2", second.sha256) and box.is_done(ORIGIN, "t1", first.sha256)
    # a crash cut a line short; the next record still gets a line of its own
    with open(box.journal_file, "a", encoding="utf-8") as fh:
        fh.write('{"origin": "x", "task_')
    assert box.is_done(ORIGIN, "t1", first.sha256)
    third = box.put(ORIGIN, "t3", b"%PDF-3")
    assert box.upload_entry(third, server) == "uploaded"
    fresh = Outbox(tmp_path)  # reads the whole journal from the start
    assert all(fresh.is_done(ORIGIN, e.task_id, e.sha256) for e in (first, second, third))
    assert not fresh.is_done(ORIGIN, "t4", first.sha256)
    assert len(fresh.journal()) == 3  # the cut line is skipped, the three records read
