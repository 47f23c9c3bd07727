"""``zhenglian verify FILE.pdf``: every signature — who, which seal, when, intact, trusted, changed since.

Exit code 0 when the document has signatures and every one is valid (intact,
cryptographically right, trusted, no disallowed change after it);
11 (document) otherwise, so scripts can rely on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zhenglian import errors
from zhenglian.cli.output import line, print_json
from zhenglian.config import Settings

COVERAGE_ZH = {"entire_file": "签名覆盖整个文件，之后未改动",
               "entire_revision": "签名后文件有追加修订", "partial": "签名未覆盖完整修订"}
LEVEL_ZH = {"none": "无改动", "lta_updates": "仅追加验证数据/时间戳", "form_filling": "仅追加签名或填写表单",
            "annotations": "追加了批注", "other": "内容被改动（不允许）"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", parents=[common], help="验证 PDF 中的签名 / verify the signatures in a PDF")
    p.add_argument("file", metavar="FILE.pdf")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.add_argument("--trust", action="append", default=[], metavar="PEM",
                   help="另外信任的根证书文件（可重复）/ extra trusted root certificate file (repeatable)")
    p.add_argument("--password-stdin", action="store_true",
                   help="从标准输入读文档密码 / read the document password from stdin")
    p.set_defaults(func=run)


def _fmt(v: object) -> str:
    return "-" if v is None else str(v)


def run(args: argparse.Namespace) -> int:
    from zhenglian.pdf.verify import REASON_TEXT, STATE_TEXT, default_trust, verify_pdf

    password = None
    if args.password_stdin:
        from zhenglian.cli.cmd_pin import read_stdin_line

        buf = read_stdin_line("文档密码", "document password")
        try:
            password = buf.text()
        finally:
            buf.wipe()
    settings = Settings.load()
    roots = default_trust(demo=settings.demo, extra=[Path(p) for p in args.trust])
    reports = verify_pdf(Path(args.file), roots, password=password)
    ok = bool(reports) and all(r.status == "valid" for r in reports)
    if args.json:
        print_json({"file": args.file, "valid": ok, "trusted_roots": len(roots),
                    "signatures": [r.to_dict() for r in reports]})
        return 0 if ok else errors.ExitCode.DOCUMENT
    if not reports:
        line("文件中没有签名 / the document has no signatures")
        return errors.ExitCode.DOCUMENT
    for i, r in enumerate(reports, 1):
        state, why = r.judgement()
        zh, en = STATE_TEXT[state]
        line(f"签名 {i} / signature {i}: {r.field}  —  {zh} / {en}")
        if why is not None:
            line(f"  原因 why: {REASON_TEXT[why][0]} / {REASON_TEXT[why][1]} ({why.value})")
        line(f"  印章 seal: {_fmt(r.seal_name)}")
        line(f"  单位 organisation: {_fmt(r.organization)}   统一社会信用代码 USCC: {_fmt(r.uscc)}")
        line(f"  颁发者 issuer: {_fmt(r.issuer)}")
        line(f"  算法 algorithm: {_fmt(r.algorithm)}")
        line(f"  签名时间 signing time (signer's clock): {_fmt(r.signing_time)}")
        if r.timestamp is not None:
            ts_state = "有效且受信任 valid, trusted" if r.timestamp_valid and r.timestamp_trusted else \
                ("有效但不受信任 valid, untrusted" if r.timestamp_valid else "无效 INVALID")
            line(f"  时间戳 timestamp: {r.timestamp}（{ts_state}）")
        else:
            line("  时间戳 timestamp: 无 / none")
        line(f"  完整性 integrity: {'完好 intact' if r.intact and r.valid else '损坏 BROKEN'}")
        trust = "受信任 trusted" if r.trusted else f"不受信任 NOT trusted ({_fmt(r.trust_problem)})"
        line(f"  信任 trust: {trust}")
        level = r.modification_level or "unknown"
        line(f"  签名后改动 changes after signing: {COVERAGE_ZH.get(r.coverage, r.coverage)}；"
             f"{LEVEL_ZH.get(level, level)} / {level}")
        if r.certification is not None:
            line(f"  认证签名 certification: DocMDP P={r.certification}")
        for s in r.spots:
            line(f"  位置 shown on page {s['page']}: ({s['x_mm']}, {s['y_mm']}) mm, {s['width_mm']}×{s['height_mm']} mm")
    line(f"结论 / result: {'全部有效 all valid' if ok else '存在问题 NOT all valid'}")
    return 0 if ok else errors.ExitCode.DOCUMENT
