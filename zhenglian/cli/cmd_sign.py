"""``zhenglian sign``: stamp and sign PDFs with the key's seal.

Order of work, so the PIN is asked only when signing can succeed:

1. the document password (``--password-stdin``: the first line of stdin);
2. find the key, check its certificate's validity;
3. pick the seal (the key's seals by ``--seal``, else a round seal drawn
   from the certificate's organisation name);
4. open and check every input and resolve every placement — any refusal
   stops here, before the PIN;
5. the PIN state: locked → refused with the CA's unlock route; final try →
   needs ``--confirm-final-try``;
6. the PIN (terminal without echo, or the next stdin line with ``--pin-stdin``);
7. one login, one session, the seal encoded once: every document is signed,
   each written atomically.
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from zhenglian import errors
from zhenglian.cli.output import err, line, print_json
from zhenglian.pdf import placement as pl
from zhenglian.pdf import sealchoice
from zhenglian.pdf.sign import SignResult
from zhenglian.services import Context
from zhenglian.tokens.secret import PinBuffer


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sign", parents=[common], help="在 PDF 上盖章并签名 / stamp and sign PDFs",
                       description="位置以毫米计，原点为页面可见区域（裁剪框，按页面旋转后）的左上角，x 向右，y 向下，"
                                   "坐标为印章中心。/ Positions are in mm from the top-left corner of the visible page "
                                   "(crop box, as rotated for display), x right, y down, giving the seal's centre.")
    p.add_argument("inputs", nargs="+", metavar="IN.pdf", help="待签文件 / documents to sign")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="OUT.pdf", help="输出文件（单个输入）/ output file (one input)")
    out.add_argument("--out-dir", metavar="DIR", help="输出目录（批量，同名）/ output folder (batch, same names)")
    p.add_argument("--key", metavar="SERIAL", help="UKey 序列号或标签 / key serial or label")
    p.add_argument("--seal", metavar="NAME", help="印章名称（默认第一个）/ seal name (default: the first)")
    p.add_argument("--page", type=int, action="append", default=[], metavar="N", help="页码（从 1 起）/ page (from 1)")
    p.add_argument("--at", action="append", default=[], metavar="X,Y", help="印章中心（毫米）/ seal centre in mm")
    p.add_argument("--anchor", action="append", default=[], metavar="TEXT",
                   help="以文字定位，如 “（盖章）” / centre the seal on this text")
    p.add_argument("--match", metavar="N|all", help="第 N 处或全部 / the N-th occurrence, or all")
    p.add_argument("--field", action="append", default=[], metavar="NAME", help="已有签名域 / existing signature field")
    p.add_argument("--cross-page", action="store_true", help="加盖骑缝章 / add a cross-page seal")
    p.add_argument("--pages", metavar="A-B", help="骑缝章页范围（默认全部）/ cross-page range (default: all)")
    p.add_argument("--cross-y", type=float, metavar="MM", help="骑缝章中心距页顶（毫米）/ its centre from the top (mm)")
    p.add_argument("--certify", action="store_true", help="认证签名并锁定文档 / certify and lock the document")
    p.add_argument("--timestamp", metavar="URL", help="RFC 3161 时间戳服务器 / timestamp server")
    p.add_argument("--pin-stdin", action="store_true", help="从标准输入读 PIN（一行）/ read the PIN from stdin")
    p.add_argument("--password-stdin", action="store_true",
                   help="从标准输入读文档密码（第一行）/ read the document password from stdin (first line)")
    p.add_argument("--confirm-final-try", action="store_true",
                   help="确认使用最后一次 PIN 尝试 / confirm using the last PIN try")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.set_defaults(func=run)


# --- arguments ---------------------------------------------------------------

def _parse_at(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.replace("，", ",").split(","))
    except ValueError:
        raise errors.UsageError(detail=f"--at 应为 X,Y（毫米）/ --at takes X,Y in mm, not {text!r}") from None
    return x, y


def _parse_match(text: str | None) -> int | str | None:
    if text is None:
        return None
    if text.strip().lower() == "all":
        return pl.ALL
    try:
        n = int(text)
    except ValueError:
        raise errors.UsageError(detail="--match 应为正整数或 all / --match takes N or all") from None
    if n < 1:
        raise errors.UsageError(detail="--match 从 1 起 / --match counts from 1")
    return n


def _parse_range(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    parts = text.replace("–", "-").split("-")
    try:
        if len(parts) == 1:
            a = int(parts[0])
            return a, a
        a_s, b_s = parts
        return (int(a_s) if a_s else None), (int(b_s) if b_s else None)
    except ValueError:
        raise errors.UsageError(detail=f"--pages 应为 A-B / --pages takes A-B, not {text!r}") from None


def placements_from(args: argparse.Namespace) -> tuple[list[pl.Placement], pl.CrossPage | None]:
    """Placement requests from the command line (the same types the GUI builds)."""
    out: list[pl.Placement] = []
    ats = [_parse_at(a) for a in args.at]
    pages = list(args.page)
    if ats:
        if not pages:
            raise errors.UsageError(detail="--at 需要 --page / --at needs --page")
        if len(pages) == 1:
            pages = pages * len(ats)
        if len(pages) != len(ats):
            raise errors.UsageError(detail="--page 与 --at 数量不符 / give one --page per --at (or one for all)")
        out += [pl.AtPosition(p, x, y) for p, (x, y) in zip(pages, ats, strict=True)]
    elif pages:
        raise errors.UsageError(detail="--page 需要 --at / --page needs --at X,Y")
    match = _parse_match(args.match)
    if match is not None and not args.anchor:
        raise errors.UsageError(detail="--match 只用于 --anchor / --match goes with --anchor")
    out += [pl.AtAnchor(text, match) for text in args.anchor]
    out += [pl.InField(name) for name in args.field]
    cross = None
    if args.cross_page:
        first, last = _parse_range(args.pages)
        cross = pl.CrossPage(first, last, args.cross_y)
    elif args.pages or args.cross_y is not None:
        raise errors.UsageError(detail="--pages/--cross-y 用于 --cross-page / --pages and --cross-y go with --cross-page")
    if not out and cross is None:
        raise errors.UsageError(detail="请指定位置：--page N --at X,Y、--anchor 文字、--field 名称或 --cross-page / "
                                       "say where: --page N --at X,Y, --anchor TEXT, --field NAME or --cross-page")
    return out, cross


def outputs_for(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    inputs = [Path(p) for p in args.inputs]
    if args.output:
        if len(inputs) != 1:
            raise errors.UsageError(detail="多个输入请用 --out-dir / several inputs need --out-dir")
        return [(inputs[0], Path(args.output))]
    out_dir = Path(args.out_dir)
    # Compared as Windows, macOS and USB sticks (FAT) compare them: "A.pdf" and "a.PDF" are one file there.
    names = [unicodedata.normalize("NFC", p.name).casefold() for p in inputs]
    if len(set(names)) != len(names):
        raise errors.UsageError(detail="输入文件重名，无法放入同一输出目录 / two inputs share a file name")
    return [(p, out_dir / p.name) for p in inputs]


# --- secrets from stdin or the terminal ---------------------------------------

def _read_line(what_zh: str, what_en: str) -> PinBuffer:
    from zhenglian.cli.cmd_pin import read_stdin_line

    return read_stdin_line(what_zh, what_en)


def read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    buf = _read_line("文档密码", "document password")
    try:
        return buf.text()  # pyHanko takes a str; a document password is not the key's PIN
    finally:
        buf.wipe()


# --- the command ---------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    refused: list[errors.ZhenglianError] = []  # documents refused before the PIN (all of them, not only the first)
    done: list[SignResult] = []  # documents signed and written, also when the batch then stopped
    try:
        return _run(args, refused, done)
    except (errors.ZhenglianError, KeyboardInterrupt) as exc:
        known = exc if isinstance(exc, errors.ZhenglianError) else errors.PinCancelled()
        for other in refused[1:]:
            err(other.user_message())
        if args.json:  # a refusal is an outcome too: say it on stdout, as JSON
            print_json({"ok": False, "error": known.to_dict(), "refused": [e.to_dict() for e in refused or ([known] if known is exc else [])],
                        "documents": [r.to_dict() for r in done]})
        raise


def _run(args: argparse.Namespace, refused: list[errors.ZhenglianError], done: list[SignResult]) -> int:
    from zhenglian.cli.cmd_pin import TerminalPrompter
    from zhenglian.pdf.localsign import LocalSigning, sign_files

    placements, cross = placements_from(args)
    pairs = outputs_for(args)
    password = read_password(args)

    ctx = Context.create(args.module)
    h = ctx.tokens.handle(ctx.tokens.find_key(args.key))
    h.check_usable()
    seal = sealchoice.choose_seal(ctx, h.key, args.seal)
    job = LocalSigning(pairs, placements, seal, cross_page=cross, certify=args.certify, password=password,
                       timestamp_url=args.timestamp or ctx.settings.timestamp_url or None, refused=refused)

    def signed(result: SignResult) -> None:
        done.append(result)
        if not args.json:
            line(f"已签署 / signed: {result.input} → {result.output}（{len(result.signatures)} 个签名 / signatures）")

    results = sign_files(h, TerminalPrompter(args), job, on_signed=signed)
    if args.json:
        cert = h.signing_cert.info
        print_json({"ok": True, "key": h.serial, "organization": cert.organization, "uscc": cert.uscc,
                    "seal": str(seal.name), "documents": [r.to_dict() for r in results]})
    return 0
