"""The seal-use register: chain, verification, and every fault of issue 18's list."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import signal
import sqlite3
import subprocess
import threading
from datetime import date
from pathlib import Path

import pytest
from helpers.register import make_use, start_writer

from zhenglian import errors
from zhenglian.register import Filters, Register, SealUse, anchors


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    return conn


# --- recording and reading ---------------------------------------------------------

def test_record_returns_contiguous_numbers_and_head_follows(register_path: Path) -> None:
    with Register.open(register_path) as reg:
        assert reg.head().seq == 0
        seqs = [reg.record(make_use(i)) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        head = reg.head()
        assert head.seq == 5 and head.hash == reg.entry(5).hash
        assert reg.entry(3).use == make_use(2).stamped()  # stored and read back field for field
        report = reg.verify()
        assert report.ok and report.entries == 5 and report.first_bad is None


def test_record_fills_times_user_and_version() -> None:
    use = SealUse(outcome="cancelled", origin="web", document_name="a.pdf", error_code="cancelled").stamped()
    assert use.time_utc.endswith("Z") and use.time_local and use.os_user and use.client_version
    use.validate()


def test_list_filters_by_date_key_seal_and_outcome(filled_register: Path) -> None:
    with Register.open(filled_register) as reg:
        everything = reg.list()
        assert [e.seq for e in everything] == list(range(1, 31))
        signed = reg.list(Filters(outcome="signed"))
        assert signed and all(e.use.outcome == "signed" for e in signed)
        assert len(signed) == sum(1 for e in everything if e.use.outcome == "signed")
        by_key = reg.list(Filters(key_serial="GDCA-0002"))
        assert by_key and all(e.use.key_serial == "GDCA-0002" for e in by_key)
        by_seal = reg.list(Filters(seal="seal-1"))
        assert by_seal and all(e.use.seal_id == "seal-1" for e in by_seal)
        assert [e.seq for e in reg.list(Filters(seal="东莞示例有限公司合同专用章"))] == [e.seq for e in by_seal]
        day = date.fromisoformat(everything[4].use.time_local[:10])
        on_day = reg.list(Filters(since=day, until=day))
        assert on_day and all(e.use.time_local.startswith(day.isoformat()) for e in on_day)
        assert len(reg.list(Filters(limit=7))) == 7
        assert reg.distinct("key_serial") == ["GDCA-0002", "SZCA-0001"]
        with pytest.raises(errors.RegisterInvalidEntry):
            reg.list(Filters(outcome="stolen"))


@pytest.mark.parametrize("change", [
    {"outcome": "approved"},
    {"origin": "email"},
    {"document_name": "x" * 5000},
    {"document_name": "a\nb.pdf"},
    {"input_sha256": "ABC"},
    {"output_sha256": ""},  # signed without the output's hash
    {"document_size": -1},
])
def test_bad_fields_are_refused_with_the_field_named(register_path: Path, change: dict) -> None:
    use = dataclasses.replace(make_use(0), **change)
    with Register.open(register_path) as reg:
        with pytest.raises(errors.RegisterInvalidEntry) as info:
            reg.record(use)
        assert next(iter(change)) in info.value.message_en() or "(entry)" in info.value.message_en()
        assert reg.head().seq == 0


def test_no_field_can_hold_a_pin_or_document_contents() -> None:
    names = {f.name for f in dataclasses.fields(SealUse)}
    assert not any("pin" in n or "content" in n or "data" in n for n in names)
    raw = make_use(0).stamped().to_dict()
    raw["pin"] = "123456"
    with pytest.raises(errors.RegisterInvalidEntry):
        SealUse.from_dict(raw)


# --- tamper evidence -------------------------------------------------------------

def test_editing_any_character_of_an_entry_names_that_entry(register_path: Path) -> None:
    with Register.open(register_path) as reg:
        for i in range(5):
            reg.record(make_use(i))
        conn = _db(register_path)
        body, prev, digest = conn.execute("SELECT body, prev_hash, hash FROM entries WHERE seq = 3").fetchone()
        for column, original in (("body", body), ("prev_hash", prev), ("hash", digest)):
            for pos in range(len(original)):
                other = "0" if original[pos] != "0" else "1"
                edited = original[:pos] + other + original[pos + 1:]
                conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = 3", (edited,))
                report = reg.verify()
                assert report.first_bad == 3, (column, pos)
            conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = 3", (original,))
        assert reg.verify().ok
        conn.close()


@pytest.mark.parametrize("seq", [1, 15, 30])
def test_an_edited_entry_anywhere_is_reported_with_its_number(filled_register: Path, seq: int) -> None:
    conn = _db(filled_register)
    conn.execute("UPDATE entries SET body = replace(body, '缴存', '提取') WHERE seq = ?", (seq,))
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert not report.ok and report.first_bad == seq
        assert report.first_problem().kind == "altered"
        with pytest.raises(errors.RegisterChainBroken) as info:
            report.raise_if_broken()
        assert f"第 {seq} 条" in info.value.message_zh() and f"entry {seq} " in info.value.message_en()


def test_a_rehashed_edit_still_breaks_the_next_link(filled_register: Path) -> None:
    """An editor who also recomputes the edited entry's hash is caught at the next entry's link."""
    from zhenglian.register import chain

    conn = _db(filled_register)
    body, prev = conn.execute("SELECT body, prev_hash FROM entries WHERE seq = 10").fetchone()
    body = body.replace("缴存", "提取")
    conn.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = 10", (body, chain.entry_hash(10, prev, body)))
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert report.first_bad == 11 and report.first_problem().kind == "link"


def test_a_deleted_middle_entry_is_reported_missing(filled_register: Path) -> None:
    conn = _db(filled_register)
    conn.execute("DELETE FROM entries WHERE seq = 12")
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert report.first_bad == 12 and report.first_problem().kind == "missing"
        # recording goes on (a signature is never lost from the register), the gap stays visible
        assert reg.record(make_use(99)) == 31
        assert reg.verify().first_bad == 12


def test_deleted_last_entries_are_reported_against_the_head(filled_register: Path) -> None:
    conn = _db(filled_register)
    conn.execute("DELETE FROM entries WHERE seq >= 28")
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert report.first_bad == 28 and report.first_problem().kind == "missing"
        assert reg.record(make_use(99)) == 31  # continues after the recorded head: the gap stays


def test_a_non_canonical_body_is_invalid(filled_register: Path) -> None:
    """Even with its hash recomputed, a body that is not canonical JSON is flagged."""
    from zhenglian.register import chain

    conn = _db(filled_register)
    seq = 30
    prev = conn.execute("SELECT prev_hash FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
    body = '{"not": "an entry"}'
    digest = chain.entry_hash(seq, prev, body)
    conn.execute("UPDATE entries SET body = ?, hash = ? WHERE seq = ?", (body, digest, seq))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (digest,))
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert report.first_bad == seq and report.first_problem().kind == "invalid"
        assert reg.list()[-1].use is None  # listed as damaged, never a crash


# --- damaged files ------------------------------------------------------------------

def test_a_file_that_is_not_a_database_is_reported(register_path: Path) -> None:
    register_path.write_bytes(b"this is not SQLite\n" * 100)
    with pytest.raises(errors.RegisterCorrupt):
        Register.open(register_path)
    assert register_path.read_bytes() == b"this is not SQLite\n" * 100  # never overwritten


def test_another_sqlite_database_is_not_taken_for_a_register(register_path: Path) -> None:
    conn = _db(register_path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    before = register_path.read_bytes()
    with pytest.raises(errors.RegisterCorrupt):
        Register.open(register_path)
    assert register_path.read_bytes() == before  # not even switched to WAL


def test_a_register_from_a_newer_version_is_refused(register_path: Path) -> None:
    Register.open(register_path).close()
    conn = _db(register_path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(errors.RegisterTooNew):
        Register.open(register_path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_truncated_database_is_reported_not_crashed(register_path: Path, keep: float) -> None:
    with Register.open(register_path) as reg:
        for i in range(300):
            reg.record(make_use(i))
    conn = _db(register_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = register_path.stat().st_size
    with open(register_path, "r+b") as fh:
        fh.truncate(int(size * keep) // 4096 * 4096 + 100)
    try:
        reg = Register.open(register_path)
    except errors.RegisterError:
        return  # reported on opening
    with reg:
        report = reg.verify()
        assert not report.ok
        assert report.first_bad is not None or not report.database_ok
        for call in (reg.list, reg.head):
            with contextlib.suppress(errors.RegisterError):
                call()


# --- full disk -------------------------------------------------------------------------

def test_a_full_database_raises_a_typed_error_and_keeps_the_chain(register_path: Path) -> None:
    with Register.open(register_path) as reg:
        for i in range(3):
            reg.record(make_use(i))
        pages = reg._conn.execute("PRAGMA page_count").fetchone()[0]
        reg._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk full" (SQLITE_FULL)
        with pytest.raises(errors.RegisterWriteFailed):
            for i in range(3, 200):
                reg.record(make_use(i))
        written = reg.head().seq
        reg._conn.execute("PRAGMA max_page_count = 1000000")
        report = reg.verify()
        assert report.ok and report.entries == written
        assert reg.record(make_use(500)) == written + 1


def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_really_full_disk_raises_a_typed_error_and_loses_no_entry(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    if not _tmpfs(mnt, "256k"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        committed: list[int] = []
        with Register.open(mnt / "register.sqlite3") as reg:
            with pytest.raises(errors.RegisterWriteFailed):
                for i in range(100_000):
                    committed.append(reg.record(make_use(i)))
            assert committed and reg.head().seq == committed[-1]
            report = reg.verify()
            assert report.ok and report.entries == len(committed)
            assert "磁盘" in errors.RegisterWriteFailed(detail="x").user_message()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# --- two processes -------------------------------------------------------------------------

def test_two_processes_writing_at_once_never_fork_the_chain(register_path: Path) -> None:
    Register.open(register_path).close()
    writers = [start_writer(register_path, 150, tag) for tag in ("tray", "cli")]
    for w in writers:  # both are ready; let them go together
        w.stdin.write("go\n")
        w.stdin.flush()
    outputs = [w.communicate()[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    seqs = [[int(line.split()[0]) for line in out.splitlines() if line[0].isdigit()] for out in outputs]
    assert all(s == sorted(s) and len(s) == 150 for s in seqs)
    assert sorted(seqs[0] + seqs[1]) == list(range(1, 301))
    with Register.open(register_path) as reg:
        report = reg.verify()
        assert report.ok and report.entries == 300 and report.head_seq == 300


def test_a_writer_held_too_long_gives_busy(register_path: Path) -> None:
    Register.open(register_path).close()
    holder = _db(register_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Register.open(register_path, busy_timeout_s=0.05) as reg, pytest.raises(errors.RegisterBusy):
            reg.record(make_use(0))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Register.open(register_path) as reg:
        assert reg.record(make_use(0)) == 1


def test_kill_9_mid_batch_keeps_every_committed_entry(register_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "signed"
    out.mkdir()
    Register.open(register_path).close()
    writer = start_writer(register_path, 1_000_000, "batch", out_dir=out)
    writer.stdin.write("go\n")
    writer.stdin.flush()
    reported: list[tuple[int, str]] = []
    while len(reported) < 40:  # the batch is under way: 40 documents recorded
        line = writer.stdout.readline()
        seq, digest, _ = line.split()
        reported.append((int(seq), digest))
    os.kill(writer.pid, signal.SIGKILL)
    rest = writer.stdout.read()
    writer.wait()
    reported += [(int(a), b) for a, b, _ in (line.split() for line in rest.splitlines() if line[:1].isdigit())]

    with Register.open(register_path) as reg:
        report = reg.verify()
        assert report.ok, report.to_dict()
        entries = {e.seq: e for e in reg.list()}
    # every entry the writer saw committed is there, with its document's hash
    for seq, digest in reported:
        assert entries[seq].use.output_sha256 == digest
    # no entry claims a document that was not written: its bytes are on disk (handed on, or
    # still in the temporary file when the kill came between the record and the rename)
    for e in entries.values():
        final = Path(e.use.output_path)
        candidates = [final, final.with_name(f".{final.name}.tmp")]
        assert any(p.exists() and hashlib.sha256(p.read_bytes()).hexdigest() == e.use.output_sha256
                   for p in candidates), e.seq
    # every document handed on has its entry
    claimed = {Path(e.use.output_path).name for e in entries.values()}
    assert {p.name for p in out.glob("*.pdf")} <= claimed


# --- anchors ---------------------------------------------------------------------------------

def _cert(key) -> bytes:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "东莞示例有限公司")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_rsa_anchor_verifies_and_a_forged_one_is_reported(filled_register: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with Register.open(filled_register) as reg:
        reg.anchor(lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA256()), _cert(key))
        report = reg.verify()
        assert report.ok and [a.result for a in report.anchors] == ["good"]
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(errors.RegisterError):  # wrong key: caught before it is stored
            reg.anchor(lambda m: other.sign(m, padding.PKCS1v15(), hashes.SHA256()), _cert(key))
        reg._conn.execute("UPDATE anchors SET signature = ?", (b"\x00" * 256,))
        report = reg.verify()
        assert report.first_bad == 30 and report.first_problem().kind == "anchor_signature"


def test_ec_anchor_from_raw_r_s_exposes_a_rewritten_tail(filled_register: Path) -> None:
    """Entries removed at the end *and* the head rewritten: only the key's anchor can tell."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = ec.generate_private_key(ec.SECP256R1())

    def pkcs11_style(message: bytes) -> bytes:  # CKM_ECDSA gives r || s
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    with Register.open(filled_register) as reg:
        reg.anchor(pkcs11_style, _cert(key))
        assert [a.result for a in reg.verify().anchors] == ["good"]
        h29 = reg.entry(29).hash
        reg._conn.execute("DELETE FROM entries WHERE seq = 30")
        reg._conn.execute("UPDATE meta SET value = '29' WHERE key = 'head_seq'")
        reg._conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (h29,))
        report = reg.verify()
        assert report.first_bad == 30 and report.first_problem().kind == "anchor_mismatch"


def test_an_sm2_anchor_is_checked_with_the_sm2_layer(filled_register: Path) -> None:
    """An SM2 seal key's anchor (SM2-with-SM3, default ID) is good; another key's is refused."""
    from zhenglian.reference import democa

    ca = democa.create_sm2("szca")
    pair = ca.issue_sm2_pair(democa._name("东莞市国密登记测试有限公司", "东莞市国密登记测试有限公司", "东莞", "广东"),
                             encryption=False)
    other = ca.issue_sm2_pair(democa._name("东莞市另一家有限公司", "东莞市另一家有限公司", "东莞", "广东"),
                              encryption=False)
    cert_der = pair.sign_cert.dump()
    assert anchors.algorithm_of(cert_der) == anchors.SM2
    with Register.open(filled_register) as reg:
        reg.anchor(pair.sign_key.sign, cert_der)
        assert [a.result for a in reg.verify().anchors] == ["good"]
        with pytest.raises(errors.RegisterError):
            reg.anchor(other.sign_key.sign, cert_der)  # not this certificate's key: not stored
        assert [a.result for a in reg.verify().anchors] == ["good"]
        reg._conn.execute("UPDATE anchors SET signature = ?", (other.sign_key.sign(b"x"),))
        report = reg.verify()
        assert [a.result for a in report.anchors] == ["bad"] and report.first_problem().kind == "anchor_signature"


def test_a_hand_edited_head_is_reported(filled_register: Path) -> None:
    conn = _db(filled_register)
    conn.execute("UPDATE meta SET value = '20' WHERE key = 'head_seq'")
    conn.close()
    with Register.open(filled_register) as reg:
        report = reg.verify()
        assert report.first_bad == 21 and report.first_problem().kind == "head"
    conn = _db(filled_register)
    conn.execute("UPDATE meta SET value = '30' WHERE key = 'head_seq'")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", ("f" * 64,))
    conn.close()
    with Register.open(filled_register) as reg:
        assert reg.verify().first_bad == 30


@pytest.mark.parametrize("sql", ["DROP TABLE entries", "DROP TABLE meta", "DELETE FROM meta"])
def test_missing_tables_or_meta_are_reported(filled_register: Path, sql: str) -> None:
    conn = _db(filled_register)
    conn.execute(sql)
    conn.close()
    with pytest.raises(errors.RegisterCorrupt):
        Register.open(filled_register)


def test_verify_while_another_process_appends_sees_a_consistent_chain(register_path: Path) -> None:
    Register.open(register_path).close()
    writer = start_writer(register_path, 400, "busy")
    writer.stdin.write("go\n")
    writer.stdin.flush()
    checks = 0
    first = writer.stdout.readline()  # the writer is under way
    assert first[:1].isdigit()
    drain = threading.Thread(target=writer.stdout.read, daemon=True)  # never let its pipe fill
    drain.start()
    with Register.open(register_path) as reg:
        while writer.poll() is None or checks == 0:
            report = reg.verify()
            assert report.ok, report.to_dict()
            assert report.head_seq == report.entries  # one snapshot: head and rows agree
            checks += 1
        drain.join()
        assert writer.wait() == 0
        final = reg.verify()
        assert final.ok and final.entries == 400
    print(f"{checks} checks during the writes")


def test_snapshot_reads_one_state(filled_register: Path) -> None:
    with Register.open(filled_register) as reader, Register.open(filled_register) as writer:
        with reader.snapshot():
            before = len(reader.list())
            writer.record(make_use(100))  # another connection appends meanwhile
            assert len(reader.list()) == before and reader.head().seq == before
        assert len(reader.list()) == before + 1
