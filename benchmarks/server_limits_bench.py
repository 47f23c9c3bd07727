"""Figures for the server client's bounds against hostile servers (issue 15, item 3), beside their targets.

Run:  PYTHONPATH=$PWD .venv/bin/python benchmarks/server_limits_bench.py [--drip-s 5] [--skip-drip]
Prints figures; asserts nothing.  Each client runs in a child process (its
peak RSS is what is reported); the hostile servers are threads of this one,
on free loopback ports.

- a task declaring 36 KB whose document URL serves 1.5 GB (before: 3.2 GB RSS);
- a 400 MB JSON answer, with and without Content-Length (before: 880 MB);
- a server dripping one byte every --drip-s seconds (before: > 90 s; target: the 45 s call deadline);
- the nesting check on 16 MiB of worst-case JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from zhenglian import errors
from zhenglian.server import api, models
url, what, task = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = api.ServerClient(url, retries=0)
c.token = "t"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.monotonic()
try:
    c.download(models.Task.parse(task)) if what == "download" else c.info()
    outcome = "no error"
except errors.ZhenglianError as exc:
    outcome = type(exc).__name__
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "rss_growth_mb": (after - before) / 1024, "peak_mb": after / 1024,
                  "seconds": time.monotonic() - t0}))
"""


def serve(head: bytes, total: int, fill: bytes, drip_s: float = 0.0) -> tuple[str, dict[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    state = {"sent": 0}

    def run() -> None:
        conn, _ = sock.accept()
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                if drip_s:
                    for b in head:
                        conn.sendall(bytes([b]))
                        state["sent"] += 1
                        time.sleep(drip_s)
                    return
                conn.sendall(head)
                block = (fill * (65536 // len(fill) + 1))[:65536]
                while state["sent"] < total:
                    conn.sendall(block)
                    state["sent"] += len(block)
            except OSError:
                pass

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", state


def child(url: str, what: str, task: dict[str, object] | None = None) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, url, what, json.dumps(task or {})], capture_output=True,
                         text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if out.returncode != 0:
        return {"outcome": "child failed: " + out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout)


def row(name: str, r: dict[str, object], sent: int, target: str) -> None:
    growth = r.get("rss_growth_mb")
    print(f"{name:56s} {r['outcome']:22s} RSS +{growth if growth is None else f'{growth:7.1f}'} MB  "
          f"server got out {sent / 2**20:8.1f} MB  {float(r.get('seconds', 0)):6.1f} s   target: {target}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drip-s", type=float, default=5.0)
    ap.add_argument("--skip-drip", action="store_true")
    args = ap.parse_args()

    doc = b"%PDF-1.7\n" + b"x" * (36 * 1024)
    task = {"id": "t1", "title": "t", "status": "pending", "placement": {"page": -1},
            "document": {"filename": "a.pdf", "sha256": hashlib.sha256(doc).hexdigest(), "size": len(doc),
                         "url": "/x"}}
    big = 1536 * 2**20
    for label, length in (("with", True), ("without", False)):
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/pdf\r\n" + \
            (f"Content-Length: {big}\r\n" if length else "").encode() + b"\r\n" + doc
        url, state = serve(head, big, b"\0")
        row(f"download 36 KB declared, 1.5 GB served ({label} length)", child(url, "download", task), state["sent"],
            "refused, RSS + a few MB (before: 3.2 GB)")
    huge = 400 * 2**20
    for label, length in (("with", True), ("without", False)):
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n" + \
            (f"Content-Length: {huge}\r\n" if length else "").encode() + b"\r\n"
        url, state = serve(head, huge, b"[1,")
        row(f"JSON answer of 400 MB ({label} length)", child(url, "info"), state["sent"],
            "refused, RSS + ≤ 16 MiB bound (before: 880 MB)")
    if not args.skip_drip:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: " + b"a" * 1000
        url, state = serve(head, 0, b"", drip_s=args.drip_s)
        row(f"server dripping a byte every {args.drip_s:g} s", child(url, "info"), state["sent"],
            "timed out by the 45 s call deadline (before: > 90 s)")

    from zhenglian import safejson

    for name, data in (("[] × 8 M", b"[]" * 8 * 2**20), ("depth-31 blocks, 16 MiB", (b"[" * 31 + b"]" * 31) * 270000),
                       ("[ × 16 Mi", b"[" * 16 * 2**20)):
        t0 = time.perf_counter()
        try:
            safejson.check_depth(data)
            outcome = "within bound"
        except safejson.JsonTooDeep:
            outcome = "too deep"
        print(f"nesting check {name:34s} {outcome:14s} {time.perf_counter() - t0:6.2f} s   target: < 2 s for 16 MiB")


if __name__ == "__main__":
    main()
