"""Checking the register: every entry, its link, the numbering, the head and the anchors.

Never raises for a damaged register: every finding becomes a :class:`Problem`
with the entry number it concerns, and :attr:`VerifyReport.first_bad` is the
lowest of them — the entry ``zhenglian register verify`` and the app point at.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhenglian import errors
from zhenglian.register import anchors, chain
from zhenglian.register.model import SealUse, canonical_json

# kind -> (Chinese, English), completing "entry N …"
PROBLEMS: dict[str, tuple[str, str]] = {
    "missing": ("缺失（已被删除）", "is missing (deleted)"),
    "altered": ("内容与其哈希不符（已被改动）", "does not match its hash (altered)"),
    "link": ("与前一条的链接断开", "does not link to the entry before it"),
    "invalid": ("内容不是有效的登记条目", "is not a valid register entry"),
    "head": ("与登记记录的链头不符（末尾条目被删除或改动）", "does not match the register's recorded head (entries at the end removed or altered)"),
    "damaged": ("所在的数据库文件已损坏", "lies in a damaged database file"),
    "anchor_mismatch": ("与 UKey 签署的链头不符（链被改写或截断）", "does not match the head signed with the key (chain rewritten or truncated)"),
    "anchor_signature": ("的 UKey 签名无效", "has an invalid key signature over it"),
}


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str

    def text_zh(self) -> str:
        return f"第 {self.seq} 条{PROBLEMS[self.kind][0]}"

    def text_en(self) -> str:
        return f"entry {self.seq} {PROBLEMS[self.kind][1]}"

    def error(self) -> errors.RegisterChainBroken:
        zh, en = PROBLEMS[self.kind]
        return errors.RegisterChainBroken(seq=self.seq, problem_zh=zh, problem_en=en)


@dataclass(frozen=True)
class AnchorCheck:
    id: int
    seq: int
    time_utc: str
    algorithm: str
    result: str  # good | bad | mismatch


@dataclass
class VerifyReport:
    path: str
    entries: int = 0  # rows read
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    problems: list[Problem] = field(default_factory=list)
    anchors: list[AnchorCheck] = field(default_factory=list)
    database_ok: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems and self.database_ok

    @property
    def first_bad(self) -> int | None:
        return min((p.seq for p in self.problems), default=None)

    def first_problem(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.seq, default=None)

    def raise_if_broken(self) -> None:
        first = self.first_problem()
        if first is not None:
            raise first.error()
        if not self.database_ok:
            raise errors.RegisterCorrupt(path=self.path, detail="integrity check failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "first_bad": self.first_bad,
            "database_ok": self.database_ok,
            "problems": [{**asdict(p), "message_zh": p.text_zh(), "message_en": p.text_en()} for p in self.problems],
            "anchors": [asdict(a) for a in self.anchors],
        }


def verify(conn: sqlite3.Connection, path: Path) -> VerifyReport:
    report = VerifyReport(path=str(path))
    try:
        report.database_ok = all(str(r[0]) == "ok" for r in conn.execute("PRAGMA quick_check"))
    except sqlite3.DatabaseError:
        report.database_ok = False
    hashes = _check_entries(conn, report)
    meta = _meta(conn)
    _check_head(meta, hashes, report)
    _check_anchors(conn, meta.get("register_id", ""), hashes, report)
    return report


def _check_entries(conn: sqlite3.Connection, report: VerifyReport) -> dict[int, str]:
    """Walk the entries in order; returns seq -> hash of the entries present (for head and anchors)."""
    hashes: dict[int, str] = {}
    expected, prev = 1, chain.GENESIS
    try:
        rows = conn.execute("SELECT seq, prev_hash, hash, body FROM entries ORDER BY seq")
        for seq, prev_hash, digest, body in rows:
            report.entries += 1
            if not isinstance(seq, int) or seq < expected:
                report.problems.append(Problem(expected, "invalid"))
                continue
            gap = seq > expected
            if gap:
                report.problems.append(Problem(expected, "missing"))
            if not (isinstance(body, str) and isinstance(prev_hash, str) and isinstance(digest, str)):
                report.problems.append(Problem(seq, "invalid"))
                hashes[seq] = str(digest)
                expected, prev = seq + 1, str(digest)
                continue
            if chain.entry_hash(seq, prev_hash, body) != digest:
                report.problems.append(Problem(seq, "altered"))
            elif not gap and prev_hash != prev:
                report.problems.append(Problem(seq, "link"))
            elif not _valid_body(body):
                report.problems.append(Problem(seq, "invalid"))
            hashes[seq] = digest
            expected, prev = seq + 1, digest
    except sqlite3.DatabaseError:
        report.database_ok = False
        report.problems.append(Problem(expected, "damaged"))
    return hashes


def _valid_body(body: str) -> bool:
    from zhenglian.register.store import MAX_BODY

    if len(body) > MAX_BODY:
        return False
    try:
        raw = json.loads(body)
        SealUse.from_dict(raw)
        return canonical_json(raw) == body
    except (ValueError, TypeError, errors.RegisterInvalidEntry):
        return False


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    except sqlite3.DatabaseError:
        return {}


def _check_head(meta: dict[str, str], hashes: dict[int, str], report: VerifyReport) -> None:
    last = max(hashes, default=0)
    try:
        head_seq = int(meta.get("head_seq", ""))
    except ValueError:
        report.problems.append(Problem(last + 1 if last else 1, "head"))
        head_seq = last
    head_hash = meta.get("head_hash", chain.GENESIS)
    report.head_seq, report.head_hash = head_seq, head_hash
    if head_seq > last:
        report.problems.append(Problem(last + 1, "missing"))
    elif head_seq < last:
        report.problems.append(Problem(head_seq + 1, "head"))  # entries beyond the recorded head
    elif last and hashes.get(last) != head_hash:
        report.problems.append(Problem(last, "head"))


def _check_anchors(conn: sqlite3.Connection, register_id: str, hashes: dict[int, str], report: VerifyReport) -> None:
    try:
        rows = conn.execute("SELECT id, seq, head_hash, time_utc, algorithm, cert_der, signature FROM anchors"
                            " ORDER BY id").fetchall()
    except sqlite3.DatabaseError:
        report.database_ok = False
        return
    for anchor_id, seq, head_hash, time_utc, algorithm, cert_der, signature in rows:
        try:
            seq = int(seq)
        except (TypeError, ValueError):
            continue
        if hashes.get(seq) != head_hash:
            result = "mismatch"
            report.problems.append(Problem(seq, "anchor_mismatch"))
        else:
            message = chain.anchor_message(register_id, seq, str(head_hash))
            good = anchors.check(str(algorithm), bytes(cert_der or b""), message, bytes(signature or b""))
            result = "good" if good else "bad"
            if not good:
                report.problems.append(Problem(seq, "anchor_signature"))
        report.anchors.append(AnchorCheck(int(anchor_id), seq, str(time_utc), str(algorithm), result))
