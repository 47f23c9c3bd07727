"""The register on disk: one SQLite file in the data directory, append-only, hash-chained.

- WAL journal with ``synchronous=FULL``: :meth:`Register.record` returns only
  after the entry's commit is fsynced, so a crash (even ``kill -9`` or a power
  cut) right after it still finds the entry.
- Every append runs in ``BEGIN IMMEDIATE``: two processes (the tray and the
  command line) take SQLite's write lock in turn, each reads the head inside
  its own transaction, and the chain never forks.  A writer that waits longer
  than the busy timeout gets :class:`~zhenglian.errors.RegisterBusy`.
- A commit that fails (full disk, read-only directory, damaged file) raises a
  typed :class:`~zhenglian.errors.RegisterError` and leaves the register as it
  was: the signing path then does not hand the signed file on.
- :meth:`Register.verify` never raises for a damaged register: it reports the
  first broken or missing entry (see :mod:`zhenglian.register.verify`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from zhenglian import errors, paths
from zhenglian.register import chain
from zhenglian.register.model import OUTCOMES, SealUse, canonical_json

SCHEMA_VERSION = 1
FILE_NAME = "register.sqlite3"
BUSY_TIMEOUT_S = 15.0
MAX_BODY = 64 * 1024  # bytes of one entry's canonical JSON

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anchors (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
    " head_hash TEXT NOT NULL, time_utc TEXT NOT NULL, algorithm TEXT NOT NULL,"
    " cert_der BLOB NOT NULL, signature BLOB NOT NULL)",
)


def default_path() -> Path:
    return paths.data_dir() / FILE_NAME


@dataclass(frozen=True)
class Head:
    seq: int  # 0 for an empty register
    hash: str


@dataclass(frozen=True)
class Entry:
    """One stored entry; ``use`` is None when its body no longer parses (``verify`` says why)."""

    seq: int
    hash: str
    use: SealUse | None

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, **(self.use.to_dict() if self.use else {"damaged": True})}


@dataclass(frozen=True)
class Filters:
    """What :meth:`Register.list` returns: dates are the machine's local calendar dates, inclusive."""

    since: date | None = None
    until: date | None = None
    key_serial: str | None = None
    seal: str | None = None  # seal name or seal id
    outcome: str | None = None
    limit: int | None = None


class Register:
    """The seal-use register.  Thread-safe; one per process is enough (the app keeps one)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self.register_id = ""
        self._busy_s = BUSY_TIMEOUT_S

    # --- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Register:
        path = Path(path) if path is not None else default_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # private to the user: it names documents
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise errors.RegisterWriteFailed(detail=f"{path}: {exc.strerror or exc}") from None
        try:
            conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise errors.RegisterCorrupt(path=str(path), detail=str(exc)) from None
        reg = cls(path, conn)
        reg._busy_s = busy_timeout_s
        try:
            reg._setup(busy_timeout_s)
        except BaseException:
            conn.close()
            raise
        return reg

    def _setup(self, busy_timeout_s: float) -> None:
        c = self._conn
        try:
            c.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            # Look before writing anything: another program's database is left exactly as it is.
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "meta" not in tables:
                raise errors.RegisterCorrupt(path=str(self.path), detail="a database, but not a register")
            mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise errors.RegisterCorrupt(path=str(self.path), detail=f"journal mode {mode}")
            c.execute("PRAGMA synchronous = FULL")
            if "meta" not in tables:
                with self._write():
                    for stmt in _SCHEMA:
                        c.execute(stmt)
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('register_id', ?)", (uuid.uuid4().hex,))
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('created_utc', ?)", (_now_utc(),))
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('head_seq', '0')")
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('head_hash', ?)", (chain.GENESIS,))
            meta = self._meta()
            missing = {"entries", "anchors"} - {r[0] for r in c.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if missing:
                raise errors.RegisterCorrupt(path=str(self.path), detail=f"table {sorted(missing)[0]} missing")
        except sqlite3.OperationalError as exc:
            raise self._op_error(exc) from None
        except sqlite3.DatabaseError as exc:
            raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise errors.RegisterCorrupt(path=str(self.path), detail="no schema version") from None
        if version > SCHEMA_VERSION:
            raise errors.RegisterTooNew(path=str(self.path), version=version, supported=SCHEMA_VERSION)
        self.register_id = meta.get("register_id", "")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------

    def record(self, use: SealUse) -> int:
        """Append one use; returns its entry number once the commit is on disk.

        Raises RegisterInvalidEntry (bad fields), RegisterBusy, RegisterWriteFailed
        or RegisterCorrupt; then nothing was recorded and the caller must not
        hand the signed document on.
        """
        use = use.stamped()
        use.validate()
        body = canonical_json(use.to_dict())
        if len(body.encode("utf-8")) > MAX_BODY:
            raise errors.RegisterInvalidEntry(field="(entry)", problem=f"larger than {MAX_BODY} bytes")
        with self._lock:
            try:
                with self._write():
                    seq, prev = self._append_point()
                    digest = chain.entry_hash(seq, prev, body)
                    self._conn.execute("INSERT INTO entries (seq, prev_hash, hash, body) VALUES (?, ?, ?, ?)",
                                       (seq, prev, digest, body))
                    self._set_head(seq, digest)
            except sqlite3.OperationalError as exc:
                raise self._op_error(exc) from None
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        return seq

    def _append_point(self) -> tuple[int, str]:
        """Next number and the hash it links to.

        When entries at the end were removed behind our back, the head in
        ``meta`` is ahead of the last row: we continue after the head, so the
        gap stays visible to ``verify`` instead of being papered over.
        """
        meta = self._meta()
        row = self._conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        last_seq, last_hash = (int(row[0]), str(row[1])) if row else (0, chain.GENESIS)
        try:
            head_seq = int(meta.get("head_seq", "0"))
        except ValueError:
            head_seq = 0
        if head_seq > last_seq:
            return head_seq + 1, str(meta.get("head_hash", chain.GENESIS))
        return last_seq + 1, last_hash

    def _set_head(self, seq: int, digest: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('head_seq', ?)", (str(seq),))
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('head_hash', ?)", (digest,))

    def anchor(self, sign: Callable[[bytes], bytes], cert_der: bytes) -> int:
        """Sign the head with the key (``sign`` gets the message, returns the signature); returns the anchor's id.

        The signature is checked against ``cert_der`` before it is stored, so a
        wrong key or mechanism is caught now, not at the next audit.
        """
        from zhenglian.register import anchors

        algorithm = anchors.algorithm_of(cert_der)
        with self._lock:
            head = self.head()
            if head.seq == 0:
                raise errors.RegisterError(detail_zh="登记为空，无可签署的链头", detail_en="the register is empty; no head to sign")
            message = chain.anchor_message(self.register_id, head.seq, head.hash)
            signature = anchors.normalise(algorithm, cert_der, sign(message))
            if anchors.check(algorithm, cert_der, message, signature) is False:
                raise errors.RegisterError(detail_zh="链头签名与证书不符，未保存",
                                           detail_en="the head's signature does not match the certificate; not stored")
            try:
                with self._write():
                    cur = self._conn.execute(
                        "INSERT INTO anchors (seq, head_hash, time_utc, algorithm, cert_der, signature)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (head.seq, head.hash, _now_utc(), algorithm, cert_der, signature))
                    anchor_id = int(cur.lastrowid or 0)
            except sqlite3.OperationalError as exc:
                raise self._op_error(exc) from None
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        return anchor_id

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Register]:
        """Reads inside see one state of the register (e.g. a list and its head), even while others append."""
        with self._lock:
            try:
                self._conn.execute("BEGIN")
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
            try:
                yield self
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield
            c.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            raise

    def _op_error(self, exc: sqlite3.OperationalError) -> errors.RegisterError:
        text = str(exc)
        code = getattr(exc, "sqlite_errorcode", None)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text or "busy" in text:
            return errors.RegisterBusy(seconds=f"{self._busy_s:g}")
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
            return errors.RegisterCorrupt(path=str(self.path), detail=text)
        return errors.RegisterWriteFailed(detail=text)

    # --- reading ---------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def head(self) -> Head:
        """The last entry's number and hash, as the register itself records them."""
        with self._lock:
            try:
                meta = self._meta()
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        try:
            return Head(int(meta.get("head_seq", "0")), meta.get("head_hash", chain.GENESIS))
        except ValueError:
            raise errors.RegisterCorrupt(path=str(self.path), detail="head is not a number") from None

    def entry(self, seq: int) -> Entry | None:
        with self._lock:
            try:
                row = self._conn.execute("SELECT seq, hash, body FROM entries WHERE seq = ?", (seq,)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        return _entry(row) if row else None

    def list(self, filters: Filters | None = None) -> list[Entry]:
        """Entries in order, filtered; damaged entries appear only when no filter is given."""
        f = filters or Filters()
        where: list[str] = []
        args: list[Any] = []
        if f.outcome is not None and f.outcome not in OUTCOMES:
            raise errors.RegisterInvalidEntry(field="outcome", problem=f"not one of {', '.join(OUTCOMES)}")

        def field(name: str) -> str:
            return f"(CASE WHEN json_valid(body) THEN json_extract(body, '$.{name}') END)"

        if f.since is not None:
            where.append(f"substr({field('time_local')}, 1, 10) >= ?")
            args.append(f.since.isoformat())
        if f.until is not None:
            where.append(f"substr({field('time_local')}, 1, 10) <= ?")
            args.append(f.until.isoformat())
        if f.key_serial:
            where.append(f"{field('key_serial')} = ?")
            args.append(f.key_serial)
        if f.seal:
            where.append(f"({field('seal_name')} = ? OR {field('seal_id')} = ?)")
            args += [f.seal, f.seal]
        if f.outcome:
            where.append(f"{field('outcome')} = ?")
            args.append(f.outcome)
        sql = "SELECT seq, hash, body FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if f.limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(f.limit)))
        with self._lock:
            try:
                rows = self._conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        return [_entry(r) for r in rows]

    def distinct(self, name: str) -> list[str]:
        """Values of one field over all entries (for the app's filter lists)."""
        if name not in ("key_serial", "seal_name", "outcome"):
            raise ValueError(name)
        sql = (f"SELECT DISTINCT json_extract(body, '$.{name}') FROM entries WHERE json_valid(body)"
               f" AND json_extract(body, '$.{name}') != '' ORDER BY 1")
        with self._lock:
            try:
                return [str(r[0]) for r in self._conn.execute(sql) if r[0] is not None]
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None

    def verify(self) -> Any:
        """Check the whole chain and the anchors; returns a :class:`~zhenglian.register.verify.VerifyReport`."""
        from zhenglian.register.verify import verify

        # Its own connection and one read transaction: a consistent snapshot while other
        # processes append (WAL readers never block writers), and this object's writer
        # is not held up for the length of the check.
        try:
            conn = sqlite3.connect(str(self.path), timeout=self._busy_s, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
        try:
            try:
                conn.execute("BEGIN")
            except sqlite3.OperationalError as exc:
                raise self._op_error(exc) from None
            except sqlite3.DatabaseError as exc:
                raise errors.RegisterCorrupt(path=str(self.path), detail=str(exc)) from None
            return verify(conn, self.path)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()


def _entry(row: tuple[Any, ...]) -> Entry:
    import json

    seq, digest, body = int(row[0]), str(row[1]), row[2]
    try:
        use: SealUse | None = SealUse.from_dict(json.loads(body))
    except (ValueError, TypeError, errors.RegisterInvalidEntry):
        use = None
    return Entry(seq, digest, use)


def _now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
