"""Find anchor text such as "（盖章）" or "单位盖章" on the pages of a PDF.

Text is found with PDFium (pypdfium2), the engine of Chrome's PDF viewer: it
maps CJK fonts to Unicode through their ToUnicode maps and CMaps the way
viewers do.  A hit is returned as a box in PDF user space (the same space
:mod:`zhenglian.pdf.geometry` starts from).

Contracts write the same words with full-width or half-width brackets and
colons; when the text as given is not found, the other widths are tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from zhenglian import errors
from zhenglian.pdf.rendering import PDFIUM_LOCK, pdfium_document  # PDFium: one caller at a time

_WIDTH_PAIRS = (("（", "("), ("）", ")"), ("：", ":"), ("，", ","), ("　", " "))


@dataclass(frozen=True)
class AnchorHit:
    page_index: int  # 0-based
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2


def variants(text: str) -> list[str]:
    """The text as given, then with full-width punctuation made half-width, then the reverse."""
    half = full = text
    for f, h in _WIDTH_PAIRS:
        half = half.replace(f, h)
        full = full.replace(h, f)
    out: list[str] = []
    for v in (text, half, full):
        if v and v not in out:
            out.append(v)
    return out


def _hits_on_page(textpage: Any, page_index: int, text: str) -> Iterator[AnchorHit]:
    searcher = textpage.search(text, match_case=False, match_whole_word=False)
    try:
        while True:
            found = searcher.get_next()
            if not found:
                return
            start, count = found
            boxes = [textpage.get_charbox(i, loose=True) for i in range(start, start + count)]
            boxes = [b for b in boxes if b[2] > b[0] and b[3] > b[1]] or boxes
            if not boxes:
                continue
            yield AnchorHit(page_index, min(b[0] for b in boxes), min(b[1] for b in boxes),
                            max(b[2] for b in boxes), max(b[3] for b in boxes))
    finally:
        searcher.close()


def find(source: Any, text: str, *, password: str | None = None,
         pages: Iterable[int] | None = None, name: str = "") -> list[AnchorHit]:
    """Every occurrence of ``text`` in reading order (page by page).

    ``source`` is a path or the document's bytes; ``pages`` limits the search
    to these 0-based page indices.
    """
    text = text.strip()
    if not text:
        raise errors.UsageError(detail="锚点文字为空 / the anchor text is empty")
    # PDFium is held one page at a time: the preview draws the page it shows between them
    # (a document at the text budget takes tens of seconds to search in every spelling).
    with PDFIUM_LOCK:
        doc = pdfium_document(source, password, name)
        count = len(doc)
    try:
        indices = list(pages) if pages is not None else range(count)
        for candidate in variants(text):
            hits: list[AnchorHit] = []
            for index in indices:
                with PDFIUM_LOCK:
                    page = doc[index]
                    try:
                        textpage = page.get_textpage()
                        try:
                            hits.extend(_hits_on_page(textpage, index, candidate))
                        finally:
                            textpage.close()
                    finally:
                        page.close()
            if hits:
                return hits
        return []
    finally:
        with PDFIUM_LOCK:
            doc.close()
