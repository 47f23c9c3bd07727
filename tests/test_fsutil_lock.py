"""fsutil.locked: read-modify-write of a data file, one thread and one process at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from zhenglian import fsutil


def test_the_lock_can_be_taken_again_by_the_thread_holding_it(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    done = threading.Event()

    def nested() -> None:
        with fsutil.locked(target), fsutil.locked(target):
            fsutil.atomic_write_json(target, {"n": 1})
        done.set()

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    assert done.wait(60), "a nested lock waited on itself"
    with fsutil.locked(target):  # ... and was given back whole
        assert fsutil.read_json(target, None) == {"n": 1}


def test_another_process_waits_for_the_lock_and_then_takes_it(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    code = ("import sys; from pathlib import Path; from zhenglian import fsutil\n"
            "t = Path(sys.argv[1])\n"
            "print('waiting', flush=True)\n"
            "with fsutil.locked(t): fsutil.atomic_write_json(t, {'by': 'child', 'saw': fsutil.read_json(t, None)})\n")
    with fsutil.locked(target):
        fsutil.atomic_write_json(target, {"by": "parent"})
        child = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "waiting"
        fd = os.open(target.with_name(target.name + ".lock"), os.O_RDWR)
        try:  # the lock is still ours while the child waits for it
            assert not fsutil.os_lock(fd, True, wait=False)
        finally:
            os.close(fd)
        fsutil.atomic_write_json(target, {"by": "parent", "last": True})
    assert child.wait(timeout=120) == 0
    assert fsutil.read_json(target, None) == {"by": "child", "saw": {"by": "parent", "last": True}}
