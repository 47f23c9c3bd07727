"""Where a task batch's time goes, in CPU time (issue 19): figures that a loaded machine does not blur.

    .venv/bin/python benchmarks/task_cpu_bench.py [--tasks 30] [--key-ms 150] [--only soft,key]

- soft: the soft token; signing alone (``TaskSigner.sign`` of documents in memory, one
  after another) against the batch end to end (``sign_tasks``: fetch, sign, self-check,
  outbox, register, upload, confirmed) — per task: wall time, the client's CPU (user and
  system), the reference server's CPU (another process), and the wall time of the
  client's server calls, outbox writes and register entries;
- key: the slow key (the PIN-locking proxy, ``--key-ms`` per signature, 300 ms login):
  the batch's timeline — start → first signature, the key's calls (mean, and the gaps
  between them), last signature → the batch returns — against the 1.10 × N × key target.

Wall figures move with the machine's load; CPU figures much less (the load average is printed).
The script reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_bench as sb  # noqa: E402 - the same set-up as the speed benchmark


def _timed(owner: Any, name: str, into: dict[str, list[float]], label: str) -> None:
    real: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            into.setdefault(label, []).append(time.perf_counter() - t)

    setattr(owner, name, wrapper)


def soft(n: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="zhenglian-taskcpu-"))
    spec, server, ids = sb._tasks_setup(base, "BENCH-SOFT", 2 * n + 1)
    try:
        from zhenglian.register.recorder import SealRecorder
        from zhenglian.services import Context
        from zhenglian.tasks import batch, sealpick
        from zhenglian.tasks.outbox import Outbox
        from zhenglian.tasks.pipeline import open_task_signer
        from zhenglian.tokens import pin as pinops
        from zhenglian.tokens.secret import PinBuffer

        ctx = Context.create()
        key = ctx.tokens.find_key(spec.label)
        h = ctx.tokens.handle(key)
        session = sb._session(server, key)
        batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[:1], Outbox(base / "outbox"), upload_wait_s=120)
        with pinops.user_session(h, PinBuffer(spec.user_pin)) as p11:
            tasks = [session.client.task(i) for i in ids[1:n + 1]]
            docs = [session.client.download(t) for t in tasks]
            seals = sealpick.usable_seals(p11, key.signing_certificate().info.der)
            with open_task_signer(h, p11) as signer:
                seal = sealpick.pick(seals, tasks[0])
                t0, c0 = time.perf_counter(), os.times()
                for task, doc in zip(tasks, docs, strict=True):
                    signer.sign(doc, task, seal)
                alone, c1 = time.perf_counter() - t0, os.times()
        calls: dict[str, list[float]] = {}
        for name in ("task", "download", "upload"):
            _timed(session.client, name, calls, f"server {name}")
        _timed(Outbox, "put", calls, "outbox put (with register)")
        _timed(SealRecorder, "publish_signed", calls, "register entry")
        _timed(os, "fsync", calls, "fsync")
        s0 = sb._cpu_seconds(server.proc.pid)
        t0, c2 = time.perf_counter(), os.times()
        result = batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[n + 1:], Outbox(base / "outbox"),
                                  upload_wait_s=120)
        e2e, c3 = time.perf_counter() - t0, os.times()
        s1 = sb._cpu_seconds(server.proc.pid)
    finally:
        server.stop()
    ms = 1000 / n
    print(f"soft token, {n} tasks (load {sb._load()}), per task:")
    print(f"  signing alone: {alone * ms:6.1f} ms wall, CPU {(c1.user - c0.user) * ms:5.1f} user "
          f"+ {(c1.system - c0.system) * ms:4.1f} system")
    print(f"  end to end:    {e2e * ms:6.1f} ms wall, CPU {(c3.user - c2.user) * ms:5.1f} user "
          f"+ {(c3.system - c2.system) * ms:4.1f} system; the server {(s1 - s0) * ms:5.1f} ms CPU; ok={result.ok}")
    print(f"  ratio end to end / signing alone: {alone / e2e:.2f} (target ≥ 0.80)")
    for label, values in calls.items():
        print(f"    {label:<28} {1000 * sum(values) / len(values):6.1f} ms wall × {len(values)}")


def slow_key(n: int, key_ms: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="zhenglian-taskkey-"))
    spec, server, ids = sb._tasks_setup(base, "BENCH-TASKS", n + 1)
    try:
        proxy = sb._slow_key_env(base, key_ms)
        from zhenglian.pdf import overlap
        from zhenglian.services import Context
        from zhenglian.tasks import batch
        from zhenglian.tasks.outbox import Outbox
        from zhenglian.tokens.secret import PinBuffer

        marks: list[tuple[float, float]] = []
        real = overlap.Overlap._run_key_call

        def traced(self: Any) -> bool:
            t = time.perf_counter()
            ran = real(self)
            if ran:
                marks.append((t, time.perf_counter()))
            return ran

        overlap.Overlap._run_key_call = traced  # type: ignore[method-assign]
        ctx = Context.create([str(proxy)])
        key = ctx.tokens.find_key(spec.label)
        h = ctx.tokens.handle(key)
        session = sb._session(server, key)
        batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[:1], Outbox(base / "outbox"), upload_wait_s=120)
        marks.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        result = batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[1:], Outbox(base / "outbox"),
                                  upload_wait_s=120)
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        server.stop()
    calls = [b - a for a, b in marks]
    gaps = [marks[i + 1][0] - marks[i][1] for i in range(len(marks) - 1)]
    print(f"{key_ms} ms key, {n} tasks (load {sb._load()}): {took:.2f} s (target ≤ {1.1 * n * key_ms / 1000:.2f} s), "
          f"client CPU {cpu:.2f} s, ok={result.ok}")
    if marks:
        print(f"  start → first signature {1000 * (marks[0][0] - t0):.0f} ms (incl. the {sb.LOGIN_MS} ms login); "
              f"last signature → done {1000 * (t0 + took - marks[-1][1]):.0f} ms")
        print(f"  key calls: {len(calls)}, mean {1000 * sum(calls) / len(calls):.1f} ms, max {1000 * max(calls):.1f} ms; "
              f"gaps between them: total {1000 * sum(gaps):.0f} ms, max {1000 * max(gaps, default=0):.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--key-ms", type=int, default=150)
    ap.add_argument("--only", default="soft,key")
    args = ap.parse_args()
    chosen = args.only.split(",")
    if "soft" in chosen:
        soft(args.tasks)
    if "key" in chosen:
        slow_key(args.tasks, args.key_ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
