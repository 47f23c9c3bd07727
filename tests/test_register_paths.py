"""Every signing path writes the seal-use register: one entry per document, before it is handed on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.register import Register
from zhenglian.register.store import default_path

SZCA = DEMO_KEYS[1]


class SzcaPin:
    """A PinPrompter that types the SZCA demo key's PIN once (the local signing path's prompts, scripted)."""

    def locked(self, st, e) -> None: ...  # type: ignore[no-untyped-def]

    def confirm_final_try(self, st) -> bool:  # type: ignore[no-untyped-def]
        return False

    def ask_pin(self, st):  # type: ignore[no-untyped-def]
        from zhenglian.tokens.secret import PinBuffer

        return PinBuffer(SZCA.user_pin)

    def keep_pin(self) -> bool:
        return False

    def show_error(self, e) -> None: ...  # type: ignore[no-untyped-def]


def entries_after(seq: int) -> list:  # type: ignore[type-arg]
    return [e for e in Register.open().list() if e.seq > seq]


def head_seq() -> int:
    return Register.open().head().seq if default_path().exists() else 0


def test_local_files_one_entry_each_naming_the_written_file(demo_keys, run_cli, tmp_path: Path) -> None:  # noqa: ARG001
    a, b = ph.make_contract(tmp_path / "甲.pdf"), ph.make_contract(tmp_path / "乙.pdf", 3)
    before = head_seq()
    r = run_cli("sign", str(a), str(b), "--out-dir", str(tmp_path / "out"), "--key", SZCA.label,
                "--page", "1", "--at", "100,200", "--pin-stdin", input=SZCA.user_pin + "\n")
    assert r.returncode == 0, r.stderr
    new = entries_after(before)
    assert [e.use.document_name for e in new] == ["甲.pdf", "乙.pdf"]
    for e, src in zip(new, (a, b), strict=True):
        out = tmp_path / "out" / src.name
        assert e.use.outcome == "signed" and e.use.origin == "local"
        assert e.use.output_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
        assert e.use.input_sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
        assert e.use.cert_uscc == SZCA.uscc and e.use.key_serial
        assert e.use.placements and e.use.placements[0].page == 1
        assert SZCA.user_pin not in str(e.use.to_dict())
    assert new[1].use.page_count == 3
    assert Register.open().verify().ok


def test_a_register_that_cannot_record_stops_the_hand_on(demo_keys, tmp_path: Path,  # noqa: ARG001
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.localsign import LocalSigning, sign_files
    from zhenglian.pdf.seal import SealPicture

    class Full:
        def record(self, use):  # type: ignore[no-untyped-def]
            raise errors.RegisterError(detail_zh="磁盘已满", detail_en="disk full")

    from zhenglian.register.recorder import SealRecorder

    ctx, key = ph.find_key(SZCA.label)
    h = ctx.tokens.handle(key)
    src = ph.make_contract(tmp_path / "in.pdf")
    out = tmp_path / "out.pdf"

    job = LocalSigning([(src, out)], [pl.AtPosition(1, 100, 200)],
                       SealPicture(ph.simple_seal_png(), 42, 42, "测试专用章"))
    with pytest.raises(errors.RegisterError):
        sign_files(h, SzcaPin(), job, recorder=SealRecorder(h, "local", register=Full()))  # type: ignore[arg-type]
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_task_batch_one_entry_per_task_before_the_outbox(reference_server, demo_keys, tmp_path: Path) -> None:  # noqa: F811, ARG001
    from zhenglian.server.api import ServerClient
    from zhenglian.server.session import ServerSession
    from zhenglian.server.tokenstore import TokenStore
    from zhenglian.tasks import batch
    from zhenglian.tasks.outbox import Outbox
    from zhenglian.tokens.secret import PinBuffer

    ids = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 3)
    ctx, key = ph.find_key(SZCA.label)
    session = ServerSession(ServerClient(reference_server.url, timeout=10), key, TokenStore(use_keyring=False))
    before = head_seq()
    outbox = Outbox(tmp_path / "outbox")
    result = batch.sign_tasks(session, ctx.tokens.handle(key), PinBuffer(SZCA.user_pin), ids, outbox)
    assert result.ok, result.summary_en()
    new = entries_after(before)
    assert sorted(e.use.task_id for e in new) == sorted(ids)
    by_task = {o.task_id: o.sha256 for o in result.outcomes}
    for e in new:
        assert e.use.origin == "task" and e.use.outcome == "signed" and e.use.server == reference_server.url
        assert e.use.output_sha256 == by_task[e.use.task_id]


def test_anchor_setting_signs_the_head_with_the_key_after_a_batch(demo_keys, run_cli, tmp_path: Path) -> None:  # noqa: ARG001
    from zhenglian.config import Settings

    settings = Settings.load()
    settings.register_anchor = True
    settings.save()
    try:
        src = ph.make_contract(tmp_path / "丙.pdf")
        r = run_cli("sign", str(src), "-o", str(tmp_path / "out.pdf"), "--key", SZCA.label,
                    "--page", "1", "--at", "100,200", "--pin-stdin", input=SZCA.user_pin + "\n")
        assert r.returncode == 0, r.stderr
    finally:
        settings.register_anchor = False
        settings.save()
    report = Register.open().verify()
    head = Register.open().head()
    assert report.ok and report.anchors
    last = report.anchors[-1]
    assert last.seq == head.seq and last.result == "good"  # checked against the SZCA certificate


def test_documents_finished_as_the_batch_stops_are_reported(demo_keys, tmp_path: Path) -> None:  # noqa: ARG001
    """Ctrl-C while documents are past the key: they are finished and written, and each is reported."""
    import time

    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.localsign import LocalSigning, sign_files
    from zhenglian.pdf.seal import SealPicture
    ctx, key = ph.find_key(SZCA.label)
    h = ctx.tokens.handle(key)
    pairs = [(ph.make_contract(tmp_path / f"d{i}.pdf"), tmp_path / "out" / f"d{i}.pdf") for i in range(8)]

    reported: list[Path] = []

    def on_signed(result) -> None:  # type: ignore[no-untyped-def]
        reported.append(Path(result.output))
        if len(reported) == 1:  # the operator presses Ctrl-C once the second document is written too
            deadline = time.monotonic() + 60
            while not pairs[1][1].exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            raise KeyboardInterrupt

    job = LocalSigning(pairs, [pl.AtPosition(1, 100, 200)], SealPicture(ph.simple_seal_png(), 42, 42, "测试专用章"))
    with pytest.raises(KeyboardInterrupt):
        sign_files(h, SzcaPin(), job, on_signed=on_signed)  # type: ignore[arg-type]
    written = sorted(p for p in (tmp_path / "out").iterdir() if p.suffix == ".pdf")
    assert pairs[1][1] in written and len(written) < len(pairs)
    assert sorted(reported) == written  # each written document reported once, no other
    assert not list((tmp_path / "out").glob("*.part"))
