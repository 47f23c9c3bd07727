"""The reference server's CPU, piece by piece (issue 19): what one task costs the server.

    .venv/bin/python benchmarks/server_cpu_bench.py [--tasks 30] [--requests 300]

- check: ``check_signed_upload`` in this process on uploads a real batch made (soft token,
  RSA), and on SM2 uploads (the software SM2 key and the demo SM2 CA), CPU per upload;
- requests: a running server (uvicorn, as ``zhenglian-server run``), its CPU from ``/proc``
  per request: ``GET task``, ``GET document``, an upload answered as a duplicate (the HTTP
  work of an upload without the check) and a new upload (everything: check, file, record).

A task of a batch is one ``GET task``, one ``GET document`` and one new upload.  CPU time,
which a loaded machine blurs far less than wall time; the load average is printed.  The
script reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_bench as sb  # noqa: E402 - the same set-up as the speed benchmark


def _signed_batch(base: Path, n: int) -> tuple[Any, list[str]]:
    """A server whose ``n`` tasks a soft-token batch has signed and uploaded (server stopped)."""
    from zhenglian.services import Context
    from zhenglian.tasks import batch
    from zhenglian.tasks.outbox import Outbox
    from zhenglian.tokens.secret import PinBuffer

    spec, server, ids = sb._tasks_setup(base, "BENCH-SRV", n)
    try:
        ctx = Context.create()
        key = ctx.tokens.find_key(spec.label)
        result = batch.sign_tasks(sb._session(server, key), ctx.tokens.handle(key), PinBuffer(spec.user_pin), ids,
                                  Outbox(base / "outbox"), upload_wait_s=120)
        assert result.ok
    finally:
        server.stop()
    return server, ids


def _per_upload(check: Callable[[bytes, bytes], Any], pairs: list[tuple[bytes, bytes]]) -> float:
    """CPU per upload, each upload checked once (as a server sees them), after one warm-up upload."""
    from zhenglian.memo import BoundedMemo
    from zhenglian.pki import namecmp, sm2validate

    memos = [m for m in (*vars(namecmp).values(), *vars(sm2validate).values()) if isinstance(m, BoundedMemo)]
    for memo in memos:
        memo.clear()  # nothing left from the client's own signing in this process
    check(*pairs[0])
    c = time.process_time()
    for data, original in pairs[1:]:
        check(data, original)
    return 1000 * (time.process_time() - c) / (len(pairs) - 1)


def check_rsa(server: Any, ids: list[str]) -> None:
    from zhenglian.reference.server.checks import check_signed_upload
    from zhenglian.reference.server.pki import TrustStore

    trust = TrustStore(server.store)
    tasks = [server.store.task(i) for i in ids]
    pairs = [(server.store.read_file(t.signed_sha256), server.store.read_file(t.doc_sha256)) for t in tasks]
    per = _per_upload(lambda data, original: check_signed_upload(data, original, tasks[0].uscc, trust), pairs)
    print(f"  check_signed_upload, RSA (soft token): {per:.1f} ms CPU per upload ({len(pairs) - 1} uploads)")


def check_sm2(base: Path, n: int) -> None:
    sys.path.insert(0, str(sb.ROOT / "tests"))
    from helpers.pdf import PageSpec, make_pdf
    from helpers.sm2pdf import SoftSM2Signer, sign_pdf_sm2

    from zhenglian.reference import democa, provision
    from zhenglian.reference.server.checks import check_signed_upload
    from zhenglian.reference.server.config import ServerConfig
    from zhenglian.reference.server.pki import TrustStore
    from zhenglian.reference.server.seed import trust_demo_cas
    from zhenglian.reference.server.store import Store

    store = Store(ServerConfig(base / "sm2db"))
    trust_demo_cas(store)
    trust = TrustStore(store)
    ca = democa.load_or_create_sm2("gdca")
    spec = provision.DEMO_KEYS[2]
    pair = ca.issue_sm2_pair(provision.subject_for(spec), encryption=False)
    pairs = []
    for i in range(n):
        src = base / f"sm2-{i}.pdf"
        original = make_pdf(src, [PageSpec()])
        signed = sign_pdf_sm2(src, base / f"sm2-{i}-signed.pdf",
                              SoftSM2Signer(pair.sign_key, pair.sign_cert, ca.chain), box=(100, 100, 220, 220))
        pairs.append((signed.read_bytes(), original))
    per = _per_upload(lambda data, original: check_signed_upload(data, original, spec.uscc, trust), pairs)
    print(f"  check_signed_upload, SM2 (software key, demo SM2 CA): {per:.1f} ms CPU per upload ({n - 1} uploads)")


def requests(data: Path, ids: list[str], n: int) -> None:
    import httpx
    from helpers.server import RunningServer, free_port

    server = RunningServer(data, free_port()).start()
    try:
        store = server.store
        token = secrets.token_urlsafe(32)
        store.add_session(token, store.task(ids[0]).uscc, "0" * 64, int(time.time()) + 3600)
        signed = {i: store.read_file(store.task(i).signed_sha256) for i in ids}
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        pid = server.proc.pid
        assert pid is not None

        def measure(label: str, call: Callable[[str], Any], count: int) -> float:
            call(ids[0])
            s0 = sb._cpu_seconds(pid)
            for k in range(count):
                call(ids[k % len(ids)]).raise_for_status()
            per = 1000 * (sb._cpu_seconds(pid) - s0) / count
            print(f"  {label:<34} {per:5.2f} ms server CPU per request")
            return per

        task = measure("GET task", lambda i: client.get(f"/api/v1/tasks/{i}"), n)
        doc = measure("GET document", lambda i: client.get(f"/api/v1/tasks/{i}/document"), n)
        measure("PUT, answered as a duplicate", lambda i: client.put(f"/api/v1/tasks/{i}/signed", content=signed[i]), n)

        def reset() -> None:
            with store.tx() as db:
                db.execute("UPDATE tasks SET status = 'pending', signed_sha256 = NULL, signed_at = NULL, "
                           "signer_sha256 = NULL")
                db.execute("DELETE FROM uploads")

        reset()
        first = ids[0]  # warm-up: the server's first check imports pyHanko's validation
        client.put(f"/api/v1/tasks/{first}/signed", content=signed[first]).raise_for_status()
        s0 = sb._cpu_seconds(pid)
        for i in ids[1:]:  # each upload once, as in a batch
            r = client.put(f"/api/v1/tasks/{i}/signed", content=signed[i])
            r.raise_for_status()
            assert not r.json()["duplicate"]
        upload = 1000 * (sb._cpu_seconds(pid) - s0) / (len(ids) - 1)
        print(f"  {'PUT, a new upload (check included)':<34} {upload:5.2f} ms server CPU per request")
        print(f"  one task (GET task + GET document + new upload): ≈ {task + doc + upload:.1f} ms server CPU")
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="zhenglian-servercpu-"))
    try:
        print(f"reference server CPU — load average {sb._load()}")
        server, ids = _signed_batch(base, args.tasks)
        check_rsa(server, ids)
        check_sm2(base, 9)
        requests(server.data, ids, args.requests)
        print(f"load average at the end {sb._load()}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
