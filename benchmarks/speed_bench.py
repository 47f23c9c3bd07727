"""Speed with real keys (issue 19): every figure beside its target, in one run.

    .venv/bin/python benchmarks/speed_bench.py [--key-ms 150] [--docs 10] [--tasks 50]
                                               [--skip tray,bundle,...] [--bundle DIR]

A slow USB key is the PIN-locking test proxy (tests/pkcs11_lockproxy) in front
of a private SoftHSM, with ``LOCKPROXY_SIGN_DELAY_MS`` per signature and
``LOCKPROXY_LOGIN_DELAY_MS`` per login.  Each measurement runs in its own child
process (clean imports, its own environment); nothing of the user's is touched.

Figures and targets:

- local: a batch of local files through ``sign_files`` (the use case behind
  ``zhenglian sign A.pdf B.pdf --out-dir`` and the tray's documents page) on a
  150 ms key: (time for N documents − time for 1) / (N − 1) ≤ 1.05 × 150 ms;
- tasks: N tasks end to end (fetch, sign, check, queue, upload, confirmed by the
  reference server) on a 150 ms key ≤ 1.10 × N × 150 ms;
- soft: on the soft token, end to end ≥ 0.8 × signing alone (tasks per second;
  signing alone = the same documents in memory, one key session, sequential);
- cold: a fresh ``zhenglian sign`` of one file, process start → the PIN prompt
  on its terminal ≤ 0.5 s;
- tray: launch → tray icon ≤ 200 ms, idle RSS ≤ 80 MB (benchmarks/tray_bench.py), from this
  source tree; bundletray: the same for the PyInstaller bundle (what operators install);
- bundle: the PyInstaller bundle ≤ 100 MB installed (from dist/ or --bundle;
  ``benchmarks/package_sizes.py --build`` builds one).

The machine's load average is printed before and after, so a noisy run shows.
The script reports; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
PY = sys.executable
MB = 1024 * 1024
LOGIN_MS = 300  # a USB key checks a PIN in about this time


# --- set-up shared by the child sections ------------------------------------------------

def _softhsm_key(base: Path, label: str) -> Any:
    """A private SoftHSM with the SZCA demo key (公章 + 合同专用章); returns its spec."""
    from zhenglian.reference import provision, softhsm

    conf = softhsm.write_conf(base / "softhsm" / "softhsm2.conf")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["ZHENGLIAN_HOME"] = str(base / "home")
    (base / "home").mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(provision.DEMO_KEYS[1], label=label)
    provision.provision_key(spec, conf)
    return spec


def _slow_key_env(base: Path, key_ms: int) -> Path:
    """Build the proxy; this process sees only it (no softhsm manifest), with the delays set."""
    from zhenglian.reference import softhsm

    subprocess.run(["sh", str(ROOT / "tests" / "pkcs11_lockproxy" / "build.sh"), str(base / "proxy")], check=True)
    # A copy under its own path: a SoftHSM instance of its own (provisioning loaded the original here).
    target = base / "proxy" / "libsofthsm2-speed.so"
    shutil.copy2(softhsm.module_path(), target)
    drivers = base / "drivers"
    drivers.mkdir(exist_ok=True)
    for f in (ROOT / "drivers").glob("*.toml"):
        if f.name != "softhsm.toml":
            shutil.copy2(f, drivers / f.name)
    os.environ.update({
        "ZHENGLIAN_DRIVERS_DIR": str(drivers),
        "LOCKPROXY_TARGET": str(target),
        "LOCKPROXY_STATE_DIR": str(base / "proxy"),
        "LOCKPROXY_SIGN_DELAY_MS": str(key_ms),
        "LOCKPROXY_LOGIN_DELAY_MS": str(LOGIN_MS),
    })
    return base / "proxy" / "liblockproxy.so"


class _Prompter:
    """The PIN, given once (a benchmark has no operator)."""

    def __init__(self, pin: str) -> None:
        self.pin = pin

    def locked(self, st: Any, error: Any) -> None:
        raise error

    def confirm_final_try(self, st: Any) -> bool:
        return False

    def ask_pin(self, st: Any) -> Any:
        from zhenglian.tokens.secret import PinBuffer

        return PinBuffer(self.pin)

    def ask_change(self, st: Any, policy: Any) -> None:
        return None

    def ask_unlock(self, st: Any, policy: Any) -> None:
        return None

    def pinpad(self, st: Any) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def keep_pin(self) -> bool:
        return False

    def show_error(self, error: Any) -> None:
        pass


def _compiled_env(base: Path) -> dict[str, str]:
    """The environment for a measured child process: bytecode cached, as an installed client has it.

    An installed client runs from compiled bytecode (pip compiles on install, the bundle
    carries .pyc files).  A development shell often sets PYTHONDONTWRITEBYTECODE, and then
    every start compiles ~80 modules from source (≈ 0.17 s); the cache goes to a private
    folder so the worktree is not touched.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(base / "pycache"))
    return env


# --- sections (each in its own process) ---------------------------------------------------

def section_local(base: Path, key_ms: int, docs: int) -> dict[str, Any]:
    spec = _softhsm_key(base, "BENCH-LOCAL")
    proxy = _slow_key_env(base, key_ms)
    from helpers import pdf as ph

    from zhenglian.pdf import placement as pl
    from zhenglian.pdf import sealchoice
    from zhenglian.pdf.localsign import LocalSigning, sign_files
    from zhenglian.services import Context

    template = ph.make_pdf(None, ph.contract_pages(1))
    src = base / "in"
    src.mkdir()
    files = []
    for i in range(docs):
        p = src / f"doc{i:03d}.pdf"
        p.write_bytes(template)
        files.append(p)
    ctx = Context.create([str(proxy)])
    h = ctx.tokens.handle(ctx.tokens.find_key(spec.label))
    seal = sealchoice.choose_seal(ctx, h.key, None)
    where = [pl.AtPosition(1, 150.0, 230.0)]

    def run(n: int, out: str) -> float:
        job = LocalSigning([(f, base / out / f.name) for f in files[:n]], where, seal)
        t = time.perf_counter()
        sign_files(h, _Prompter(spec.user_pin), job)
        return time.perf_counter() - t

    run(1, "warm")  # imports, first encode of the seal
    # The best of three of each, alternating, so both sizes see the same machine.
    ones, manys = [], []
    for i in range(3):
        ones.append(run(1, f"one{i}"))
        manys.append(run(docs, f"many{i}"))
    one, many = min(ones), min(manys)
    extra = (many - one) / (docs - 1)
    return {"one_s": one, "many_s": many, "docs": docs, "extra_ms": extra * 1000}


def _tasks_setup(base: Path, label: str, n: int) -> tuple[Any, Any, list[str]]:
    spec = _softhsm_key(base, label)
    from helpers.server import start_server

    server = start_server(base / "server")
    ids = server.add_tasks(spec.uscc, spec.organization, n, kinds=("委托扣款授权书",), seal_type="合同专用章")
    return spec, server, ids


def _session(server: Any, key: Any) -> Any:
    from zhenglian.server.api import ServerClient
    from zhenglian.server.session import ServerSession
    from zhenglian.server.tokenstore import TokenStore

    return ServerSession(ServerClient(server.url), key, TokenStore(use_keyring=False))


def section_tasks(base: Path, key_ms: int, n: int) -> dict[str, Any]:
    spec, server, ids = _tasks_setup(base, "BENCH-TASKS", n + 1)
    try:
        proxy = _slow_key_env(base, key_ms)
        from zhenglian.services import Context
        from zhenglian.tasks import batch
        from zhenglian.tasks.outbox import Outbox
        from zhenglian.tokens.secret import PinBuffer

        ctx = Context.create([str(proxy)])
        key = ctx.tokens.find_key(spec.label)
        h = ctx.tokens.handle(key)
        session = _session(server, key)
        # warm-up: imports, the server login, the seal encoded (one task)
        batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[:1], Outbox(base / "outbox"), upload_wait_s=120)
        t = time.perf_counter()
        result = batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids[1:], Outbox(base / "outbox"),
                                  upload_wait_s=120)
        took = time.perf_counter() - t
        confirmed = sum(1 for tid in ids[1:] if server.store.task(tid).status == "signed")
        return {"tasks": n, "seconds": took, "confirmed": confirmed, "ok": result.ok}
    finally:
        server.stop()


def section_soft(base: Path, n: int) -> dict[str, Any]:
    spec, server, all_ids = _tasks_setup(base, "BENCH-SOFT", n + 1)
    warm, ids = all_ids[:1], all_ids[1:]  # one task warms the end-to-end path, as one document does signing
    try:
        from zhenglian.services import Context
        from zhenglian.tasks import batch, sealpick
        from zhenglian.tasks.outbox import Outbox
        from zhenglian.tasks.pipeline import open_task_signer
        from zhenglian.tokens import pin as pinops
        from zhenglian.tokens.secret import PinBuffer

        ctx = Context.create()
        key = ctx.tokens.find_key(spec.label)
        h = ctx.tokens.handle(key)
        session = _session(server, key)
        with pinops.user_session(h, PinBuffer(spec.user_pin)) as p11:
            session.login(p11)
            tasks = [session.client.task(i) for i in ids]
            docs = [session.client.download(task) for task in tasks]
            seals = sealpick.usable_seals(p11, key.signing_certificate().info.der)
            with open_task_signer(h, p11) as signer:
                seal = sealpick.pick(seals, tasks[0])
                signer.sign(docs[0], tasks[0], seal)  # warm-up
                made = []
                t = time.perf_counter()
                for task, doc in zip(tasks, docs, strict=True):
                    signer.sign(doc, task, seal)
                    made.append(signer.last)
                alone = time.perf_counter() - t
        # warm-up: the batch's own imports, the outbox, the register and the upload threads' first use
        batch.sign_tasks(session, h, PinBuffer(spec.user_pin), warm, Outbox(base / "outbox"), upload_wait_s=120)
        s0, c0 = _cpu_seconds(server.proc.pid), time.process_time()
        t = time.perf_counter()
        result = batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids, Outbox(base / "outbox"),
                                  upload_wait_s=120)
        e2e = time.perf_counter() - t
        server_cpu, client_cpu = _cpu_seconds(server.proc.pid) - s0, time.process_time() - c0
        confirmed = sum(1 for tid in ids if server.store.task(tid).status == "signed")
        must_cpu = _required_cpu(session.client, h, Outbox(base / "outbox-floor"), ids, made, seal)
        return {"tasks": n, "alone_s": alone, "e2e_s": e2e, "confirmed": confirmed, "ok": result.ok,
                "server_cpu_s": server_cpu, "client_cpu_s": client_cpu, "must_cpu_s": must_cpu}
    finally:
        server.stop()


def _required_cpu(client: Any, h: Any, outbox: Any, ids: list[str], made: list[Any], seal: Any) -> float:
    """The client's CPU for what a task needs besides its signature, and nothing else: GET task,
    GET document (hash-checked), the signed file into the outbox (fsynced) with its register entry,
    the PUT and the outbox's journal — one task after another in this thread, no pipeline.  The
    files put are the ones the batch uploaded (fetched first, untimed), so each PUT is answered as
    a duplicate; the register entries carry the signing-alone run's facts."""
    from zhenglian.register.recorder import SealRecorder
    from zhenglian.tasks.pipeline import queue_signed

    signed = [client.download_signed(client.task(i)) for i in ids]
    recorder = SealRecorder(h, "task", server=client.origin)
    c0 = time.process_time()
    for tid, body, result in zip(ids, signed, made, strict=True):
        task = client.task(tid)
        entry = queue_signed(outbox, client.origin, task, client.download(task), body, result, seal, recorder)
        outbox.upload_entry(entry, client)
    return time.process_time() - c0


def section_cold(base: Path, runs: int) -> dict[str, Any]:
    """Process start → the PIN prompt on a terminal (a pty), for a fresh ``zhenglian sign``."""
    import pty

    spec = _softhsm_key(base, "BENCH-COLD")
    from helpers import pdf as ph

    from zhenglian.reference import softhsm

    doc = base / "a.pdf"
    doc.write_bytes(ph.make_pdf(None, ph.contract_pages(1)))
    env = _compiled_env(base)
    times: list[float] = []
    cpus: list[float] = []
    for i in range(runs + 1):  # the first run writes .pyc files: not counted
        out = base / f"out{i}.pdf"
        argv = [PY, "-m", "zhenglian", "sign", str(doc), "-o", str(out), "--key", spec.label,
                "--page", "1", "--at", "150,230", "--module", str(softhsm.module_path())]
        t0 = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            os.execve(PY, argv, env)
        seen = b""
        while b"key PIN:" not in seen:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                break
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
        prompt = time.perf_counter() - t0
        cpu = _cpu_seconds(pid)  # the child's own work so far: what a loaded machine does not inflate much
        os.write(fd, spec.user_pin.encode() + b"\n")
        while True:
            try:
                if not os.read(fd, 4096):
                    break
            except OSError:
                break
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        if i and os.waitstatus_to_exitcode(status) == 0 and out.exists():
            times.append(prompt)
            cpus.append(cpu)
    times.sort()
    cpus.sort()
    return {"runs": len(times), "median_s": times[len(times) // 2] if times else None,
            "min_s": times[0] if times else None, "cpu_s": cpus[len(cpus) // 2] if cpus else None}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def section_tray(base: Path, exe: Path | None = None) -> dict[str, Any]:
    if not (shutil.which("Xvfb") and shutil.which("trayer")):
        return {"skipped": "Xvfb/trayer not installed"}
    if exe is not None and not exe.is_file():
        return {"skipped": f"no bundle at {exe.parent} (benchmarks/package_sizes.py --build, or --bundle DIR)"}
    cmd = [PY, str(ROOT / "benchmarks" / "tray_bench.py"), "--idle-seconds", "10", "--launches", "9"]
    out = subprocess.run(cmd + (["--exe", str(exe)] if exe else []),
                         capture_output=True, text=True, env=_compiled_env(base), timeout=600)
    launch = re.search(r"median (\d+) ms", out.stdout)
    floor = re.search(r"bare PySide6 tray icon: median (\d+) ms", out.stdout)
    rss = re.search(r"idle RSS with one key in: ([\d.]+) MB", out.stdout)
    if not (launch and rss):
        return {"skipped": f"tray_bench failed: {(out.stderr or out.stdout)[-300:]}"}
    return {"launch_ms": float(launch.group(1)), "rss_mb": float(rss.group(1)),
            "floor_ms": float(floor.group(1)) if floor else None}


def section_bundle(bundle: Path | None) -> dict[str, Any]:
    bundle = bundle or ROOT / "dist" / "zhenglian"
    if not bundle.is_dir():
        return {"skipped": f"no bundle at {bundle} (benchmarks/package_sizes.py --build, or --bundle DIR)"}
    from package_sizes import tree_bytes

    return {"mb": tree_bytes(bundle) / MB, "path": str(bundle)}


# --- the parent: run each section in a child, print the table ------------------------------

def _child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [PY, __file__, "--section", name, "--key-ms", str(args.key_ms), "--docs", str(args.docs),
           "--tasks", str(args.tasks), "--cold-runs", str(args.cold_runs)]
    if args.bundle:
        cmd += ["--bundle", str(args.bundle)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    for line in reversed(res.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {"skipped": f"section failed (exit {res.returncode}): {res.stderr[-400:]}"}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(what: str, figure: str, target: str, ok: bool | None) -> None:
    verdict = "—" if ok is None else ("ok" if ok else "OVER")
    print(f"{what:<46} {figure:>22}   target {target:<24} {verdict}")


def report(name: str, r: dict[str, Any], args: argparse.Namespace) -> None:
    if "skipped" in r:
        _row(name, "not measured", "", None)
        print(f"    ({r['skipped']})")
        return
    k = args.key_ms
    if name == "local":
        _row(f"local files, {k} ms key: per extra document", f"{r['extra_ms']:.0f} ms",
             f"≤ {1.05 * k:.0f} ms (1.05 × {k})", r["extra_ms"] <= 1.05 * k)
        print(f"    (best of 3: 1 document {r['one_s']:.2f} s incl. a {LOGIN_MS} ms login; "
              f"{r['docs']} documents {r['many_s']:.2f} s)")
    elif name == "tasks":
        limit = 1.10 * r["tasks"] * k / 1000
        _row(f"{r['tasks']} tasks end to end, {k} ms key", f"{r['seconds']:.2f} s", f"≤ {limit:.2f} s (1.10 × N × {k} ms)",
             r["seconds"] <= limit and r["ok"])
        print(f"    ({r['confirmed']}/{r['tasks']} confirmed by the server; key alone {r['tasks'] * k / 1000:.2f} s)")
    elif name == "soft":
        ratio = r["alone_s"] / r["e2e_s"]
        _row(f"soft token, {r['tasks']} tasks: end to end / signing alone", f"{ratio:.2f}", "≥ 0.80", ratio >= 0.8)
        print(f"    (signing alone {r['tasks'] / r['alone_s']:.1f} tasks/s, end to end {r['tasks'] / r['e2e_s']:.1f} "
              f"tasks/s, {r['confirmed']}/{r['tasks']} confirmed)")
        if r.get("server_cpu_s"):
            per = {k: 1000 * r[k] / r["tasks"] for k in ("alone_s", "server_cpu_s", "client_cpu_s")}
            # Both processes on this machine's cores: a task cannot take less wall time than the
            # server's CPU for it (one process), nor than both processes' CPU shared over the cores.
            floor = max(per["server_cpu_s"], (per["server_cpu_s"] + per["client_cpu_s"]) / (os.cpu_count() or 1))
            print(f"    (CPU per task end to end: the client {per['client_cpu_s']:.1f} ms, the reference server "
                  f"{per['server_cpu_s']:.1f} ms on the same {os.cpu_count()} cores; signing alone "
                  f"{per['alone_s']:.1f} ms wall — with that server here the ratio cannot exceed "
                  f"{min(1.0, per['alone_s'] / floor):.2f})")
        if r.get("must_cpu_s"):
            # The most any client could reach: besides signing, only what a task needs (its three
            # requests, the outbox and the register), spread over the cores with the server perfectly,
            # in as many processes as it likes.
            must = 1000 * r["must_cpu_s"] / r["tasks"]
            ideal = max(per["server_cpu_s"], (per["alone_s"] + must + per["server_cpu_s"]) / (os.cpu_count() or 1))
            print(f"    (a task's requests, outbox and register alone cost the client {must:.1f} ms of CPU: a "
                  f"client doing nothing else besides signing, in any number of processes, could reach at most "
                  f"{min(1.0, per['alone_s'] / ideal):.2f} here)")
    elif name == "cold":
        if r["median_s"] is None:
            _row("cold 'zhenglian sign', start → PIN prompt", "failed", "≤ 0.50 s", False)
            return
        _row("cold 'zhenglian sign', start → PIN prompt", f"{r['median_s']:.2f} s", "≤ 0.50 s", r["median_s"] <= 0.5)
        print(f"    (median of {r['runs']}, best {r['min_s']:.2f} s; the process's own CPU time to the prompt "
              f"{r['cpu_s']:.2f} s — the rest is waiting for a CPU on a loaded machine)")
    elif name in ("tray", "bundletray"):
        where = "" if name == "tray" else " (the bundle)"
        _row(f"tray launch → icon{where}", f"{r['launch_ms']:.0f} ms", "≤ 200 ms", r["launch_ms"] <= 200)
        if r.get("floor_ms") is not None:
            print(f"    (a bare PySide6 program showing a tray icon, same machine and run: {r['floor_ms']:.0f} ms)")
        _row(f"tray idle RSS, one key in{where}", f"{r['rss_mb']:.1f} MB", "≤ 80 MB", r["rss_mb"] <= 80)
    elif name == "bundle":
        _row("bundle installed", f"{r['mb']:.1f} MB", "≤ 100 MB", r["mb"] <= 100)


SECTIONS = ("local", "tasks", "soft", "cold", "tray", "bundle", "bundletray")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key-ms", type=int, default=150, help="the slow key's time per signature")
    ap.add_argument("--docs", type=int, default=20, help="local files in the batch")
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out: " + ",".join(SECTIONS))
    ap.add_argument("--only", default="", help="comma-separated sections to run")
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--section", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.section:  # a child: one measurement, one JSON line
        base = Path(tempfile.mkdtemp(prefix=f"zhenglian-speed-{args.section}-"))
        try:
            if args.section == "local":
                r = section_local(base, args.key_ms, args.docs)
            elif args.section == "tasks":
                r = section_tasks(base, args.key_ms, args.tasks)
            elif args.section == "soft":
                r = section_soft(base, args.tasks)
            elif args.section == "cold":
                r = section_cold(base, args.cold_runs)
            elif args.section == "tray":
                r = section_tray(base)
            elif args.section == "bundletray":
                r = section_tray(base, (args.bundle or ROOT / "dist" / "zhenglian") / "zhenglian")
            else:
                r = section_bundle(args.bundle)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        print(json.dumps(r))
        return 0

    chosen = [s for s in SECTIONS if s not in args.skip.split(",")]
    if args.only:
        chosen = [s for s in chosen if s in args.only.split(",")]
    print(f"zhenglian speed benchmark — {os.cpu_count()} cores, load average {_load()} (1, 5, 15 min)")
    started = time.perf_counter()
    for name in chosen:
        report(name, _child(name, args), args)
    print(f"load average at the end {_load()}; the run took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
