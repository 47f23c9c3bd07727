"""Signed documents waiting for the server: kept on disk until it accepts them.

Nothing signed is ever lost and nothing is recorded twice:

- ``put`` writes the signed PDF atomically, then its JSON record atomically;
  the record is the commit point (a PDF without one is an interrupted write,
  cleaned up later; a record always has its PDF).  A crash or a restart at any
  moment leaves either no entry or a complete one.
- ``upload_entry`` PUTs the file; the server makes that idempotent (task id +
  content hash: the same file again answers 200 "duplicate"), so an upload
  whose answer was lost is simply sent again.
- an accepted upload is appended to ``journal.jsonl`` (fsynced) *before* the
  entry is deleted; an entry found in the journal is never sent again.
- transient failures (network, timeouts, 5xx) keep the entry and set a
  growing delay before the next try; a refusal (4xx: the server will not take
  this file) moves it to ``failed/`` — kept for the user, not retried.

Several processes (tray and command line) may share one outbox: a lock file
lets one of them upload at a time; adding entries needs no lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import errors, paths
from zhenglian.fsutil import atomic_write_bytes, atomic_write_json, os_lock

log = logging.getLogger(__name__)

MAX_DELAY_S = 300.0
ORPHAN_AGE_S = 600.0


@dataclass
class OutboxEntry:
    id: str
    origin: str
    task_id: str
    sha256: str
    size: int
    key_serial: str = ""
    title: str = ""
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    next_try_at: float = 0.0
    last_error: str = ""
    last_message_zh: str = ""
    last_message_en: str = ""
    state: str = "queued"  # "queued" | "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutboxEntry:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


@dataclass
class FlushReport:
    uploaded: list[OutboxEntry] = field(default_factory=list)
    duplicates: int = 0
    refused: list[OutboxEntry] = field(default_factory=list)
    remaining: int = 0
    error: errors.ZhenglianError | None = None  # the transient error that stopped the flush
    auth_required: bool = False
    busy: bool = False  # another process was uploading

    @property
    def ok(self) -> bool:
        return self.error is None and not self.auth_required and not self.busy


def entry_id(origin: str, task_id: str, sha256: str) -> str:
    return hashlib.sha256(f"{origin}\n{task_id}".encode()).hexdigest()[:20] + "-" + sha256[:16]


class _ProcessLock:
    """An advisory lock file (flock / msvcrt); ``acquire`` does not wait."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+b")  # noqa: SIM115 - held while locked
        try:
            taken = os_lock(fh.fileno(), True, wait=False)
        except OSError:
            taken = False
        if not taken:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            os_lock(self._fh.fileno(), False)
        finally:
            self._fh.close()
            self._fh = None


class StagedPut:
    """A signed file written to the outbox, its entry not committed yet (:meth:`Outbox.stage`)."""

    def __init__(self, entry: OutboxEntry, pdf: Path, meta: Path, written: bool = True) -> None:
        self.entry, self.pdf, self.meta = entry, pdf, meta
        self.committed = not written  # an entry found already committed needs nothing more

    def commit(self, before_commit: Callable[[OutboxEntry], None] | None = None) -> OutboxEntry:
        """The commit point: ``before_commit(entry)`` (the register), then the entry's record."""
        if self.committed:
            return self.entry
        self.entry.created_at = time.time()  # the batch's order, not the order the writes finished in
        if before_commit is not None:
            before_commit(self.entry)  # if it raises: not committed, the stage removes the PDF
        atomic_write_json(self.meta, self.entry.to_dict())
        self.committed = True
        return self.entry


class Outbox:
    """The queue of signed files under ``<data dir>/outbox``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else paths.data_dir() / "outbox"
        self.queue_dir = self.root / "queue"
        self.failed_dir = self.root / "failed"
        self.journal_file = self.root / "journal.jsonl"
        for d in (self.queue_dir, self.failed_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._putting: set[str] = set()  # entry ids being written by a thread of this process
        self._putting_cond = threading.Condition(self._lock)
        self._uploading: set[str] = set()  # entry ids being sent by a thread of this process
        self._uploading_cond = threading.Condition()
        self._plock = _ProcessLock(self.root / ".upload.lock")
        self._done: set[tuple[str, str, str]] = set()
        self._journal_size = -1
        self._clean_orphans()

    # --- journal -----------------------------------------------------------------

    def _load_journal(self) -> None:
        """Read what was appended since the last look (append-only: whole lines, any process).

        Only the new bytes are parsed: the journal keeps every upload ever made, and reading it
        whole at each upload grew with the client's age.  A line still being written (or cut
        short by a crash) is left for the next look."""
        try:
            size = self.journal_file.stat().st_size
        except FileNotFoundError:
            return
        if size == self._journal_size:
            return
        start = self._journal_size if 0 <= self._journal_size < size else 0
        if start == 0:
            self._done = set()  # first look, or the file was replaced: read it all
        with open(self.journal_file, "rb") as fh:
            fh.seek(start)
            data = fh.read(size - start)
        whole = data.rfind(b"\n") + 1
        for line in data[:whole].splitlines():
            try:
                d = json.loads(line)
                self._done.add((d["origin"], d["task_id"], d["sha256"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
        self._journal_size = start + whole

    def is_done(self, origin: str, task_id: str, sha256: str) -> bool:
        with self._lock:
            self._load_journal()
            return (origin, task_id, sha256) in self._done

    def journal(self) -> list[dict[str, Any]]:
        try:
            lines = self.journal_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def _append_journal(self, entry: OutboxEntry, duplicate: bool) -> None:
        record = {"origin": entry.origin, "task_id": entry.task_id, "sha256": entry.sha256,
                  "title": entry.title, "at": time.time(), "duplicate": duplicate}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.journal_file, "ab+") as fh:
            if fh.seek(0, os.SEEK_END) > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    line = b"\n" + line  # after a line a crash cut short: this record on its own line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._done.add((entry.origin, entry.task_id, entry.sha256))

    # --- entries -----------------------------------------------------------------

    def _paths(self, entry_id_: str, failed: bool = False) -> tuple[Path, Path]:
        d = self.failed_dir if failed else self.queue_dir
        return d / f"{entry_id_}.pdf", d / f"{entry_id_}.json"

    def put(self, origin: str, task_id: str, data: bytes, *, key_serial: str = "", title: str = "",
            before_commit: Callable[[OutboxEntry], None] | None = None) -> OutboxEntry:
        """Keep a signed file until the server has it (idempotent for the same file).

        ``before_commit(entry)`` runs with the file on disk and before the entry is
        committed (the seal-use register records it there); if it raises, the file is
        removed and nothing is queued.
        """
        with self.stage(origin, task_id, data, key_serial=key_serial, title=title) as staged:
            return staged.commit(before_commit)

    @contextlib.contextmanager
    def stage(self, origin: str, task_id: str, data: bytes, *, key_serial: str = "",
              title: str = "") -> Iterator[StagedPut]:
        """``put`` in two steps: the PDF written (and fsynced) now, the entry committed by
        ``staged.commit(before_commit)`` inside the ``with`` — a pipelined batch writes
        documents side by side and commits them, with their register entries, in order.
        Left without a commit (an error, a stopped batch), the PDF is removed."""
        sha = hashlib.sha256(data).hexdigest()
        eid = entry_id(origin, task_id, sha)
        pdf, meta = self._paths(eid)
        # The outbox is held only to claim the entry, not through the writes, fsyncs and the
        # register's commit (tens of ms): the uploader's journal and removals go on meanwhile.
        with self._putting_cond:
            while eid in self._putting:  # the same file being put by another thread: its answer
                self._putting_cond.wait()
            existing = self._read_entry(meta)
            if existing is None:
                self._putting.add(eid)
        if existing is not None:
            yield StagedPut(existing, pdf, meta, written=False)
            return
        staged = StagedPut(OutboxEntry(eid, origin, task_id, sha, len(data), key_serial, title), pdf, meta)
        try:
            # The PDF's bytes are fsynced here; its name becomes durable with the record's
            # directory fsync at the commit (same directory, so never a durable record without its PDF).
            atomic_write_bytes(pdf, data, sync_dir=False)
            yield staged
        finally:
            if not staged.committed:
                with contextlib.suppress(OSError):
                    pdf.unlink()
            with self._putting_cond:
                self._putting.discard(eid)
                self._putting_cond.notify_all()

    def _read_entry(self, meta: Path) -> OutboxEntry | None:
        try:
            return OutboxEntry.from_dict(json.loads(meta.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, OSError):
            log.warning("unreadable outbox record %s", meta.name)
            return None

    def _entries(self, failed: bool = False) -> Iterator[OutboxEntry]:
        d = self.failed_dir if failed else self.queue_dir
        for meta in sorted(d.glob("*.json")):
            entry = self._read_entry(meta)
            if entry is not None:
                yield entry

    def pending(self, origin: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            out = [e for e in self._entries() if origin is None or e.origin == origin]
        out.sort(key=lambda e: e.created_at)
        return out

    def failed(self, origin: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            return [e for e in self._entries(failed=True) if origin is None or e.origin == origin]

    def find(self, origin: str, task_id: str) -> OutboxEntry | None:
        """A queued signed file for this task, if any (the task must not be signed again).

        Looks only at this task's records: an entry's id starts with a hash of (origin,
        task id) (:func:`entry_id`), so the cost does not grow with the queue (a batch
        asks for every task, and reading every record each time was O(queue) per task).
        """
        prefix = entry_id(origin, task_id, "")  # "<hash of origin and task>-"
        with self._lock:
            found = [e for meta in sorted(self.queue_dir.glob(f"{prefix}*.json"))
                     if (e := self._read_entry(meta)) is not None and e.origin == origin and e.task_id == task_id]
        found.sort(key=lambda e: e.created_at)
        return found[0] if found else None

    def read(self, entry: OutboxEntry, failed: bool = False) -> bytes:
        data = self._paths(entry.id, failed)[0].read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ValueError("outbox file does not match its record")
        return data

    def _save(self, entry: OutboxEntry) -> None:
        atomic_write_json(self._paths(entry.id)[1], entry.to_dict())

    def _remove(self, entry: OutboxEntry) -> None:
        pdf, meta = self._paths(entry.id)
        with contextlib.suppress(FileNotFoundError):
            meta.unlink()  # record first: a PDF without a record is only an orphan
        with contextlib.suppress(FileNotFoundError):
            pdf.unlink()

    def _move_to_failed(self, entry: OutboxEntry) -> None:
        entry.state = "failed"
        src_pdf, src_meta = self._paths(entry.id)
        dst_pdf, dst_meta = self._paths(entry.id, failed=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(src_pdf, dst_pdf)
        atomic_write_json(dst_meta, entry.to_dict())
        with contextlib.suppress(FileNotFoundError):
            src_meta.unlink()

    def _clean_orphans(self) -> None:
        now = time.time()
        # Signing temp files in tmp/ (pdf/outfile.py's; earlier versions signed tasks there too)
        # left by a kill -9 or a full disk: nothing reads them again.
        from zhenglian.pdf.outfile import sweep_stale_parts

        tmp = self.root / "tmp"
        for pattern in ("*.part", ".task-*.pdf"):
            sweep_stale_parts(tmp, pattern, ORPHAN_AGE_S, now)
        for pdf in self.queue_dir.glob("*.pdf"):
            if pdf.with_suffix(".json").exists():
                continue
            with contextlib.suppress(OSError):
                if now - pdf.stat().st_mtime > ORPHAN_AGE_S:
                    pdf.unlink()
                    log.info("removed an interrupted outbox write %s", pdf.name)

    # --- uploading ---------------------------------------------------------------

    def upload_entry(self, entry: OutboxEntry, client: Any) -> str:
        """Send one entry.  Returns "uploaded", "duplicate" or "refused".

        Raises AuthRequired (entry kept), ServerUnreachable / ServerError
        (entry kept, next try delayed).
        """
        # One upload of an entry at a time in this process (other processes: the upload lock
        # file), but the outbox itself is not held while the bytes travel: a pipelined batch
        # queues the next signed file while the server checks the last one.
        with self._uploading_cond:
            while entry.id in self._uploading:
                self._uploading_cond.wait()
            self._uploading.add(entry.id)
        try:
            return self._upload_one(entry, client)
        finally:
            with self._uploading_cond:
                self._uploading.discard(entry.id)
                self._uploading_cond.notify_all()

    def _upload_one(self, entry: OutboxEntry, client: Any) -> str:
        with self._lock:
            if self.is_done(entry.origin, entry.task_id, entry.sha256):
                self._remove(entry)
                return "duplicate"
            try:
                data = self.read(entry)
            except (OSError, ValueError):
                entry.last_error = "outbox_file_damaged"
                entry.last_message_zh = "待上传文件丢失或损坏，请重新签署该任务"
                entry.last_message_en = "the queued file is missing or damaged; sign the task again"
                self._move_to_failed(entry)
                return "refused"
        try:
            result = client.upload(entry.task_id, data)
        except errors.AuthRequired:
            raise
        except (errors.ServerUnreachable, errors.ServerError) as exc:
            with self._lock:
                entry.attempts += 1
                entry.next_try_at = time.time() + min(MAX_DELAY_S, 2.0 ** min(entry.attempts, 9))
                entry.last_error = exc.code
                entry.last_message_zh, entry.last_message_en = exc.message_zh(), exc.message_en()
                self._save(entry)
            raise
        except errors.ServerRefused as exc:
            with self._lock:
                entry.attempts += 1
                entry.last_error = exc.reason or exc.code
                entry.last_message_zh, entry.last_message_en = exc.message_zh(), exc.message_en()
                self._move_to_failed(entry)
            log.warning("server refused queued task %s: %s", entry.task_id, entry.last_error)
            return "refused"
        with self._lock:
            self._append_journal(entry, result.duplicate)
            self._remove(entry)
        return "duplicate" if result.duplicate else "uploaded"

    def flush(self, client: Any, origin: str | None = None, *, force: bool = False,
              should_stop: Callable[[], bool] | None = None,
              on_result: Callable[[OutboxEntry, str], None] | None = None) -> FlushReport:
        """Upload every due entry of ``origin``; stop at the first transient failure."""
        report = FlushReport()
        if not self._plock.acquire():
            report.busy = True
            report.remaining = len(self.pending(origin))
            return report
        try:
            now = time.time()
            for entry in self.pending(origin):
                if should_stop is not None and should_stop():
                    break
                if not force and entry.next_try_at > now:
                    continue
                try:
                    outcome = self.upload_entry(entry, client)
                except errors.AuthRequired as exc:
                    report.auth_required, report.error = True, exc
                    break
                except (errors.ServerUnreachable, errors.ServerError) as exc:
                    report.error = exc
                    break
                if outcome == "refused":
                    report.refused.append(entry)
                else:
                    report.uploaded.append(entry)
                    report.duplicates += outcome == "duplicate"
                if on_result is not None:
                    on_result(entry, outcome)
        finally:
            self._plock.release()
        report.remaining = len(self.pending(origin))
        return report
