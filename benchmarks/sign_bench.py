"""Signing benchmark: our batch signer against the pyHanko CLI, and a 100 MB PDF.

Run:  .venv/bin/python benchmarks/sign_bench.py [--docs 50] [--big-mb 100] [--cli-docs N]

Everything runs on a private SoftHSM (a temporary SOFTHSM2_CONF and
ZHENGLIAN_HOME; nothing of the user's is touched) with one demo key
(RSA-2048, PIN from the demo spec).  Printed side by side:

1. N one-page PDFs, each with a 42 mm seal picture (992 px, as rendered at
   600 dpi): zhenglian in one warm process — one login, one session, the
   seal encoded once — against ``pyhanko sign addsig pkcs11``, one process
   per file (its normal use), with a stamp style showing the same picture.
2. A ~100 MB PDF (large incompressible image streams): wall time and peak
   RSS of a fresh process signing it, ours and the pyHanko CLI's.

Targets (issue 4): ≤ 20 ms per document in a warm process; peak RSS
≤ 150 MB for the 100 MB PDF.  The script reports, it does not judge.
The pyHanko CLI reads its PIN from PYHANKO_PKCS11_PIN here — a demo PIN on a
throw-away SoftHSM; zhenglian itself never takes a PIN from the environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

LABEL = "BENCH-SZCA"
SEAL_MM = 42.0
SEAL_DPI = 600  # 992 px for 42 mm, the size DESIGN.md measured


def _env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ZHENGLIAN_HOME"] = str(base / "home")
    env["SOFTHSM2_CONF"] = str(base / "softhsm2.conf")
    return env


def setup(base: Path) -> dict[str, str]:
    """Private SoftHSM with one demo key; seal PNG; returns facts for the workers."""
    from zhenglian.reference import provision, softhsm

    conf = softhsm.write_conf(base / "softhsm2.conf")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["ZHENGLIAN_HOME"] = str(base / "home")
    spec = dataclasses.replace(provision.DEMO_KEYS[1], label=LABEL)
    key = provision.provision_key(spec, conf)
    from cryptography.hazmat.primitives import serialization

    chain = base / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in key.chain[:1]))
    seal = base / "seal.png"
    from helpers import pdf as ph

    seal.write_bytes(ph.seal_png(spec.organization, "合同专用章", SEAL_MM, SEAL_DPI))
    return {"pin": spec.user_pin, "module": str(softhsm.module_path()), "seal": str(seal), "chain": str(chain)}


def make_docs(folder: Path, n: int) -> list[Path]:
    from helpers import pdf as ph

    folder.mkdir(parents=True, exist_ok=True)
    pages = ph.contract_pages(1)
    template = ph.make_pdf(None, pages)
    out = []
    for i in range(n):
        p = folder / f"doc{i:03d}.pdf"
        p.write_bytes(template)
        out.append(p)
    return out


def make_big_pdf(path: Path, megabytes: int) -> None:
    """A PDF of about ``megabytes`` MB: one page per 10 MB image of random (incompressible) samples."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    w = PdfFileWriter(stream_xrefs=False)
    side = 1826  # 1826² × 3 ≈ 10 MB
    for _ in range(max(1, megabytes // 10)):
        img = generic.StreamObject({
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(side), pdf_name("/Height"): generic.NumberObject(side),
            pdf_name("/ColorSpace"): pdf_name("/DeviceRGB"), pdf_name("/BitsPerComponent"): generic.NumberObject(8),
        }, stream_data=os.urandom(side * side * 3))
        ref = w.add_object(img)
        content = w.add_object(generic.StreamObject(stream_data=b"q 500 0 0 500 40 200 cm /Im Do Q BT ET"))
        res = generic.DictionaryObject({pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/Im"): ref})})
        w.insert_page(PageObject(contents=content, media_box=(0, 0, 595, 842), resources=res))
        del img
    with open(path, "wb") as fh:
        w.write(fh)


# --- workers (run in child processes for clean timing and RSS) -------------------

def worker_ours(args: argparse.Namespace) -> None:
    """Sign files in one process and session; print JSON with times."""
    t0 = time.perf_counter()
    from zhenglian.pdf import keysign
    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.seal import SealPicture
    from zhenglian.services import Context
    from zhenglian.tokens.secret import PinBuffer

    facts = json.loads(args.facts)
    ctx = Context.create()
    key = ctx.tokens.find_key(LABEL)
    seal = SealPicture(Path(facts["seal"]).read_bytes(), SEAL_MM, SEAL_MM, "合同专用章")
    files = [Path(p) for p in args.files]
    out_dir = Path(args.out)
    times = []
    cpu = []
    t_ready = None
    with keysign.key_batch(ctx.tokens.handle(key), PinBuffer(facts["pin"]), seal=seal) as batch:
        t_ready = time.perf_counter()
        for f in files:
            t, c = time.perf_counter(), time.process_time()
            batch.sign(f, out_dir / f.name, [pl.AtPosition(1, 150, 230)])
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    print(json.dumps({"times": times, "cpu": cpu, "startup": t_ready - t0, "total": time.perf_counter() - t0,
                      "peak_rss_mb": vm_hwm_mb()}))


def vm_hwm_mb() -> float:
    """Peak RSS of this process image (VmHWM, Linux).

    Not getrusage(): after fork+exec, ru_maxrss also counts the forked copy
    of a large parent, which would blame the parent's memory on the child.
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for text in fh:
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) / 1024
    return float("nan")


# pyHanko CLI run inside a wrapper that reports its own VmHWM at exit.
_HWM_WRAPPER = (
    "import atexit, sys\n"
    "def _hwm():\n"
    "    for t in open('/proc/self/status'):\n"
    "        if t.startswith('VmHWM:'): sys.stderr.write('ZL_VMHWM %s\\n' % t.split()[1])\n"
    "atexit.register(_hwm)\n"
    "sys.argv = ['pyhanko'] + sys.argv[1:]\n"
    "from pyhanko.__main__ import launch\n"
    "sys.exit(launch())\n"
)


def _run_json(cmd: list[str], env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        raise SystemExit(f"worker failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def pyhanko_cmd(facts: dict[str, str], base: Path, src: Path, dst: Path,
                env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    cfg = base / "pyhanko.yml"
    if not cfg.exists():
        cfg.write_text(
            "stamp-styles:\n"
            "  seal:\n"
            "    type: text\n"
            "    stamp-text: ' '\n"
            f"    background: {facts['seal']}\n"
            "    border-width: 0\n"
            "    background-opacity: 1.0\n"
            "    background-layout:\n"
            "      margins: {left: 0, right: 0, top: 0, bottom: 0}\n", encoding="utf-8")
    x, y, s = 150 * 72 / 25.4, 842 - 230 * 72 / 25.4, SEAL_MM * 72 / 25.4
    box = f"1/{round(x - s / 2)},{round(y - s / 2)},{round(x + s / 2)},{round(y + s / 2)}/Seal1"  # CLI takes integers
    cmd = [str(Path(sys.executable).parent / "pyhanko"), "--config", str(cfg), "sign", "addsig",
           "--field", box, "--style-name", "seal", "--use-pades", "--reason", "合同专用章",
           "--other-certs", facts["chain"], "pkcs11",
           "--lib", facts["module"], "--token-label", LABEL, "--cert-label", "sign", "--key-label", "sign",
           str(src), str(dst)]
    return cmd, dict(env, PYHANKO_PKCS11_PIN=facts["pin"])


def pyhanko_cli(facts: dict[str, str], base: Path, src: Path, dst: Path, env: dict[str, str]) -> float:
    cmd, e = pyhanko_cmd(facts, base, src, dst, env)
    t = time.perf_counter()
    res = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"pyhanko CLI failed: {res.stderr[-2000:]}")
    return elapsed


def cli_peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of the pyHanko CLI on one file."""
    wrapped = [sys.executable, "-c", _HWM_WRAPPER, *cmd[1:]]
    t = time.perf_counter()
    res = subprocess.run(wrapped, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"pyhanko CLI failed: {res.stderr[-2000:]}")
    kb = [int(t.split()[1]) for t in res.stderr.splitlines() if t.startswith("ZL_VMHWM ")]
    return elapsed, kb[-1] / 1024 if kb else float("nan")


def ms(v: float) -> str:
    return f"{v * 1000:8.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=50)
    ap.add_argument("--cli-docs", type=int, default=None, help="files for the pyHanko CLI (default: --docs)")
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--worker", choices=["ours"], help=argparse.SUPPRESS)
    ap.add_argument("--facts", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "ours":
        worker_ours(args)
        return 0

    base = Path(tempfile.mkdtemp(prefix="zhenglian-bench-"))
    try:
        print(f"setting up in {base} …", flush=True)
        facts = setup(base)
        env = _env(base)
        docs = make_docs(base / "in", args.docs)
        me = [sys.executable, str(Path(__file__).resolve()), "--worker", "ours", "--facts", json.dumps(facts)]

        # 1. warm batch (ours)
        (base / "out-ours").mkdir()
        ours = _run_json(me + ["--out", str(base / "out-ours"), *map(str, docs)], env)
        t = ours["times"]
        warm = t[1:] or t
        # 2. pyHanko CLI, one process per file
        (base / "out-cli").mkdir()
        n_cli = args.cli_docs or args.docs
        cli = [pyhanko_cli(facts, base, d, base / "out-cli" / d.name, env) for d in docs[:n_cli]]

        print()
        print(f"== {args.docs} one-page PDFs, 42 mm seal ({SEAL_DPI} dpi picture), PAdES B-B, SoftHSM RSA-2048 ==")
        print(f"{'':34}{'zhenglian (1 process)':>24}{'pyhanko CLI (per file)':>26}")
        print(f"{'per document, median':34}{ms(statistics.median(warm)):>24}{ms(statistics.median(cli)):>26}")
        print(f"{'per document, mean':34}{ms(statistics.mean(warm)):>24}{ms(statistics.mean(cli)):>26}")
        print(f"{'per document, min':34}{ms(min(warm)):>24}{ms(min(cli)):>26}")
        print(f"{'per document, max':34}{ms(max(warm)):>24}{ms(max(cli)):>26}")
        print(f"{'per document, CPU time median':34}{ms(statistics.median(ours['cpu'][1:] or ours['cpu'])):>24}{'':>26}")
        print(f"{'first document (seal encoded)':34}{ms(t[0]):>24}{'':>26}")
        print(f"{'process start + login':34}{ms(ours['startup']):>24}{'(included above)':>26}")
        print(f"{'all documents, wall':34}{ms(ours['total']):>24}{ms(sum(cli)):>26}")
        print(f"target ≤ 20 ms per document warm: {'met' if statistics.median(warm) <= 0.020 else 'NOT met'}"
              f" (median {statistics.median(warm) * 1000:.1f} ms wall)")
        print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
              f"(other work on the machine inflates wall times; CPU time does not)")

        # 3. the big PDF, fresh processes
        big = base / "big.pdf"
        t0 = time.perf_counter()
        make_big_pdf(big, args.big_mb)
        size_mb = big.stat().st_size / 1e6
        print()
        print(f"== {size_mb:.0f} MB PDF (made in {time.perf_counter() - t0:.1f} s) ==")
        (base / "out-big").mkdir()
        t0 = time.perf_counter()
        big_run = _run_json(me + ["--out", str(base / "out-big"), str(big)], env)
        t_ours, rss_ours = time.perf_counter() - t0, big_run["peak_rss_mb"]
        t_cli, rss_cli = cli_peak_rss(*pyhanko_cmd(facts, base, big, base / "big-cli.pdf", env))
        print(f"{'':34}{'zhenglian':>24}{'pyhanko CLI':>26}")
        print(f"{'wall time, whole process':34}{t_ours:>22.2f} s{t_cli:>24.2f} s")
        print(f"{'of which signing the file':34}{big_run['times'][0]:>22.2f} s{'':>26}")
        print(f"{'peak RSS':34}{rss_ours:>21.0f} MB{rss_cli:>23.0f} MB")
        print(f"target peak RSS ≤ 150 MB: {'met' if rss_ours <= 150 else 'NOT met'} ({rss_ours:.0f} MB)")
        return 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
