"""``zhenglian register list|verify|export``: the seal-use register (用印登记, docs/register.md).

``verify`` exits 0 when the chain is whole (and, with ``--expect N:HASH``, entry
N still has the hash printed on a report), 13 (register) otherwise.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from zhenglian import errors
from zhenglian.cli.output import line, print_json


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("register", parents=[common], help="用印登记 / the seal-use register")
    p.set_defaults(func=lambda args: _usage(p))
    s = p.add_subparsers(dest="register_command", metavar="COMMAND")

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--file", type=Path, default=None, metavar="PATH",
                       help="登记文件（默认在数据目录）/ register file (default: in the data directory)")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="起始日期（含）/ from this date (inclusive)")
    filters.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="截止日期（含）/ up to this date (inclusive)")
    filters.add_argument("--key", metavar="SERIAL", help="UKey 序列号 / key serial")
    filters.add_argument("--seal", metavar="NAME|ID", help="印章名称或编号 / seal name or id")
    filters.add_argument("--outcome", choices=("signed", "refused", "cancelled", "failed"),
                         help="结果 / outcome")

    ls = s.add_parser("list", parents=[common, where, filters], help="列出登记 / list entries")
    ls.add_argument("--limit", type=int, metavar="N", help="最多 N 条 / at most N entries")
    ls.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    ls.set_defaults(func=run_list)

    vf = s.add_parser("verify", parents=[common, where], help="核对登记链 / check the chain")
    vf.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    vf.add_argument("--expect", type=_expect, metavar="N:HASH",
                    help="核对打印报告上的序号与哈希 / check the entry number and hash printed on a report")
    vf.set_defaults(func=run_verify)

    ex = s.add_parser("export", parents=[common, where, filters], help="导出 CSV 或 PDF 报告 / export CSV or a PDF report")
    out = ex.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", type=Path, metavar="FILE", help="CSV 文件 / CSV file")
    out.add_argument("--pdf", type=Path, metavar="FILE", help="可打印的 PDF 报告 / printable PDF report")
    ex.add_argument("--org", help="机构名称（默认取自登记）/ institution name (default: from the entries)")
    ex.add_argument("--uscc", help="统一社会信用代码（默认取自登记）/ USCC (default: from the entries)")
    ex.set_defaults(func=run_export)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return errors.ExitCode.USAGE


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD / a date is YYYY-MM-DD: {text!r}") from None


def _expect(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    digest = digest.strip().lower().replace(" ", "")
    if not seq.strip().isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise argparse.ArgumentTypeError(f"应为 序号:64位哈希 / expected N:64-hex-hash: {text!r}")
    return int(seq), digest


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from zhenglian.register import Register

    return Register.open(args.file)


def _filters(args: argparse.Namespace, limit: int | None = None):  # type: ignore[no-untyped-def]
    from zhenglian.register import Filters

    if args.since and args.until and args.since > args.until:
        raise errors.UsageError(detail="--since 晚于 --until / --since is after --until")
    return Filters(since=args.since, until=args.until, key_serial=args.key, seal=args.seal,
                   outcome=args.outcome, limit=limit)


def run_list(args: argparse.Namespace) -> int:
    from zhenglian.register.export import ORIGIN_ZH, OUTCOME_ZH, totals_dict

    with _open(args) as reg, reg.snapshot():
        entries = reg.list(_filters(args, args.limit))
        head = reg.head()
    sums = totals_dict(entries)
    if args.json:
        print_json({"register": str(reg.path), "head": {"seq": head.seq, "hash": head.hash},
                    "entries": [e.to_dict() for e in entries], "totals": sums})
        return 0
    if not entries:
        line("没有符合条件的登记 / no matching entries")
    for e in entries:
        u = e.use
        if u is None:
            line(f"#{e.seq}  （条目已损坏 / damaged entry）")
            continue
        line(f"#{e.seq}  {u.time_local.replace('T', ' ')[:19]}  {OUTCOME_ZH[u.outcome]} {u.outcome}  "
             f"{u.seal_name or '-'}  {u.document_name}  {u.key_ca} {u.key_serial}  "
             f"{ORIGIN_ZH[u.origin]} {u.task_id or u.web_origin or u.local_path}".rstrip())
    line()
    for s in sums["seals"]:
        line(f"{s['seal_name'] or '-'}: 已签署 signed {s['signed']}, 已拒绝 refused {s['refused']}, "
             f"已取消 cancelled {s['cancelled']}, 失败 failed {s['failed']}, 合计 total {s['total']}")
    line(f"共 {sums['all']['total']} 条 / {sums['all']['total']} entries; "
         f"链头 head #{head.seq} {head.hash}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        report = reg.verify()
        expected = None
        if args.expect:
            seq, digest = args.expect
            entry = reg.entry(seq)
            expected = {"seq": seq, "hash": digest, "matches": bool(entry and entry.hash == digest)}
    ok = report.ok and (expected is None or expected["matches"])
    if args.json:
        print_json({**report.to_dict(), "ok": ok, "expect": expected})
        return 0 if ok else errors.ExitCode.REGISTER
    line(f"登记文件 / register: {report.path}")
    line(f"共 {report.entries} 条，链头第 {report.head_seq} 条 / {report.entries} entries, head #{report.head_seq}")
    line(f"链头哈希 / head hash: {report.head_hash}")
    if not report.database_ok:
        line("数据库文件完整性检查未通过 / the database file failed its integrity check")
    for problem in sorted(report.problems, key=lambda p: p.seq):
        line(f"  ✗ {problem.text_zh()} / {problem.text_en()}")
    for a in report.anchors:
        zh = {"good": "UKey 签名有效", "bad": "UKey 签名无效", "mismatch": "与链不符"}[a.result]
        line(f"  锚定 anchor #{a.id}: 第 {a.seq} 条 entry {a.seq}, {a.time_utc}, {a.algorithm}: {zh} / {a.result}")
    if expected is not None:
        if expected["matches"]:
            line(f"打印报告的第 {expected['seq']} 条与本机登记一致 / entry {expected['seq']} matches the printed report")
        else:
            line(f"✗ 打印报告的第 {expected['seq']} 条与本机登记不一致 / "
                 f"entry {expected['seq']} does NOT match the printed report")
    if report.ok:
        line("登记链完整 / the chain is intact")
    first = report.first_problem()
    if first is not None:
        line(first.error().user_message())
    return 0 if ok else errors.ExitCode.REGISTER


def run_export(args: argparse.Namespace) -> int:
    from zhenglian.register import export

    with _open(args) as reg:
        if args.csv:
            count = export.export_csv(reg, _filters(args), args.csv)
            line(f"已导出 {count} 条到 {args.csv} / exported {count} entries to {args.csv}")
            return 0
        count, chain_ok = export.export_pdf(reg, _filters(args), args.pdf, args.org, args.uscc)
    line(f"已生成用印登记报告 {args.pdf}（{count} 条）/ wrote the register report {args.pdf} ({count} entries)")
    if not chain_ok:
        line("注意：登记链未通过核对，报告中已注明 / note: the chain failed its check; the report says so")
    return 0
