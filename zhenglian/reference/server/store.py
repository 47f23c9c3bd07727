"""SQLite storage of the reference server, and its document files.

One database file (WAL mode, so the admin command line can add tasks while
the server runs) and a content-addressed folder of PDFs.  Every write that
must be all-or-nothing (a signed upload: task state, upload record and event)
is one ``BEGIN IMMEDIATE`` transaction; the signed file itself is written
atomically *before* the transaction, so a crash leaves at worst an unused
file, never a task marked signed without its document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhenglian.fsutil import atomic_write_bytes
from zhenglian.reference.server.config import ServerConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS institutions (
    uscc TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cas (
    sha256 TEXT PRIMARY KEY, der BLOB NOT NULL, subject TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'intermediate')), added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seals (
    id TEXT PRIMARY KEY, uscc TEXT NOT NULL REFERENCES institutions(uscc), name TEXT NOT NULL,
    seal_type TEXT NOT NULL, width_mm REAL NOT NULL, height_mm REAL NOT NULL, png BLOB NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, uscc TEXT NOT NULL REFERENCES institutions(uscc), title TEXT NOT NULL,
    business_type TEXT NOT NULL, created_at TEXT NOT NULL, deadline TEXT,
    seal_type TEXT NOT NULL, placement TEXT NOT NULL, filename TEXT NOT NULL,
    doc_sha256 TEXT NOT NULL, doc_size INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'signed', 'rejected')),
    signed_sha256 TEXT, signed_size INTEGER, signed_at TEXT, signer_sha256 TEXT,
    reject_reason TEXT, rejected_at TEXT);
CREATE INDEX IF NOT EXISTS tasks_by_inst ON tasks (uscc, status);
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, received_at TEXT NOT NULL, signer_sha256 TEXT NOT NULL,
    UNIQUE (task_id, sha256));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, uscc TEXT NOT NULL, task_id TEXT NOT NULL,
    kind TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS challenges (
    nonce TEXT PRIMARY KEY, origin TEXT NOT NULL, expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, uscc TEXT NOT NULL, cert_sha256 TEXT NOT NULL,
    expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_hash TEXT PRIMARY KEY, task_id TEXT NOT NULL, uscc TEXT NOT NULL,
    expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
"""

STATUSES = ("pending", "signed", "rejected")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Task:
    id: str
    uscc: str
    title: str
    business_type: str
    created_at: str
    deadline: str | None
    seal_type: str
    placement: dict[str, Any]
    filename: str
    doc_sha256: str
    doc_size: int
    status: str
    signed_sha256: str | None
    signed_at: str | None
    signer_sha256: str | None
    reject_reason: str | None
    rejected_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Task:
        return cls(
            id=row["id"], uscc=row["uscc"], title=row["title"], business_type=row["business_type"],
            created_at=row["created_at"], deadline=row["deadline"], seal_type=row["seal_type"],
            placement=json.loads(row["placement"]), filename=row["filename"],
            doc_sha256=row["doc_sha256"], doc_size=row["doc_size"], status=row["status"],
            signed_sha256=row["signed_sha256"], signed_at=row["signed_at"],
            signer_sha256=row["signer_sha256"], reject_reason=row["reject_reason"],
            rejected_at=row["rejected_at"],
        )


class Store:
    """All reads and writes of the server's state."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._local = threading.local()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config.files_dir.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(SCHEMA)  # executescript commits by itself

    # --- connections -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.config.db, timeout=15, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once: no lock upgrade deadlocks)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def q(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- meta (fault injection) ---------------------------------------------

    def get_meta(self, key: str, default: str = "") -> str:
        rows = self.q("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            if value:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
            else:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))

    # --- files -------------------------------------------------------------

    def _file(self, sha: str) -> Path:
        return self.config.files_dir / sha[:2] / f"{sha}.pdf"

    def put_file(self, data: bytes) -> str:
        sha = sha256_hex(data)
        path = self._file(sha)
        if not path.exists():
            atomic_write_bytes(path, data, mode=0o644)
        return sha

    def read_file(self, sha: str) -> bytes:
        return self._file(sha).read_bytes()

    # --- institutions, CAs, seals --------------------------------------------

    def add_institution(self, uscc: str, name: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO institutions (uscc, name, created_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(uscc) DO UPDATE SET name = excluded.name", (uscc, name, now_iso()))

    def institution(self, uscc: str) -> sqlite3.Row | None:
        rows = self.q("SELECT * FROM institutions WHERE uscc = ?", (uscc,))
        return rows[0] if rows else None

    def institutions(self) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM institutions ORDER BY created_at, uscc")

    def add_ca(self, der: bytes, subject: str, kind: str) -> str:
        sha = sha256_hex(der)
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO cas (sha256, der, subject, kind, added_at) VALUES (?, ?, ?, ?, ?)",
                       (sha, der, subject, kind, now_iso()))
        return sha

    def cas(self, kind: str | None = None) -> list[sqlite3.Row]:
        if kind:
            return self.q("SELECT * FROM cas WHERE kind = ? ORDER BY added_at", (kind,))
        return self.q("SELECT * FROM cas ORDER BY kind DESC, added_at")

    def remove_ca(self, sha256: str) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM cas WHERE sha256 = ?", (sha256,)).rowcount > 0

    def ca_version(self) -> tuple[int, str]:
        """Changes whenever the trusted set changes (for caching the trust store)."""
        row = self.q("SELECT count(*) AS n, coalesce(group_concat(sha256), '') AS m FROM cas")[0]
        return int(row["n"]), hashlib.sha256(str(row["m"]).encode()).hexdigest()

    def add_seal(self, uscc: str, name: str, seal_type: str, png: bytes, width_mm: float,
                 height_mm: float) -> str:
        seal_id = uuid.uuid4().hex[:16]
        with self.tx() as db:
            db.execute("INSERT INTO seals (id, uscc, name, seal_type, width_mm, height_mm, png, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (seal_id, uscc, name, seal_type, width_mm, height_mm, png, now_iso()))
        return seal_id

    def seals(self, uscc: str | None = None) -> list[sqlite3.Row]:
        if uscc:
            return self.q("SELECT * FROM seals WHERE uscc = ? ORDER BY created_at", (uscc,))
        return self.q("SELECT * FROM seals ORDER BY uscc, created_at")

    # --- tasks ---------------------------------------------------------------

    def add_task(self, uscc: str, title: str, business_type: str, document: bytes, filename: str,
                 seal_type: str, placement: dict[str, Any], deadline: str | None = None) -> str:
        sha = self.put_file(document)
        task_id = uuid.uuid4().hex[:16]
        with self.tx() as db:
            db.execute(
                "INSERT INTO tasks (id, uscc, title, business_type, created_at, deadline, seal_type, placement,"
                " filename, doc_sha256, doc_size, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (task_id, uscc, title, business_type, now_iso(), deadline, seal_type,
                 json.dumps(placement, ensure_ascii=False, sort_keys=True), filename, sha, len(document)),
            )
            self._event(db, uscc, task_id, "created", "pending")
        return task_id

    def task(self, task_id: str) -> Task | None:
        rows = self.q("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return Task.from_row(rows[0]) if rows else None

    def tasks(self, uscc: str | None = None, status: str | None = None) -> list[Task]:
        sql, args = "SELECT * FROM tasks WHERE 1=1", []
        if uscc:
            sql += " AND uscc = ?"
            args.append(uscc)
        if status:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY created_at, rowid"
        return [Task.from_row(r) for r in self.q(sql, tuple(args))]

    def record_signed(self, task_id: str, sha: str, size: int, signer_sha256: str) -> tuple[str, Task]:
        """Mark the task signed with this file, once.

        Returns ("recorded" | "duplicate" | "conflict" | "rejected" | "missing", task).
        """
        with self.tx() as db:
            rows = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchall()
            if not rows:
                return "missing", None  # type: ignore[return-value]
            task = Task.from_row(rows[0])
            if task.status == "signed":
                return ("duplicate" if task.signed_sha256 == sha else "conflict"), task
            if task.status == "rejected":
                return "rejected", task
            at = now_iso()
            db.execute("UPDATE tasks SET status = 'signed', signed_sha256 = ?, signed_size = ?, signed_at = ?,"
                       " signer_sha256 = ? WHERE id = ?", (sha, size, at, signer_sha256, task_id))
            db.execute("INSERT INTO uploads (task_id, sha256, size, received_at, signer_sha256)"
                       " VALUES (?, ?, ?, ?, ?)", (task_id, sha, size, at, signer_sha256))
            self._event(db, task.uscc, task_id, "signed", "signed")
        return "recorded", self.task(task_id)  # type: ignore[return-value]

    def reject(self, task_id: str, reason: str) -> tuple[str, Task | None]:
        with self.tx() as db:
            rows = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchall()
            if not rows:
                return "missing", None
            task = Task.from_row(rows[0])
            if task.status == "rejected":
                return ("duplicate" if task.reject_reason == reason else "conflict"), task
            if task.status == "signed":
                return "signed", task
            db.execute("UPDATE tasks SET status = 'rejected', reject_reason = ?, rejected_at = ? WHERE id = ?",
                       (reason, now_iso(), task_id))
            self._event(db, task.uscc, task_id, "rejected", "rejected")
        return "recorded", self.task(task_id)

    def uploads(self, task_id: str | None = None) -> list[sqlite3.Row]:
        if task_id:
            return self.q("SELECT * FROM uploads WHERE task_id = ? ORDER BY id", (task_id,))
        return self.q("SELECT * FROM uploads ORDER BY id")

    # --- events --------------------------------------------------------------

    @staticmethod
    def _event(db: sqlite3.Connection, uscc: str, task_id: str, kind: str, status: str) -> None:
        db.execute("INSERT INTO events (uscc, task_id, kind, status, at) VALUES (?, ?, ?, ?, ?)",
                   (uscc, task_id, kind, status, now_iso()))

    def events_since(self, uscc: str, seq: int, limit: int = 200) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM events WHERE uscc = ? AND seq > ? ORDER BY seq LIMIT ?", (uscc, seq, limit))

    def last_seq(self) -> int:
        return int(self.q("SELECT coalesce(max(seq), 0) AS s FROM events")[0]["s"])

    # --- login challenges, sessions, tickets ---------------------------------

    def add_challenge(self, nonce: str, origin: str, expires_at: int) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM challenges WHERE expires_at < ?", (int(time.time()) - 3600,))
            db.execute("INSERT INTO challenges (nonce, origin, expires_at) VALUES (?, ?, ?)",
                       (nonce, origin, expires_at))

    def take_challenge(self, nonce: str) -> sqlite3.Row | None:
        """The challenge, marked used (a nonce signs in at most once)."""
        with self.tx() as db:
            rows = db.execute("SELECT * FROM challenges WHERE nonce = ? AND used = 0", (nonce,)).fetchall()
            if not rows:
                return None
            db.execute("UPDATE challenges SET used = 1 WHERE nonce = ?", (nonce,))
            return rows[0]

    def add_session(self, token: str, uscc: str, cert_sha256: str, expires_at: float) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time() - 86400,))
            db.execute("INSERT INTO sessions (token_hash, uscc, cert_sha256, expires_at) VALUES (?, ?, ?, ?)",
                       (sha256_hex(token.encode()), uscc, cert_sha256, expires_at))

    def session(self, token: str) -> sqlite3.Row | None:
        rows = self.q("SELECT * FROM sessions WHERE token_hash = ? AND revoked = 0", (sha256_hex(token.encode()),))
        return rows[0] if rows else None

    def revoke_session(self, token: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE sessions SET revoked = 1 WHERE token_hash = ?", (sha256_hex(token.encode()),))

    def add_ticket(self, ticket: str, task_id: str, uscc: str, expires_at: float) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO tickets (ticket_hash, task_id, uscc, expires_at) VALUES (?, ?, ?, ?)",
                       (sha256_hex(ticket.encode()), task_id, uscc, expires_at))

    def peek_ticket(self, ticket: str, now: float) -> sqlite3.Row | None:
        """The ticket's row if it is unused and unexpired (not used up by looking)."""
        with self.tx() as db:
            rows = db.execute("SELECT * FROM tickets WHERE ticket_hash = ? AND used = 0 AND expires_at >= ?",
                              (sha256_hex(ticket.encode()), now)).fetchall()
            return rows[0] if rows else None

    def take_ticket(self, ticket: str, uscc: str, now: float) -> sqlite3.Row | None:
        """The ticket's row, used up, if it is unused, unexpired and this institution's."""
        with self.tx() as db:
            h = sha256_hex(ticket.encode())
            rows = db.execute("SELECT * FROM tickets WHERE ticket_hash = ? AND used = 0 AND uscc = ?"
                              " AND expires_at >= ?", (h, uscc, now)).fetchall()
            if not rows:
                return None
            db.execute("UPDATE tickets SET used = 1 WHERE ticket_hash = ?", (h,))
            return rows[0]

    # --- admin -----------------------------------------------------------------

    def reset(self, everything: bool = False) -> None:
        """Forget tasks (and with ``everything`` institutions, CAs and seals too)."""
        tables = ["tasks", "uploads", "events", "challenges", "sessions", "tickets"]
        if everything:
            tables += ["seals", "institutions", "cas", "meta"]
        with self.tx() as db:
            for t in tables:
                db.execute(f"DELETE FROM {t}")  # noqa: S608 - fixed names
