"""Key detection figures: detect three keys, hot-plug latency, idle CPU of the watcher.

Run:  .venv/bin/python benchmarks/detect_bench.py [--idle-seconds 30] [--rounds 5]
Prints figures; asserts nothing.  Uses a private SoftHSM and data directory.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="zhenglian-bench-"))
os.environ["ZHENGLIAN_HOME"] = str(TMP / "home")
os.environ["ZHENGLIAN_USB_SYSFS"] = str(TMP / "no-usb")

from zhenglian.reference import provision, softhsm  # noqa: E402

CONF = softhsm.write_conf(TMP / "softhsm" / "softhsm2.conf")
os.environ["SOFTHSM2_CONF"] = str(CONF)

COLD = """
import time; t0 = time.perf_counter()
from zhenglian.services import Context
keys = Context.create().tokens.scan()
print(len(keys), (time.perf_counter() - t0) * 1000)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    provision.provision_all(CONF)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")

    colds = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == "3", out
        colds.append(float(out[1]))
    print(f"detect 3 keys, cold process (import + load driver + read certificates): "
          f"median {statistics.median(colds):.1f} ms (min {min(colds):.1f}, max {max(colds):.1f})")

    from zhenglian.services import Context
    from zhenglian.tokens.watcher import KeyWatcher

    ctx = Context.create()
    ctx.tokens.scan()
    warm = []
    for _ in range(20):
        t0 = time.perf_counter()
        assert len(ctx.tokens.scan()) == 3
        warm.append((time.perf_counter() - t0) * 1000)
    print(f"detect 3 keys, warm (rescan + read certificates): median {statistics.median(warm):.2f} ms")

    events: queue.Queue = queue.Queue()
    interval = ctx.settings.key_poll_ms / 1000
    watcher = KeyWatcher(ctx.tokens, events.put, interval=interval)
    watcher.start()
    time.sleep(1)
    while not events.empty():
        events.get()
    ins, rem = [], []
    for i in range(args.rounds):
        label = f"BENCH-{i}"
        t0 = time.perf_counter()
        softhsm.init_token(CONF, label, "so-pin-1234", "user-pin-1234")
        t_made = time.perf_counter()
        while True:
            ev = events.get(timeout=5)
            if ev.kind == "inserted" and ev.key.label == label:
                break
        ins.append((time.perf_counter() - t_made) * 1000)
        softhsm.delete_token(CONF, label)
        t_gone = time.perf_counter()
        while True:
            ev = events.get(timeout=5)
            if ev.kind == "removed" and ev.key.label == label:
                break
        rem.append((time.perf_counter() - t_gone) * 1000)
        del t0
    print(f"hot-plug latency (poll every {interval * 1000:.0f} ms), after the key exists: "
          f"insert median {statistics.median(ins):.0f} ms (max {max(ins):.0f}); "
          f"removal median {statistics.median(rem):.0f} ms (max {max(rem):.0f})")

    c0, t0 = time.process_time(), time.perf_counter()
    time.sleep(args.idle_seconds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    watcher.stop()
    print(f"watcher idle CPU over {wall:.0f} s with 3 keys in: {cpu * 1000:.0f} ms CPU = {100 * cpu / wall:.2f} % of one core")


if __name__ == "__main__":
    main()
