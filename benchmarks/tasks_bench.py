"""Tasks per second: 100 one-page tasks fetched, signed and uploaded end to end,
beside signing alone (the same documents, same key session) in the same run.

Runs the real reference server (uvicorn, SQLite) in a child process on a free
port, and a private SoftHSM with the SZCA demo key — nothing of the user's is
touched.  Usage::

    .venv/bin/python benchmarks/tasks_bench.py [--tasks 100]

Output: one line per measurement, then a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="zhenglian-tasks-bench-"))
    os.environ["ZHENGLIAN_HOME"] = str(run_dir / "home")
    (run_dir / "home").mkdir()
    from zhenglian.reference import provision, softhsm

    conf = softhsm.write_conf(run_dir / "softhsm" / "softhsm2.conf")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    spec = provision.DEMO_KEYS[1]  # SZCA-DEMO: 公章 + 合同专用章
    provision.provision_key(spec, conf)

    from helpers.server import start_server

    from zhenglian.server.api import ServerClient
    from zhenglian.server.session import ServerSession
    from zhenglian.server.tokenstore import TokenStore
    from zhenglian.services import Context
    from zhenglian.tasks import batch, sealpick
    from zhenglian.tasks.outbox import Outbox
    from zhenglian.tasks.pipeline import open_task_signer
    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens.secret import PinBuffer

    server = start_server(run_dir / "server")
    try:
        t = time.perf_counter()
        ids = server.add_tasks(spec.uscc, spec.organization, args.tasks, kinds=("委托扣款授权书",),
                               seal_type="合同专用章")
        print(f"set-up: {args.tasks} one-page tasks made in {time.perf_counter() - t:.1f} s", flush=True)
        ctx = Context.create()
        key = ctx.tokens.find_key(spec.label)
        h = ctx.tokens.handle(key)
        session = ServerSession(ServerClient(server.url), key, TokenStore(use_keyring=False))

        # 1. Signing alone: the same documents, already in memory, one key session.
        with pinops.user_session(h, PinBuffer(spec.user_pin)) as p11:
            session.login(p11)
            tasks = [session.client.task(i) for i in ids]
            docs = [session.client.download(task) for task in tasks]
            seals = sealpick.usable_seals(p11, key.signing_certificate().info.der)
            with open_task_signer(h, p11) as signer:
                seal = sealpick.pick(seals, tasks[0])
                signer.sign(docs[0], tasks[0], seal)  # warm-up (imports, first encode)
                t = time.perf_counter()
                for task, doc in zip(tasks, docs, strict=True):
                    signer.sign(doc, task, seal)
                sign_only = time.perf_counter() - t
        print(f"signing alone (sign + local verify): {args.tasks} in {sign_only:.2f} s = "
              f"{args.tasks / sign_only:.1f} tasks/s", flush=True)

        # 2. End to end: fetch, check, sign, verify, queue, upload, server checks, confirmed.
        outbox = Outbox(run_dir / "outbox")
        t = time.perf_counter()
        result = batch.sign_tasks(session, h, PinBuffer(spec.user_pin), ids, outbox,
                                  upload_wait_s=120)
        end_to_end = time.perf_counter() - t
        confirmed = sum(1 for tid in ids if server.store.task(tid).status == "signed")
        print(f"end to end (fetch, sign, upload, server-validated): {confirmed}/{args.tasks} confirmed in "
              f"{end_to_end:.2f} s = {confirmed / end_to_end:.1f} tasks/s", flush=True)
        print(json.dumps({
            "tasks": args.tasks, "cpu_count": os.cpu_count(),
            "sign_only_s": round(sign_only, 3), "sign_only_tasks_per_s": round(args.tasks / sign_only, 2),
            "end_to_end_s": round(end_to_end, 3), "end_to_end_tasks_per_s": round(confirmed / end_to_end, 2),
            "confirmed": confirmed, "batch_ok": result.ok,
        }, ensure_ascii=False))
        return 0 if result.ok and confirmed == args.tasks else 1
    finally:
        server.stop()
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
