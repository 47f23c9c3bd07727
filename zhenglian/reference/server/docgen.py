"""Realistic Chinese task documents for the demo and the tests.

One- to three-page A4 PDFs (贷款合同, 抵押合同, 委托扣款授权书 …) written with
pyHanko's own PDF writer: no extra dependency.  The text uses a Noto CJK
serif face (fonts-noto-cjk), embedded as a subset with a ToUnicode map, so
the anchor text (“甲方（盖章）” …) can be found by text extraction exactly as
in the real system's documents.

Subsetting the 20 MB collection is the slow part (≈0.2 s), so the subset
font covers all template text at once and is made once per process and
character set.
"""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

A4 = (595.276, 841.89)
MM = 72 / 25.4
MARGIN = 25 * MM

FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "SC"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "SC"),
    ("/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc", "SC"),
    ("/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc", "SC"),
)


@dataclass(frozen=True)
class Template:
    kind: str  # short name: 贷款合同 …
    title: str
    business_type: str
    seal_type: str
    pages: int
    clauses: tuple[str, ...]
    # The signature block of the last page: (left label, right label).
    sign_block: tuple[str, str]
    placement: dict[str, Any] = field(default_factory=dict)


_LOAN_CLAUSES = (
    "第一条 借款金额：人民币（大写）{amount_zh}元整（小写：¥{amount}），用于购买位于东莞市{district}的自住住房。",
    "第二条 借款期限：自首次放款之日起共{years}年，即{months}个月，按月等额本息还款。",
    "第三条 借款利率：执行中国人民银行公布的个人住房公积金贷款利率，首套住房年利率为2.85%。利率调整时，按有关规定执行。",
    "第四条 还款方式：借款人同意从其在受托银行开立的还款账户中按月扣收应还本息；借款人应于每月还款日前存足款项。",
    "第五条 担保方式：本合同项下借款以所购住房作抵押担保，并在抵押登记办妥前由甲方提供阶段性连带责任保证。",
    "第六条 甲方的权利和义务：甲方应按本合同约定履行保证责任，配合办理抵押登记，并按时向贷款人提供有关资料。",
    "第七条 借款人的义务：按期足额偿还借款本息；不得擅自出租、转让、赠与或者重复抵押抵押物；变更通讯地址或工作单位时及时书面通知贷款人。",
    "第八条 违约责任：借款人未按期还款的，贷款人有权按日加收罚息，并有权提前收回全部借款本息。",
    "第九条 争议解决：本合同履行中发生争议的，由各方协商解决；协商不成的，依法向贷款人所在地人民法院起诉。",
    "第十条 其他约定：本合同自各方签字（盖章）之日起生效，一式四份，各方各执一份，具有同等法律效力。",
    "第十一条 本合同未尽事宜，按《住房公积金管理条例》及东莞市住房公积金管理中心有关规定办理。",
    "第十二条 各方确认已仔细阅读本合同全部条款，对各条款的含义及法律后果均已充分理解，并自愿签订本合同。",
)

TEMPLATES: tuple[Template, ...] = (
    Template(
        kind="贷款合同", title="个人住房公积金贷款合同", business_type="公积金贷款",
        seal_type="合同专用章", pages=3, clauses=_LOAN_CLAUSES, sign_block=("甲方（盖章）", "贷款人（盖章）"),
        placement={"anchor_text": "甲方（盖章）", "page": -1},
    ),
    Template(
        kind="抵押合同", title="个人住房公积金贷款抵押合同", business_type="抵押登记",
        seal_type="抵押业务专用章", pages=2,
        clauses=(
            "第一条 抵押物：抵押人以其位于东莞市{district}的房产作抵押，建筑面积{area}平方米，不动产权证号：粤（{year}）东莞不动产权第{cert_no}号。",
            "第二条 被担保的主债权：主合同项下的借款本金人民币{amount}元及利息、罚息、违约金和实现债权的费用。",
            "第三条 抵押期限：自抵押登记之日起至主合同项下全部债务清偿完毕之日止。",
            "第四条 抵押登记：各方应于本合同签订之日起三十日内共同到不动产登记机构办理抵押登记手续。",
            "第五条 抵押物的保管：抵押期间，抵押人应妥善保管抵押物，未经抵押权人书面同意，不得出租、转让或再次抵押。",
            "第六条 保险：抵押人应为抵押物办理财产保险，保险期限不短于借款期限，第一受益人为抵押权人。",
            "第七条 本合同一式三份，自各方签字（盖章）并办妥抵押登记之日起生效。",
        ),
        sign_block=("甲方（盖章）", "抵押人（签字）"),
        placement={"anchor_text": "甲方（盖章）", "page": -1, "cross_page": True},
    ),
    Template(
        kind="委托扣款授权书", title="住房公积金委托扣款授权书", business_type="委托扣款",
        seal_type="公章", pages=1,
        clauses=(
            "东莞市住房公积金管理中心：",
            "本单位同意自{year}年{month}月起，委托受托银行从本单位在该行开立的账户（账号：{account}）中按月扣缴职工住房公积金。",
            "本单位保证账户内于每月扣款日前存足款项；因余额不足造成扣款失败的，由本单位承担相应责任。",
            "本授权书自签章之日起生效，至本单位书面撤销之日止。",
        ),
        sign_block=("授权单位（盖章）", "经办人（签字）"),
        placement={"page": 1, "x_mm": 140.0, "y_mm": 200.0},
    ),
    Template(
        kind="保证合同", title="阶段性连带责任保证合同", business_type="阶段性担保",
        seal_type="合同专用章", pages=2,
        clauses=(
            "第一条 保证范围：主合同项下借款本金人民币{amount}元及利息、罚息、违约金和实现债权的费用。",
            "第二条 保证方式：甲方提供阶段性连带责任保证，保证期间自主合同生效之日起至抵押登记办妥之日止。",
            "第三条 甲方承诺：如借款人在保证期间未按期还款，甲方在收到书面通知后十日内代为清偿。",
            "第四条 本合同自各方签字（盖章）之日起生效。",
        ),
        sign_block=("甲方（盖章）", "贷款人（盖章）"),
        placement={"anchor_text": "甲方（盖章）", "page": -1, "certify": True},
    ),
)

_DISTRICTS = ("南城街道", "东城街道", "松山湖", "虎门镇", "长安镇", "厚街镇", "常平镇", "塘厦镇")
_DIGITS_ZH = "零壹贰叁肆伍陆柒捌玖"
_BORROWERS = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "黄磊", "赵敏")
_EXTRA = ("合同编号：", "借款人：", "身份证号：", "甲方：", "日期：", "年月日", "第页共", "（此页无正文）",
          "统一社会信用代码：", "东莞市住房公积金管理中心", "仟佰拾万亿元整", "签署页")


def template(kind: str) -> Template:
    for t in TEMPLATES:
        if t.kind == kind:
            return t
    raise KeyError(kind)


def _base_chars() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for t in TEMPLATES:
        for text in (t.title, t.business_type, t.seal_type, *t.clauses, *t.sign_block):
            chars.update(text)
    for text in (*_DISTRICTS, *_BORROWERS, _DIGITS_ZH, *_EXTRA, "¥，。：；、（）《》“”"):
        chars.update(text)
    return chars


def _find_font() -> tuple[str, int]:
    from fontTools.ttLib import TTCollection

    for path, lang in FONT_CANDIDATES:
        if Path(path).is_file():
            coll = TTCollection(path, lazy=True)
            for i, f in enumerate(coll.fonts):
                if f["name"].getDebugName(4).endswith(f" {lang}"):
                    return path, i
            return path, 0
    raise FileNotFoundError("no Noto CJK font (install fonts-noto-cjk)")


_font_lock = threading.Lock()
_font_cache: dict[frozenset[str], Path] = {}


def font_for(chars: Iterable[str], cache_dir: Path | None = None) -> Path:
    """A subset font file covering ``chars`` (plus all template text)."""
    need = frozenset(chars)
    with _font_lock:
        for have, path in _font_cache.items():
            if need <= have and path.is_file():
                return path
        from fontTools import subset
        from fontTools.ttLib import TTFont

        wanted = frozenset(_base_chars() | need)
        digest = hashlib.sha256("".join(sorted(wanted)).encode()).hexdigest()[:16]
        directory = cache_dir or Path(tempfile.gettempdir()) / "zhenglian-docgen"
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / f"cjk-{digest}.otf"
        if not out.is_file():
            src, index = _find_font()
            font = TTFont(src, fontNumber=index, lazy=True)
            opts = subset.Options()
            opts.layout_features = []
            opts.notdef_outline = True
            sub = subset.Subsetter(opts)
            sub.populate(unicodes=[ord(c) for c in wanted])
            sub.subset(font)
            tmp = out.with_suffix(f".{random.randrange(1 << 30)}.tmp")
            font.save(str(tmp))
            tmp.replace(out)
        _font_cache[wanted] = out
        return out


def _amount_zh(n: int) -> str:
    units = ["", "拾", "佰", "仟"]
    big = ["", "万", "亿"]
    out, group = "", 0
    while n > 0:
        part, n = n % 10000, n // 10000
        s, zero = "", False
        for i in range(4):
            d = part % 10
            part //= 10
            if d:
                s = _DIGITS_ZH[d] + units[i] + ("零" if zero and s else "") + s
                zero = False
            else:
                zero = True
        if s:
            out = s + big[group] + out
        group += 1
    return out or "零"


def facts(rng: random.Random) -> dict[str, Any]:
    amount = rng.randrange(20, 120) * 10000
    years = rng.choice((10, 15, 20, 25, 30))
    return {
        "amount": f"{amount:,}", "amount_zh": _amount_zh(amount), "years": years, "months": years * 12,
        "district": rng.choice(_DISTRICTS), "area": f"{rng.uniform(60, 140):.2f}", "year": 2026,
        "month": rng.randrange(1, 13), "cert_no": f"{rng.randrange(10**7):07d}",
        "account": " ".join(f"{rng.randrange(10**4):04d}" for _ in range(4)),
        "number": f"DGGJJ{rng.randrange(10**8):08d}",
        "borrower": rng.choice(_BORROWERS),
    }


class _Page:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.ops: list[bytes] = []

    def text(self, x: float, y: float, txt: str, size: float) -> float:
        self.engine.font_size = size
        shaped = self.engine.shape(txt)
        self.ops.append(b"BT /F1 %g Tf 1 0 0 1 %g %g Tm %s ET" % (size, x, y, shaped.graphics_ops))
        return shaped.x_advance * size

    def width(self, txt: str, size: float) -> float:
        self.engine.font_size = size
        return self.engine.shape(txt, with_actual_text=False).x_advance * size

    def line(self, x1: float, y1: float, x2: float, y2: float, w: float = 0.6) -> None:
        self.ops.append(b"q %g w %g %g m %g %g l S Q" % (w, x1, y1, x2, y2))


_NO_LINE_START = "，。；：、）》”！？%"


def _wrap(page: _Page, text: str, size: float, width: float) -> list[str]:
    lines, cur = [], ""
    for ch in text:
        # Closing punctuation never starts a line (禁则): let it overhang a little.
        if cur and ch not in _NO_LINE_START and page.width(cur + ch, size) > width:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    return lines


def make_pdf(tpl: Template, organization: str, uscc: str, seed: int | None = None,
             pages: int | None = None, font_dir: Path | None = None) -> bytes:
    """One task document: title, parties, clauses spread over the pages, signature block last."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    rng = random.Random(seed)
    f = facts(rng)
    n_pages = max(1, pages or tpl.pages)
    clauses = [c.format(**f) for c in tpl.clauses]
    header = [f"合同编号：{f['number']}", f"甲方：{organization}", f"统一社会信用代码：{uscc}",
              f"借款人：{f['borrower']}"]
    all_text = "".join([tpl.title, *clauses, *header, *tpl.sign_block, organization])
    font = font_for(all_text, font_dir)

    writer = PdfFileWriter(stream_xrefs=False)
    engine = GlyphAccumulatorFactory(str(font), font_size=12).create_font_engine(writer)
    font_ref = engine.as_resource()
    width, height = A4
    text_w = width - 2 * MARGIN
    body_size, leading = 11.5, 20.0
    # Share the clauses among the pages; the signature block goes on the last.
    per_page = max(1, -(-len(clauses) // n_pages))
    chunks = [clauses[i * per_page:(i + 1) * per_page] for i in range(n_pages)]
    for index, chunk in enumerate(chunks):
        page = _Page(engine)
        y = height - MARGIN
        if index == 0:
            tw = page.width(tpl.title, 18)
            page.text((width - tw) / 2, y - 18, tpl.title, 18)
            y -= 48
            for h in header:
                page.text(MARGIN, y, h, body_size)
                y -= leading
            y -= 8
            page.line(MARGIN, y, width - MARGIN, y)
            y -= leading + 4
        if not chunk and index < n_pages - 1:
            page.text(MARGIN, y, "（此页无正文）", body_size)
        for clause in chunk:
            for ln in _wrap(page, clause, body_size, text_w):
                page.text(MARGIN, y, ln, body_size)
                y -= leading
            y -= 6
        if index == n_pages - 1:
            y = min(y - 30, 230.0)
            left, right = tpl.sign_block
            page.text(MARGIN, y, f"{left}：", body_size + 1)
            page.text(width / 2 + 20, y, f"{right}：", body_size + 1)
            y -= 3 * leading
            page.text(MARGIN, y, f"日期：{f['year']}年{f['month']:02d}月   日", body_size)
            page.text(width / 2 + 20, y, f"日期：{f['year']}年{f['month']:02d}月   日", body_size)
        footer = f"第{index + 1}页 共{n_pages}页"
        page.text((width - page.width(footer, 9)) / 2, MARGIN / 2, footer, 9)
        stream = generic.StreamObject(stream_data=b"\n".join(page.ops))
        stream.compress()
        resources = generic.DictionaryObject({
            generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font_ref}),
        })
        writer.insert_page(PageObject(writer.add_object(stream), (0, 0, width, height), resources))
    writer.set_info(None)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
