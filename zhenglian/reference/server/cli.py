"""``zhenglian-server``: run the reference signing server and administer it.

Admin commands work on the data directory directly (SQLite in WAL mode), so
they can be used while the server runs; the server sees new tasks at once
(long-poll clients are woken by the new events).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from zhenglian.reference.server.config import ServerConfig


def _config(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        data_dir=Path(args.data).expanduser(),
        db_path=Path(args.db).expanduser() if getattr(args, "db", None) else None,
        origin=getattr(args, "origin", "") or "",
        token_ttl_s=getattr(args, "token_ttl", 1800),
        max_upload_bytes=int(getattr(args, "max_upload_mb", 50) * 1024 * 1024),
        max_wait_s=getattr(args, "max_wait", 25.0),
    )


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from zhenglian.reference.server.store import Store

    return Store(_config(args))


def _print(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


# --- commands ----------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from zhenglian.reference.server.app import create_app

    app = create_app(_config(args))
    ssl = {}
    if args.tls_cert:
        ssl = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=2,
                **ssl)
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from zhenglian.reference.server.app import create_app

    _print(create_app(_config(args)).openapi())
    return 0


def cmd_institution(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "add":
        from zhenglian.pki import uscc

        if not uscc.is_valid(args.uscc):
            print(f"统一社会信用代码无效 / invalid USCC: {args.uscc}", file=sys.stderr)
            return 2
        store.add_institution(args.uscc, args.name)
    _print([dict(r) for r in store.institutions()])
    return 0


def cmd_ca(args: argparse.Namespace) -> int:
    from zhenglian.reference.server.pki import load_certs

    store = _store(args)
    if args.action == "add":
        for cert in load_certs(Path(args.file).read_bytes()):
            kind = "intermediate" if args.intermediate else "root"
            store.add_ca(cert.dump(), cert.subject.human_friendly, kind)
    if args.action == "remove" and not store.remove_ca(args.sha256.lower()):
        print(f"没有该 CA / no such CA: {args.sha256}", file=sys.stderr)
        return 2
    _print([{"sha256": r["sha256"], "subject": r["subject"], "kind": r["kind"]} for r in store.cas()])
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "add":
        if store.institution(args.institution) is None:
            print(f"机构未登记 / unknown institution: {args.institution}", file=sys.stderr)
            return 2
        if args.png:
            png = Path(args.png).read_bytes()
        else:
            from zhenglian.seals import render

            inst = store.institution(args.institution)
            png = render.render_seal_png(inst["name"], args.type, diameter_mm=args.width_mm)
        store.add_seal(args.institution, args.name or args.type, args.type, png, args.width_mm,
                       args.height_mm or args.width_mm)
    _print([{k: r[k] for k in ("id", "uscc", "name", "seal_type", "width_mm", "height_mm")}
            for r in store.seals(getattr(args, "institution", None))])
    return 0


def _task_row(store, t) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"id": t.id, "institution": t.uscc, "title": t.title, "status": t.status,
            "seal_type": t.seal_type, "placement": t.placement, "doc_sha256": t.doc_sha256,
            "signed_sha256": t.signed_sha256, "uploads": len(store.uploads(t.id)),
            "reject_reason": t.reject_reason}


def cmd_task(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "add":
        if store.institution(args.institution) is None:
            print(f"机构未登记 / unknown institution: {args.institution}", file=sys.stderr)
            return 2
        data = Path(args.file).read_bytes()
        if not data.startswith(b"%PDF-"):
            print(f"不是 PDF / not a PDF: {args.file}", file=sys.stderr)
            return 2
        placement: dict[str, object] = {"page": args.page}
        if args.x_mm is not None and args.y_mm is not None:
            placement.update(x_mm=args.x_mm, y_mm=args.y_mm)
        if args.anchor:
            placement["anchor_text"] = args.anchor
        if args.cross_page:
            placement["cross_page"] = True
        if args.certify:
            placement["certify"] = True
        task_id = store.add_task(args.institution, args.title or Path(args.file).stem, args.business_type,
                                 data, Path(args.file).name, args.seal_type, placement, args.deadline)
        _print(_task_row(store, store.task(task_id)))
        return 0
    _print([_task_row(store, t) for t in store.tasks(args.institution, args.status)])
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    _store(args).reset(everything=args.all)
    print("已清空 / reset done")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    from zhenglian.reference.server.app import FAULTS

    store = _store(args)
    if args.action == "set":
        if args.mode.partition(":")[0] not in FAULTS:
            print(f"未知故障 / unknown fault: {args.mode} (one of {', '.join(FAULTS)})", file=sys.stderr)
            return 2
        store.set_meta("fault", args.mode)
    else:
        store.set_meta("fault", "")
    print(store.get_meta("fault") or "(none)")
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from zhenglian.reference.server.seed import demo_seed

    store = _store(args)
    made = demo_seed(store, args.tasks)
    _print({"institutions": [dict(r) for r in store.institutions()],
            "tasks": {uscc: len(ids) for uscc, ids in made.items()},
            "trusted_roots": [r["subject"] for r in store.cas("root")]})
    return 0


# --- parser ------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", required=True, metavar="DIR", help="服务器数据目录 / server data directory")
    data.add_argument("--db", metavar="FILE", help="SQLite 文件（默认 DIR/server.sqlite3）/ SQLite file")
    p = argparse.ArgumentParser(prog="zhenglian-server",
                                description="证联参考签署服务器 / zhenglian reference signing server")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", parents=[data], help="启动服务器 / run the server")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8765)
    r.add_argument("--origin", default="", help="对外地址 / public origin, e.g. https://sign.example.org")
    r.add_argument("--token-ttl", type=int, default=1800, help="登录有效秒数 / token lifetime (s)")
    r.add_argument("--max-upload-mb", type=float, default=50)
    r.add_argument("--max-wait", type=float, default=25.0, help="长轮询上限秒数 / long-poll bound (s)")
    r.add_argument("--tls-cert", help="TLS 证书 PEM / TLS certificate (PEM)")
    r.add_argument("--tls-key", help="TLS 私钥 PEM / TLS key (PEM)")
    r.add_argument("--log-level", default="warning")
    r.set_defaults(func=cmd_run)

    o = sub.add_parser("openapi", parents=[data], help="打印 OpenAPI / print the OpenAPI document")
    o.set_defaults(func=cmd_openapi)

    i = sub.add_parser("institution", help="机构 / institutions")
    ia = i.add_subparsers(dest="action", required=True)
    x = ia.add_parser("add", parents=[data])
    x.add_argument("--uscc", required=True)
    x.add_argument("--name", required=True)
    ia.add_parser("list", parents=[data])
    i.set_defaults(func=cmd_institution)

    c = sub.add_parser("ca", help="信任的 CA / trusted CAs")
    ca = c.add_subparsers(dest="action", required=True)
    x = ca.add_parser("add", parents=[data])
    x.add_argument("file", help="PEM 或 DER 证书 / PEM or DER certificate(s)")
    x.add_argument("--intermediate", action="store_true", help="中间 CA（非根）/ an intermediate, not a root")
    x = ca.add_parser("remove", parents=[data])
    x.add_argument("sha256", help="证书 SHA-256（见 ca list）/ the certificate's SHA-256 (see ca list)")
    ca.add_parser("list", parents=[data])
    c.set_defaults(func=cmd_ca)

    s = sub.add_parser("seal", help="机构印章（集中式用章）/ institution seals")
    sa = s.add_subparsers(dest="action", required=True)
    x = sa.add_parser("add", parents=[data])
    x.add_argument("--institution", required=True, metavar="USCC")
    x.add_argument("--type", default="公章", help="印章类型 / seal type")
    x.add_argument("--name", default="")
    x.add_argument("--png", help="印章图片（缺省则绘制）/ picture (drawn when omitted)")
    x.add_argument("--width-mm", type=float, default=42.0)
    x.add_argument("--height-mm", type=float, default=None)
    x = sa.add_parser("list", parents=[data])
    x.add_argument("--institution", metavar="USCC")
    s.set_defaults(func=cmd_seal)

    t = sub.add_parser("task", help="签署任务 / signing tasks")
    ta = t.add_subparsers(dest="action", required=True)
    x = ta.add_parser("add", parents=[data])
    x.add_argument("--institution", required=True, metavar="USCC")
    x.add_argument("--file", required=True, metavar="PDF")
    x.add_argument("--title", default="")
    x.add_argument("--business-type", default="公积金贷款")
    x.add_argument("--seal-type", default="合同专用章")
    x.add_argument("--deadline", default=None, help="YYYY-MM-DD")
    x.add_argument("--page", type=int, default=-1, help="页码（从 1 起，负数从末页倒数）/ page (1-based; -1 last)")
    x.add_argument("--x-mm", type=float, help="印章中心距左边 mm / seal centre from the left (mm)")
    x.add_argument("--y-mm", type=float, help="印章中心距上边 mm / seal centre from the top (mm)")
    x.add_argument("--anchor", help="关键字定位，如 甲方（盖章）/ anchor text")
    x.add_argument("--cross-page", action="store_true", help="加盖骑缝章 / add a cross-page seal")
    x.add_argument("--certify", action="store_true", help="认证签名 / certification signature")
    x = ta.add_parser("list", parents=[data])
    x.add_argument("--institution", metavar="USCC")
    x.add_argument("--status", choices=("pending", "signed", "rejected"))
    t.set_defaults(func=cmd_task)

    x = sub.add_parser("reset", parents=[data], help="清空任务 / forget tasks")
    x.add_argument("--all", action="store_true", help="连同机构、CA、印章 / institutions, CAs and seals too")
    x.set_defaults(func=cmd_reset)

    f = sub.add_parser("fault", help="故障注入（测试）/ fault injection for tests")
    fa = f.add_subparsers(dest="action", required=True)
    x = fa.add_parser("set", parents=[data])
    x.add_argument("mode", help="500 | upload-500 | upload-commit-500 | garbage | slow[:SECONDS]")
    fa.add_parser("clear", parents=[data])
    f.set_defaults(func=cmd_fault)

    d = sub.add_parser("demo-seed", parents=[data], help="演示数据 / demo CAs, institutions and tasks")
    d.add_argument("--tasks", type=int, default=4, help="每个机构的任务数 / tasks per institution")
    d.set_defaults(func=cmd_demo_seed)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FileNotFoundError as exc:
        print(f"找不到文件 / file not found: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
