"""Issue 15.6: no partial file survives a failure, and a full disk prints no logging tracebacks."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zhenglian import logsetup
from zhenglian.pdf import outfile
from zhenglian.tasks.outbox import ORPHAN_AGE_S, Outbox


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullDiskFile:
    """A real temp file whose writes, flushes and close fail as on a full disk (close too)."""

    def __init__(self, real):  # type: ignore[no-untyped-def]
        self._real = real
        self.closed = False

    def write(self, data: bytes) -> int:
        raise _enospc()

    def flush(self) -> None:
        raise _enospc()

    def fileno(self) -> int:
        return self._real.fileno()

    def close(self) -> None:
        # A buffered file closes its descriptor and then re-raises the failed flush.
        if not self.closed:
            self.closed = True
            self._real.close()
            raise _enospc()


def _parts(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".part"))


def test_enospc_on_write_and_again_on_close_leaves_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(outfile.os, "fdopen", lambda fd, mode: _FullDiskFile(real_fdopen(fd, mode)))
    target = tmp_path / "a.signed.pdf"
    with pytest.raises(OSError) as info, outfile.atomic_output(target) as fh:
        fh.write(b"%PDF-1.7 ...")
    assert info.value.errno == errno.ENOSPC
    assert _parts(tmp_path) == [], "the .part file must go even when close() fails again"
    assert not target.exists()


def test_enospc_on_fsync_at_commit_leaves_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise _enospc()

    monkeypatch.setattr(outfile.os, "fsync", fsync)
    target = tmp_path / "b.pdf"
    target.write_bytes(b"old")
    with pytest.raises(OSError), outfile.atomic_output(target) as fh:
        fh.write(b"new")
    assert _parts(tmp_path) == []
    assert target.read_bytes() == b"old", "the previous file is kept as it was"


def test_stale_parts_of_the_same_target_are_swept_young_ones_kept(tmp_path: Path) -> None:
    old = tmp_path / ".a.pdf.x1y2.part"
    young = tmp_path / ".a.pdf.z3w4.part"
    other = tmp_path / ".b.pdf.q1.part"
    for p in (old, young, other):
        p.write_bytes(b"partial")
    aged = time.time() - outfile.STALE_PART_AGE_S - 60
    os.utime(old, (aged, aged))
    os.utime(other, (aged, aged))
    with outfile.atomic_output(tmp_path / "a.pdf") as fh:
        fh.write(b"done")
    assert (tmp_path / "a.pdf").read_bytes() == b"done"
    assert not old.exists(), "an interrupted write of this target is swept"
    assert young.exists(), "a younger one may be another process's write in progress"
    assert other.exists(), "another target's files are not ours to judge"


def test_glob_characters_in_the_name_do_not_widen_the_sweep(tmp_path: Path) -> None:
    victim = tmp_path / ".x.pdf.1.part"
    victim.write_bytes(b"")
    aged = time.time() - outfile.STALE_PART_AGE_S - 60
    os.utime(victim, (aged, aged))
    with outfile.atomic_output(tmp_path / "*.pdf") as fh:
        fh.write(b"ok")
    assert victim.exists()


def test_outbox_sweeps_interrupted_signing_temp_files_at_start(tmp_path: Path) -> None:
    root = tmp_path / "outbox"
    tmp = root / "tmp"
    tmp.mkdir(parents=True)
    stale = [tmp / ".task-abc.pdf", tmp / ".task-abc.pdf.k1.part"]
    fresh = tmp / ".task-def.pdf.k2.part"
    for p in [*stale, fresh]:
        p.write_bytes(b"x" * 10)
    aged = time.time() - ORPHAN_AGE_S - 60
    for p in stale:
        os.utime(p, (aged, aged))
    Outbox(root)
    assert [p for p in stale if p.exists()] == []
    assert fresh.exists()


# --- logging on a full disk --------------------------------------------------------


def test_log_handler_drops_quietly_on_a_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    log_file = tmp_path / "zhenglian.log"
    log_file.symlink_to("/dev/full")
    handler = logsetup.QuietRotatingFileHandler(log_file, maxBytes=1000, backupCount=1, encoding="utf-8")
    logger = logging.getLogger("test.fulldisk")
    logger.propagate = False
    logger.addHandler(handler)
    before = logsetup.dropped_records()
    try:
        for i in range(11):
            logger.warning("record %d", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    assert logsetup.dropped_records() - before == 11


def test_the_configured_log_on_a_full_disk_prints_no_traceback(tmp_path: Path) -> None:
    """logsetup.setup() (what the CLI and the tray call) installs the quiet handler."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "zhenglian.log").symlink_to("/dev/full")
    code = ("import logging; from zhenglian import logsetup; logsetup.setup()\n"
            "for i in range(11): logging.getLogger('zhenglian.test').warning('record %d', i)\n"
            "print(logsetup.dropped_records())")
    env = dict(os.environ, ZHENGLIAN_HOME=str(home), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Logging error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.strip() == "11"


def test_records_held_before_the_log_opens_are_written_first(tmp_path: Path) -> None:
    """The tray holds log records until its icon is shown (logsetup.hold), then opens the file:
    what was logged meanwhile is in the file, in order, and logging.handlers came only then."""
    home = tmp_path / "home"
    code = ("import logging, sys; from zhenglian import logsetup; logsetup.hold()\n"
            "assert 'logging.handlers' not in sys.modules\n"
            "log = logging.getLogger('zhenglian.test')\n"
            "log.info('before %d', 1); log.debug('not kept'); log.warning('before %d', 2)\n"
            "logsetup.setup(); log.info('after')\n"
            "assert 'logging.handlers' in sys.modules\n")
    env = dict(os.environ, ZHENGLIAN_HOME=str(home), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # held, not printed by logging's last resort
    lines = (home / "logs" / "zhenglian.log").read_text(encoding="utf-8").splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["before 1", "before 2", "after"]


def test_a_failed_write_says_why_in_words_and_what_to_do() -> None:
    from zhenglian import errors

    full = errors.OutputWriteFailed.of(Path("/data/out.pdf"), _enospc())
    assert full.message_zh() == "无法写入 /data/out.pdf（磁盘空间不足），未生成文件"
    assert full.message_en() == "Cannot write /data/out.pdf (the disk is full); no file was written"
    assert "磁盘剩余空间" in full.hint()[0] and "another place" in full.hint()[1]
    odd = errors.OutputWriteFailed.of(Path("x.pdf"), OSError(errno.EIO, "I/O error"))
    assert "EIO" in odd.message_zh() and "EIO" in odd.message_en()
    assert "ValueError" in errors.OutputWriteFailed.of(Path("x.pdf"), ValueError("no errno")).message_en()
