"""SKF backend figures: what the client adds over the binding (benchmarks/skf_bench.py).

Run:  .venv/bin/python benchmarks/skf_backend_bench.py [--rounds 50]
Prints figures beside targets; asserts nothing.  One software SKF key (skfsoft) with an SM2 and
an RSA container whose certificates a throw-away demo CA issued, in private directories.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="zhenglian-skf-backend-bench-"))
os.environ["ZL_SKFSOFT_DIR"] = str(TMP / "skfsoft")
os.environ["ZHENGLIAN_HOME"] = str(TMP / "home")

from _timing import median_ms  # noqa: E402

from zhenglian.keys.session import KeySession  # noqa: E402
from zhenglian.manifest import load_all  # noqa: E402
from zhenglian.reference import democa, provision, skfsoft  # noqa: E402
from zhenglian.tokens import pin  # noqa: E402
from zhenglian.tokens.manager import TokenManager  # noqa: E402
from zhenglian.tokens.secret import PinBuffer  # noqa: E402
from zhenglian.tokens.watcher import KeyWatcher  # noqa: E402

PIN = "Bench@2026pin"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    lib = skfsoft.build()
    spec = provision.DEMO_KEYS[1]
    subject = provision.subject_for(spec)
    sm2 = skfsoft.issued_containers(subject, sm2_ca=democa.create_sm2(spec.ca_id))
    rsa = skfsoft.issued_containers(subject, rsa_ca=democa.create(spec.ca_id))
    for name, containers in (("sm2", sm2), ("rsa", rsa)):
        skfsoft.create_device(TMP / "skfsoft", name, serial=f"BENCH-{name}", label=name,
                              user_pin=bytearray(PIN.encode()), admin_pin=bytearray(b"Admin@2026x"),
                              containers=containers)
    empty = TMP / "drivers"
    empty.mkdir()
    mgr = TokenManager(load_all(empty), [str(lib)])
    t0 = time.perf_counter()
    mgr.load_all()
    load_ms = (time.perf_counter() - t0) * 1000
    rows = [("load the SKF library through the manager", load_ms, "< 50 ms"),
            ("scan: 2 keys, certificates, PIN counts", median_ms(mgr.scan, args.rounds), "< 30 ms")]
    watcher = KeyWatcher(mgr, use_usb=False)
    watcher.poll_once()
    rows.append(("watcher round, nothing changed", median_ms(watcher.poll_once, args.rounds), "< 10 ms"))
    for serial, what in (("BENCH-sm2", "SM2"), ("BENCH-rsa", "RSA-2048")):
        h = mgr.handle(mgr.find_key(serial))
        rows.append((f"PIN status ({what} key, exact from the key)", median_ms(lambda h=h: pin.status(h), args.rounds),
                     "< 5 ms"))
        with pin.user_session(h, PinBuffer(PIN)) as s:
            ks = KeySession(h, s)
            ks.sign(b"warm-up")
            rows.append((f"{what}: sign + check against the certificate",
                         median_ms(lambda ks=ks: ks.sign(os.urandom(32)), args.rounds), "< 50 ms"))
        rows.append((f"{what}: login + logout (right PIN)",
                     median_ms(lambda h=h: _login(h), args.rounds // 5 or 1),
                     "< 20 ms"))
    rows += hotplug_rows(mgr, max(args.rounds // 5, 3))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'median':>10}  target")
    for what, ms, target in rows:
        print(f"{what:<{width}}  {ms:>7.2f} ms  {target}")
    shutil.rmtree(TMP, ignore_errors=True)


def _until(events: queue.Queue, kind: str, via: str) -> None:  # type: ignore[type-arg]
    while True:
        ev = events.get(timeout=60)
        if ev.kind == kind and ev.key is not None and ev.key.serial == "BENCH-sm2":
            assert ev.via == via, ev
            return


def hotplug_rows(mgr: TokenManager, rounds: int) -> list[tuple[str, float, str]]:
    """Unplug → removed event and plug → inserted event, through SKF_WaitForDevEvent and by polling
    (500 ms); then the watcher's CPU while idle, both ways."""
    from zhenglian.tokens.skf.library import SkfLibrary

    rows = []
    for mode in ("event", "poll"):
        saved = SkfLibrary.supports_wait
        if mode == "poll":
            SkfLibrary.supports_wait = property(lambda self: False)  # type: ignore[assignment,method-assign]
        for shared in __import__("zhenglian.tokens.skf.backend", fromlist=["_Shared"])._Shared._all.values():
            shared.events = None
        events: queue.Queue = queue.Queue()  # type: ignore[type-arg]
        w = KeyWatcher(mgr, events.put, interval=0.5, use_usb=False, event_backstop=3600)
        w.start()
        _until(events, "inserted", "poll")
        outs, ins = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            skfsoft.unplug(TMP / "skfsoft", "sm2")
            _until(events, "removed", mode)
            outs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            skfsoft.plug_in(TMP / "skfsoft", "sm2")
            _until(events, "inserted", mode)
            ins.append(time.perf_counter() - t0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(3.0)  # a benchmark may sleep: idle CPU over 3 s
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        w.stop(timeout=30)
        SkfLibrary.supports_wait = saved  # type: ignore[method-assign]
        target = "< 200 ms" if mode == "event" else "< 1000 ms"
        rows.append((f"hot-plug by {mode}: unplug → removed event", statistics.median(outs) * 1000, target))
        rows.append((f"hot-plug by {mode}: plug in → inserted event", statistics.median(ins) * 1000, target))
        rows.append((f"watcher idle CPU by {mode} (% of one core, as ms/s)", cpu * 10, "< 10 ms/s"))
    return rows


def _login(h) -> None:  # noqa: ANN001
    with pin.user_session(h, PinBuffer(PIN)):
        pass


if __name__ == "__main__":
    main()
