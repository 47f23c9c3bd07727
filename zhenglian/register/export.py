"""The register for people: totals per seal, CSV for a spreadsheet, a printable PDF for the custodian.

The PDF report (A4 landscape, Chinese) names the institution and its 统一社会信用代码,
the period, the totals per seal, every entry with the start of its hash, and
the full hash of the last entry in the report and of the register's head, so
a printed copy can be checked against the machine later
(``zhenglian register verify --expect N:HASH``; docs/register.md).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from zhenglian import fsutil
from zhenglian.register.model import OUTCOMES
from zhenglian.register.store import Entry, Head

OUTCOME_ZH = {"signed": "已签署", "refused": "已拒绝", "cancelled": "已取消", "failed": "失败"}
ORIGIN_ZH = {"task": "签署任务", "web": "网页", "local": "本地文件"}

CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "序号"), ("time_local", "本地时间"), ("time_utc", "UTC 时间"), ("os_user", "操作系统用户"),
    ("outcome", "结果"), ("error_code", "错误代码"), ("seal_name", "印章名称"), ("seal_type", "印章类型"),
    ("seal_id", "印章编号"), ("key_ca", "CA"), ("key_serial", "UKey 序列号"), ("cert_serial", "证书序列号"),
    ("cert_subject", "证书主题"), ("cert_uscc", "统一社会信用代码"), ("organization", "机构"),
    ("document_name", "文件名"), ("document_size", "文件大小（字节）"), ("page_count", "页数"),
    ("placements", "盖章位置"), ("input_sha256", "原文件 SHA-256"), ("output_sha256", "签署后 SHA-256"),
    ("origin", "来源"), ("server", "签署服务器"), ("task_id", "任务编号"), ("web_origin", "网页来源"),
    ("local_path", "本地文件"), ("output_path", "签署后文件"), ("client_version", "客户端版本"), ("hash", "条目哈希"),
)


@dataclass(frozen=True)
class SealTotal:
    seal_name: str
    seal_type: str
    seal_id: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"seal_name": self.seal_name, "seal_type": self.seal_type, "seal_id": self.seal_id,
                **{o: self.counts.get(o, 0) for o in OUTCOMES}, "total": self.total}


def totals(entries: Sequence[Entry]) -> list[SealTotal]:
    """Counts per seal and outcome, seals in order of first use; damaged entries under an empty seal."""
    per: dict[tuple[str, str, str], Counter[str]] = {}
    for e in entries:
        key = (e.use.seal_name, e.use.seal_type, e.use.seal_id) if e.use else ("", "", "")
        per.setdefault(key, Counter())[e.use.outcome if e.use else "failed"] += 1
    return [SealTotal(*k, counts={o: c.get(o, 0) for o in OUTCOMES}) for k, c in per.items()]


def totals_dict(entries: Sequence[Entry]) -> dict[str, Any]:
    seals = totals(entries)
    overall = Counter[str]()
    for s in seals:
        overall.update(s.counts)
    return {"seals": [s.to_dict() for s in seals],
            "all": {**{o: overall.get(o, 0) for o in OUTCOMES}, "total": sum(overall.values())}}


def placements_text(entry: Entry) -> str:
    if not entry.use:
        return ""
    return "; ".join(f"第{p.page}页 ({p.x_mm:g}, {p.y_mm:g}) mm" for p in entry.use.placements)


def _cell(value: object) -> str:
    """Spreadsheet-safe text: a leading = + - @ (a formula to Excel) is quoted with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(entries: Sequence[Entry]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([zh for _, zh in CSV_COLUMNS])
    for e in entries:
        d: dict[str, Any] = e.use.to_dict() if e.use else {"outcome": "damaged"}
        d.update(seq=e.seq, hash=e.hash, placements=placements_text(e))
        writer.writerow([_cell(d.get(name, "")) for name, _ in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_csv(entries: Sequence[Entry], path: Path) -> None:
    fsutil.atomic_write_bytes(Path(path), to_csv(entries), mode=0o600)


@dataclass(frozen=True)
class ReportFacts:
    organization: str
    uscc: str
    since: date | None
    until: date | None
    head: Head  # of the whole register
    chain_ok: bool
    chain_text_zh: str  # the verify result in one sentence
    register_path: str
    register_id: str
    generated: datetime


def institution_of(entries: Sequence[Entry]) -> tuple[str, str]:
    """The organisation and USCC most entries name (a register normally holds one institution)."""
    orgs = Counter(e.use.organization for e in entries if e.use and e.use.organization)
    usccs = Counter(e.use.cert_uscc for e in entries if e.use and e.use.cert_uscc)
    return (orgs.most_common(1)[0][0] if orgs else "", usccs.most_common(1)[0][0] if usccs else "")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_pdf(entries: Sequence[Entry], facts: ReportFacts) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from zhenglian.lifecycle import fonts

    font = fonts.register()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13.5, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=10)
    mono = ParagraphStyle("mono", parent=small, fontName="Courier", wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=TA_CENTER, spaceAfter=6)
    section = ParagraphStyle("section", parent=body, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4)
    alarm = ParagraphStyle("alarm", parent=body, textColor=colors.HexColor("#b91c1c"))

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        # a cell never outgrows a page, whatever a hostile name or a 500-place entry holds
        return Paragraph(_esc(text if len(text) <= 240 else text[:239] + "…"), style)

    def table(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
        t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                 ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                 ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
        t.setStyle(TableStyle(style))
        return t

    period = f"{facts.since.isoformat() if facts.since else '登记开始'} 至 {facts.until.isoformat() if facts.until else '今日'}"
    last = entries[-1] if entries else None
    story: list[Any] = [
        p("电子印章用印登记报告", title),
        table([
            [p("机构名称"), p(facts.organization or "（未记录）"), p("统一社会信用代码"), p(facts.uscc or "（未记录）")],
            [p("登记期间"), p(period), p("生成时间"), p(facts.generated.astimezone().strftime("%Y-%m-%d %H:%M:%S"))],
            [p("登记文件"), p(facts.register_path, small), p("登记编号"), p(facts.register_id, mono)],
            [p("登记链核对"), p(facts.chain_text_zh, body if facts.chain_ok else alarm), p("打印时链头"),
             p(f"第 {facts.head.seq} 条")],
        ], [28 * mm, 110 * mm, 34 * mm, 95 * mm], header=False),
        p("用印合计（按印章）", section),
    ]
    sums = totals(entries)
    rows: list[list[Any]] = [[p(h) for h in ("印章名称", "印章类型", *(OUTCOME_ZH[o] for o in OUTCOMES), "合计")]]
    for s in sums:
        rows.append([p(s.seal_name or "（未记录）"), p(s.seal_type), *(p(str(s.counts[o])) for o in OUTCOMES),
                     p(str(s.total))])
    all_counts = {o: sum(s.counts[o] for s in sums) for o in OUTCOMES}
    rows.append([p("全部印章"), p(""), *(p(str(all_counts[o])) for o in OUTCOMES), p(str(len(entries)))])
    story += [table(rows, [90 * mm, 35 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm]),
              p(f"本期共 {len(entries)} 条登记。", body), p("登记明细", section)]
    rows = [[p(h) for h in ("序号", "时间", "结果", "印章", "文件", "UKey", "来源", "盖章位置", "条目哈希（前16位）")]]
    for e in entries:
        u = e.use
        if u is None:
            rows.append([p(str(e.seq)), p("（条目已损坏）"), p(""), p(""), p(""), p(""), p(""), p(""),
                         p(e.hash[:16], mono)])
            continue
        origin = ORIGIN_ZH.get(u.origin, u.origin)
        where = u.server or u.web_origin or u.local_path
        origin_text = f"{origin} {u.task_id} {where}".strip()
        outcome = OUTCOME_ZH.get(u.outcome, u.outcome) + (f"（{u.error_code}）" if u.error_code else "")
        rows.append([
            p(str(e.seq)), p(u.time_local.replace("T", " ")[:19], small), p(outcome, small),
            p(u.seal_name, small), p(f"{u.document_name}（{u.page_count} 页，{u.document_size} 字节）", small),
            p(f"{u.key_ca} {u.key_serial}", small), p(origin_text, small), p(placements_text(e), small),
            p(e.hash[:16], mono),
        ])
    story.append(table(rows, [11 * mm, 25 * mm, 22 * mm, 38 * mm, 55 * mm, 27 * mm, 36 * mm, 26 * mm, 33 * mm]))
    story += [p("登记链核对", section),
              p(f"校验结果：{facts.chain_text_zh}", body if facts.chain_ok else alarm),
              p(f"本报告最后一条：第 {last.seq} 条，哈希" if last else "本报告无登记条目。"),
              *([p(last.hash, mono)] if last else []),
              p(f"打印时登记链头：第 {facts.head.seq} 条，哈希"), p(facts.head.hash, mono), Spacer(1, 3 * mm),
              p("核对方法：在本机运行 “zhenglian register verify --expect 序号:哈希”，"
                "输入上面的序号和哈希；显示“一致”即说明该条及其之前的所有登记自打印以来未被改动或删除。", small)]

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(12 * mm, 7 * mm, f"证联 用印登记报告 — {facts.organization}  {facts.uscc}")
        canvas.drawRightString(landscape(A4)[0] - 12 * mm, 7 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title="电子印章用印登记报告",
                            author="zhenglian", subject=f"{facts.organization} {period}")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def write_pdf(entries: Sequence[Entry], facts: ReportFacts, path: Path) -> None:
    fsutil.atomic_write_bytes(Path(path), render_pdf(entries, facts), mode=0o600)


# --- the use cases the command line and the app share --------------------------------

def export_csv(register: Any, filters: Any, target: Path) -> int:
    """Write the filtered entries as CSV; returns how many."""
    _refuse_register_itself(register, target)
    entries = register.list(filters)
    _write(lambda: write_csv(entries, target), target)
    return len(entries)


def export_pdf(register: Any, filters: Any, target: Path, organization: str | None = None,
               uscc: str | None = None) -> tuple[int, bool]:
    """Write the PDF report of the filtered entries; returns (how many, whether the chain checked out)."""
    _refuse_register_itself(register, target)
    with register.snapshot():
        entries = register.list(filters)
        head = register.head()
    report = register.verify()
    org, code = institution_of(entries)
    first = report.first_problem()
    facts = ReportFacts(
        organization=organization or org, uscc=uscc or code, since=filters.since, until=filters.until,
        head=head, chain_ok=report.ok,
        chain_text_zh="登记链完整" if report.ok else (first.text_zh() if first else "数据库文件已损坏"),
        register_path=str(register.path), register_id=register.register_id, generated=datetime.now(UTC))
    _write(lambda: write_pdf(entries, facts, target), target)
    return len(entries), report.ok


def _refuse_register_itself(register: Any, target: Path) -> None:
    from zhenglian import errors

    if Path(target).resolve() == Path(register.path).resolve():
        raise errors.OutputIsInput(path=str(target))
    if not Path(target).parent.is_dir():  # a typo in the folder makes no new folders
        raise errors.OutputWriteFailed(path=str(target), detail_zh="文件夹不存在", detail_en="no such folder")


def _write(write: Any, target: Path) -> None:
    from zhenglian import errors

    try:
        write()
    except OSError as exc:
        raise errors.OutputWriteFailed.of(target, exc) from None
