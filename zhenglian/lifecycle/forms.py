"""The CA's service forms as printable A4 PDFs, filled in from the certificate.

Two forms, in the layout of the Dongguan guide's appendices:

- 附录2 《机构数字证书申请表》 (the certificate form): the service ticked
  (更新 / 变更 / 注销 / 补办 / 解锁), the organisation, its USCC, the seal
  names;
- 附录1 《电子印章申请表》 (the seal form), one per seal ("每个印章申请需单独
  填写一张申请表"): the service, the organisation, USCC, seal name and type.

What the client cannot know (legal representative, address, operator, ID
number, phone …) stays blank for the operator, as on the CA's own form.  The
CA wants the forms typed, not handwritten, so we fill in all we know, and
the date.  Unlocking has no seal form (the seal form has no 解锁 box).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from zhenglian import errors, fsutil
from zhenglian.lifecycle import fonts
from zhenglian.lifecycle.service import SERVICES, paper_route
from zhenglian.manifest import Manifest

KINDS = tuple(SERVICES)  # renew, unlock, reissue, change, revoke
SEAL_TYPES = ("合同专用章", "公章", "抵押业务专用章", "信贷业务专用章")
_CERT_FORM_BOX = {"renew": "更新", "change": "变更", "revoke": "注销", "reissue": "补办", "unlock": "解锁"}
_SEAL_FORM_BOX = {"renew": "续期", "reissue": "补办", "change": "变更", "revoke": "注销"}
_UPPER_DIGITS = "零壹贰叁肆伍陆柒捌玖拾"


@dataclass(frozen=True)
class FormFacts:
    """What goes on the forms, whatever the source (a plugged-in key or a remembered certificate)."""

    organization: str
    uscc: str
    seal_names: tuple[str, ...]
    ca_id: str | None


def facts_from(key_info: Any, seal_names: Sequence[str] | None = None) -> FormFacts:
    """From a :class:`~zhenglian.tokens.model.KeyInfo` or a remembered certificate."""
    cert = None
    if hasattr(key_info, "signing_certificate"):  # KeyInfo
        kc = key_info.signing_certificate()
        cert = kc.info if kc else None
        org = (cert.organization or cert.common_name) if cert else key_info.organization()
        uscc = cert.uscc if cert else None
        names = seal_names
        if names is None and cert is not None:
            from zhenglian.lifecycle.store import CertificateStore

            remembered = CertificateStore().get(cert.sha256)
            names = remembered.seal_names if remembered else ()
    else:  # RememberedCert
        org = key_info.organization or key_info.common_name
        uscc = key_info.uscc
        names = seal_names if seal_names is not None else key_info.seal_names
    return FormFacts(org or "", uscc or "", tuple(names or ()), getattr(key_info, "ca_id", None))


def seal_type_of(name: str) -> str | None:
    for t in sorted(SEAL_TYPES, key=len, reverse=True):
        if name.endswith(t):
            return t
    return None


def upper_number(n: int) -> str:
    """1–99 in 大写 (the form asks for it)."""
    if not 0 < n < 100:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    out = (_UPPER_DIGITS[tens] if tens > 1 else "") + ("拾" if tens else "")
    return out + (_UPPER_DIGITS[ones] if ones else "")


# --- drawing -----------------------------------------------------------------

class _Styles:
    def __init__(self, font: str) -> None:
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        self.body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
        self.small = ParagraphStyle("small", parent=self.body, fontSize=9, leading=13)
        self.title = ParagraphStyle("title", parent=self.body, fontSize=18, leading=26, alignment=TA_CENTER,
                                    spaceAfter=2)
        self.subtitle = ParagraphStyle("subtitle", parent=self.body, alignment=TA_RIGHT, spaceAfter=8)
        self.section = ParagraphStyle("section", parent=self.body, fontSize=11.5, leading=18, spaceBefore=8,
                                      spaceAfter=3)
        self.filled = ParagraphStyle("filled", parent=self.body, textColor="#0b3d91")
        self.center = ParagraphStyle("center", parent=self.body, alignment=TA_CENTER)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)


@lru_cache(maxsize=1)
def _ticked_box_png() -> str:
    """A ticked box (☑) as a PNG file for <img>: the form fonts have no ☑
    glyph, PDF viewers substitute ZapfDingbats unreliably, and reportlab
    5.1 cannot read data: URIs.  Written once per process to a temp folder."""
    from PIL import Image, ImageDraw

    size = 160
    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    d.rectangle((14, 14, size - 14, size - 14), outline=(0, 0, 0, 255), width=9)
    d.line([(36, 84), (66, 116), (128, 36)], fill=(11, 61, 145, 255), width=16, joint="curve")
    folder = Path(tempfile.mkdtemp(prefix="zhenglian-forms-"))
    path = folder / "ticked.png"
    img.save(path, "PNG")
    return str(path)


def _box(label: str, ticked: bool) -> str:
    if ticked:
        return f'<img src="{_ticked_box_png()}" width="10.5" height="10.5" valign="-1"/>{label}'
    return f"□{label}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _filled(text: str) -> str:
    return f'<font color="#0b3d91">{_esc(text)}</font>' if text else ""


def _table(rows: list[list[Any]], widths: list[float], spans: Sequence[tuple[Any, ...]] = (),
           heights: list[float] | None = None, extra: Sequence[tuple[Any, ...]] = ()) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths, rowHeights=heights)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.7, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    style += [("SPAN", *s) for s in spans]
    style += list(extra)
    t.setStyle(TableStyle(style))
    return t


def _certificate_form(st: _Styles, kind: str, facts: FormFacts, manifest: Manifest | None,
                      years: int | None, today: date) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph as P
    from reportlab.platypus import Spacer

    route = paper_route(manifest)
    ticked = _CERT_FORM_BOX[kind]
    years_text = _filled(upper_number(years)) if (years and kind == "renew") else "&nbsp;" * 8
    w = 170 * mm
    story: list[Any] = [
        P("机构数字证书申请表", st.title),
        P("——东莞公积金系统用户专用", st.subtitle),
        P("I&nbsp;&nbsp;申请业务类型", st.section),
        _table([
            [P(f"{_box('新申请', False)}，年限 {'&nbsp;' * 8} 年（填大写数字）&nbsp;&nbsp;&nbsp;&nbsp;"
               f"{_box('更新', ticked == '更新')}，年限 <u>&nbsp;{years_text}&nbsp;</u> 年（填大写数字）", st.body)],
            [P("&nbsp;&nbsp;&nbsp;&nbsp;".join(_box(b, ticked == b) for b in ("变更", "注销", "补办", "解锁", "密钥恢复")),
               st.body)],
            [P("对应的电子印章名称：" + _filled("、".join(facts.seal_names)), st.body)],
            [P(f"请确认是否应用于粤港跨境电子交易：&nbsp;{_box('是', False)}&nbsp;&nbsp;{_box('否', False)}"
               "（若不勾选则默认为“否”）", st.body)],
        ], [w]),
        P("II&nbsp;&nbsp;申请单位基本资料", st.section),
        _table([
            [P("机构名称：", st.body), P(_filled(facts.organization), st.body), ""],
            [P("单位有效证件：<br/>（至少填写一个）", st.body), P("营业执照号/统一社会信用代码：", st.body),
             P(_filled(facts.uscc), st.body)],
            ["", P("其它有效证件及号码：", st.body), ""],
            [P("单位法定住所：", st.body), "", ""],
            [P("单位联系电话：", st.body), "", ""],
        ], [34 * mm, 62 * mm, 74 * mm], spans=[((1, 0), (2, 0)), ((0, 1), (0, 2)), ((1, 3), (2, 3)), ((1, 4), (2, 4))],
            heights=[9 * mm, 11 * mm, 9 * mm, 9 * mm, 9 * mm]),
        P("III&nbsp;&nbsp;经办人资料", st.section),
        _table([
            [P("姓&nbsp;&nbsp;&nbsp;&nbsp;名：", st.body), "", P("手机：", st.body), "", P("电子邮件：", st.body), ""],
            [P("身份证号：", st.body), "", "", P("（请仔细校对身份证号码确保无误）", st.small), "", ""],
            [P("收件地址：", st.body), "", "", "", "", ""],
        ], [24 * mm, 38 * mm, 16 * mm, 34 * mm, 24 * mm, 34 * mm],
            spans=[((1, 1), (2, 1)), ((3, 1), (5, 1)), ((1, 2), (5, 2))], heights=[9 * mm, 9 * mm, 9 * mm]),
        P("IV&nbsp;&nbsp;用户须知", st.section),
        P("1、本申请表一式二份。以上所有项目均必须填写。基本资料请您填写完整后再打印。", st.small),
        P("2、所有单位须交验如下资料：", st.small),
        P("· 交验单位有效证件（例如：企业营业执照）的原件及提交复印件一份（复印件加盖单位公章）；", st.small),
        P("· 交验经办人身份证原件及提交复印件一份（复印件加盖单位公章）。", st.small),
        P("V&nbsp;&nbsp;单位声明", st.section),
        P(f"本单位在此郑重声明：本单位授权上述经办人办理本单位数字证书，本单位保证所填写的内容和提交的证明材料真实、完整、有效。"
          f"本单位已认真阅读并以在此申请表上盖章方式同意遵守{_esc(route.ca_full_name_zh or route.ca_name_zh)}"
          f"{'网站（' + _esc(route.website) + '）' if route.website else ''}发布的电子认证业务规则（CPS）、"
          "电子认证服务协议的各项内容，如有违反愿意承担由此引起的一切责任。", st.small),
        Spacer(1, 6 * mm),
        P("经办人签署：" + "&nbsp;" * 16 + "申请单位盖章：" + "&nbsp;" * 16 +
          f"申请日期：{_filled(str(today.year))} 年 {_filled(str(today.month))} 月 {_filled(str(today.day))} 日", st.body),
        Spacer(1, 6 * mm),
        P("VI&nbsp;&nbsp;受理审核（以下由证书受理员填写）", st.section),
        P("受理员：" + "&nbsp;" * 60 + "受理时间：", st.body),
        P("复查员签字：" + "&nbsp;" * 53 + "业务受理点（盖章）：", st.body),
    ]
    return story


def _footer_text(manifest: Manifest | None) -> list[str]:
    """The CA's contact line printed at the foot of the certificate form."""
    route = paper_route(manifest)
    first, second = [], []
    if route.counter_zh:
        first.append(f"地址：{route.counter_zh}")
    if route.website:
        first.append(f"网址：{route.website}")
    if route.hotline:
        second.append("客服热线：" + " / ".join(route.hotline))
    if route.qq:
        second.append(f"企业服务QQ：{route.qq}")
    return ["      ".join(x) for x in (first, second) if x]


def _seal_form(st: _Styles, kind: str, facts: FormFacts, seal_name: str, today: date) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph as P
    from reportlab.platypus import Spacer

    service = _SEAL_FORM_BOX[kind]
    seal_type = seal_type_of(seal_name)
    label_w = 32 * mm
    rows = [
        [P("单位名称", st.center), P(_filled(facts.organization), st.body), "", "", "", ""],
        [P("法定代表人", st.center), "", "", "", "", ""],
        [P("办理情况", st.center), P("&nbsp;&nbsp;&nbsp;".join(_box(b, b == service)
                                                       for b in ("新申请", "续期", "补办", "变更", "注销")), st.body),
         "", "", "", ""],
        [P("单位性质", st.center), P("&nbsp;&nbsp;".join(_box(b, False) for b in
                                                    ("企业", "事业", "国家机关", "社会团体", "人民团体", "其他")), st.body),
         "", "", "", ""],
        [P("印章类型", st.center), P("&nbsp;&nbsp;".join(_box(b, b == seal_type) for b in SEAL_TYPES), st.body),
         "", "", "", ""],
        [P("单位地址", st.center), "", "", P("统一社会信用代码", st.center), P(_filled(facts.uscc), st.body), ""],
        [P("印章名称", st.center), P(_filled(seal_name), st.body), "", "", "", ""],
        [P("印章印模<br/>（右边空白框内盖印模）", st.center), "", "", "", "", ""],
        [P("电子印章<br/>使用管理人员", st.center), "", P("职务", st.center), "", P("联系电话", st.center), ""],
    ]
    widths = [label_w, 30 * mm, 18 * mm, 36 * mm, 22 * mm, 32 * mm]
    spans = [((1, r), (5, r)) for r in (0, 1, 2, 3, 4, 6, 7)] + [((1, 5), (2, 5)), ((4, 5), (5, 5))]
    heights = [11 * mm] * 7 + [62 * mm, 13 * mm]
    declaration = [
        P("（已经认真阅读并认可“电子印章申请须知”。）<br/>申请单位在此郑重申明：<br/>"
          "1. 本单位承诺因业务需要自愿办理电子印章相关业务，承诺加强对电子印章的管理。<br/>"
          "2. 本单位为申请电子印章及数字证书而提供的资料完全真实、准确、完整，并授权上述经办人办理申请事务，授权上述管理员使用印章。"
          "本单位愿意承担由于提供的资料虚假、误导、重大遗漏而导致的一切后果，愿意承担因使用数字证书和电子印章产生的一切后果。<br/>"
          "3. 本单位同意收集本单位所提交的上述信息，用于CA认证机构签发数字证书、在电子签章平台生成电子印章及相关用途。", st.small),
        Spacer(1, 5 * mm),
        P("经办人签名：" + "&nbsp;" * 28 + "申请单位盖章：" + "&nbsp;" * 20, st.right),
        Spacer(1, 4 * mm),
        P(f"{_filled(str(today.year))} 年 {_filled(str(today.month))} 月 {_filled(str(today.day))} 日"
          + "&nbsp;" * 6, st.right),
    ]
    rows.append([declaration, "", "", "", "", ""])
    spans.append(((0, 9), (5, 9)))
    heights.append(None)  # type: ignore[arg-type]
    return [
        Spacer(1, 6 * mm),
        P("电子印章申请表", st.title),
        Spacer(1, 4 * mm),
        _table(rows, widths, spans=spans, heights=heights,
               extra=[("VALIGN", (0, 9), (-1, 9), "TOP")]),
    ]


def render(kind: str, facts: FormFacts, manifest: Manifest | None, years: int | None = None,
           today: date | None = None) -> bytes:
    """The forms for one service as PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    if kind not in KINDS:
        raise errors.UsageError(detail=f"未知的业务类型 {kind}（可选 {'/'.join(KINDS)}）/ unknown service {kind}")
    if years is not None:
        lo, hi = paper_route(manifest).years
        if not lo <= years <= hi:
            raise errors.UsageError(detail=f"年限应为 {lo}–{hi} / years must be {lo}–{hi}")
    today = today or date.today()
    st = _Styles(fonts.register())
    story = _certificate_form(st, kind, facts, manifest, years, today)
    if kind in _SEAL_FORM_BOX:
        for name in facts.seal_names or ("",):
            story.append(PageBreak())
            story += _seal_form(st, kind, facts, name, today)
    buffer = io.BytesIO()
    zh, _ = SERVICES[kind]
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=16 * mm,
                            bottomMargin=22 * mm, title=f"{zh}申请表 — {facts.organization}",
                            author="zhenglian", subject=f"{zh} / {SERVICES[kind][1]}")
    footer = _footer_text(manifest)

    def first_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(st.small.fontName, 8.5)
        y = 10 * mm + 4.2 * mm * (len(footer) - 1)
        canvas.setLineWidth(0.5)
        if footer:
            canvas.line(20 * mm, y + 4.5 * mm, A4[0] - 20 * mm, y + 4.5 * mm)
        for text in footer:
            canvas.drawString(20 * mm, y, text)
            y -= 4.2 * mm
        canvas.restoreState()

    doc.build(story, onFirstPage=first_page)
    return buffer.getvalue()


def generate(kind: str, key_info: Any, manifest: Manifest | None, out_path: Path | str, *,
             years: int | None = None, seal_names: Sequence[str] | None = None,
             today: date | None = None) -> Path:
    """Write the forms for ``kind`` (renew / unlock / reissue / change / revoke) to ``out_path``.

    ``key_info`` is a plugged-in key (:class:`~zhenglian.tokens.model.KeyInfo`)
    or a remembered certificate (:class:`~zhenglian.lifecycle.store.RememberedCert`).
    ``seal_names``: the seals bound to the certificate (default: the names
    remembered for it).  ``years`` fills in the renewal's 年限.  The file is
    written atomically; raises FormFontMissing, UsageError or OutputWriteFailed.
    """
    out = Path(out_path).expanduser()
    data = render(kind, facts_from(key_info, seal_names), manifest, years, today)
    try:
        fsutil.atomic_write_bytes(out, data, mode=0o644)
    except OSError as exc:
        raise errors.OutputWriteFailed.of(out, exc) from None
    return out
