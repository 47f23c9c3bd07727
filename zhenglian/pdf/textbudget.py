"""How much a page asks of PDFium, bounded before PDFium reads it for its text.

PDFium expands every content stream of a page, and of the forms the page draws, in
memory to extract its text.  A 2 MB file whose one page inflates to 2 GiB of spaces
took 3.2 GB of memory to search for an anchor, and ended the process (SIGABRT, no
message) under a smaller memory limit.  Here each stream's expanded size is counted
first — Flate by inflating it piece by piece up to the budget, keeping nothing — and
a page or document over budget is refused with a message before the PIN.

Legitimate pages are far below the budget: a dense page of CJK text is ≈ 100 KB of
content, a drawing a few MB.  Other filters than Flate are counted as their encoded
size times what they can at most expand (run-length 128×, LZW and anything else 64×).
"""

from __future__ import annotations

import zlib
from typing import Any

from zhenglian import errors
from zhenglian.pdf.pdftree import TreeError, resolve

MAX_PAGE_BYTES = 64 << 20  # a page's content streams and forms, expanded
MAX_DOCUMENT_BYTES = 512 << 20  # all pages searched
MAX_FORM_DEPTH = 16  # forms inside forms
MAX_STREAMS = 20_000  # streams looked at in one document
_CHUNK = 1 << 20
# At most how many times a filter after the first multiplies the size (Flate: zlib's own limit).
_EXPANSION = {"/FlateDecode": 1032, "/Fl": 1032, "/RunLengthDecode": 128, "/RL": 128}
_DEFAULT_EXPANSION = 64  # LZW and anything else


def _inflated_size(data: bytes, budget: int) -> int:
    """The size ``data`` inflates to, or more than ``budget`` as soon as it exceeds it."""
    d = zlib.decompressobj()
    size = 0
    pending = data
    try:
        while pending and size <= budget:
            size += len(d.decompress(pending, _CHUNK))
            pending = d.unconsumed_tail
            if d.eof:
                break
    except zlib.error:
        return max(size, len(data))  # broken data: PDFium reads at most what is there
    return size


def _filters(stream: Any) -> list[str]:
    from pyhanko.pdf_utils import generic

    value = resolve(stream.raw_get("/Filter")) if "/Filter" in stream else None
    if isinstance(value, generic.NameObject):
        return [str(value)]
    if isinstance(value, generic.ArrayObject):
        return [str(resolve(v)) for v in value]
    return []


def _expanded_size(stream: Any, budget: int) -> int:
    data = stream.encoded_data
    filters = _filters(stream)
    if not filters:
        return len(data)
    if filters[0] in ("/FlateDecode", "/Fl"):
        size = _inflated_size(data, budget)
        rest = filters[1:]
    else:
        size, rest = len(data), filters
    for name in rest:
        size *= _EXPANSION.get(name, _DEFAULT_EXPANSION)
    return size


def _page_streams(page: Any) -> list[Any]:
    """The page's content streams, then the forms its resources (own or inherited) name, depth first."""
    from pyhanko.pdf_utils import generic

    out: list[Any] = []
    contents = resolve(page.raw_get("/Contents")) if "/Contents" in page else None
    if isinstance(contents, generic.StreamObject):
        out.append(contents)
    elif isinstance(contents, generic.ArrayObject):
        out.extend(s for s in (resolve(c) for c in contents) if isinstance(s, generic.StreamObject))
    node, hops = page, 0
    while "/Resources" not in node and "/Parent" in node and hops < 64:
        node, hops = resolve(node.raw_get("/Parent")), hops + 1
    seen: set[int] = set()
    stack = [(resolve(node.raw_get("/Resources")) if "/Resources" in node else None, 0)]
    while stack:
        resources, depth = stack.pop()
        if not isinstance(resources, generic.DictionaryObject) or depth > MAX_FORM_DEPTH:
            continue
        xobjects = resolve(resources.raw_get("/XObject")) if "/XObject" in resources else None
        if not isinstance(xobjects, generic.DictionaryObject):
            continue
        for key in list(xobjects.keys()):
            form = resolve(xobjects.raw_get(key))
            if not isinstance(form, generic.StreamObject) or id(form) in seen:
                continue
            seen.add(id(form))
            subtype = resolve(form.raw_get("/Subtype")) if "/Subtype" in form else None
            if subtype != "/Form":
                continue
            out.append(form)
            if "/Resources" in form:
                stack.append((resolve(form.raw_get("/Resources")), depth + 1))
    return out


def check(page_refs: list[Any], indices: list[int], name: str) -> None:
    """Refuse (before any PIN) a document whose pages ``indices`` would expand beyond the budgets."""
    total = streams = 0
    for index in indices:
        try:
            page = resolve(page_refs[index])
            page_size = 0
            for stream in _page_streams(page):
                streams += 1
                if streams > MAX_STREAMS:
                    raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_PAGE_BYTES >> 20)
                page_size += _expanded_size(stream, MAX_PAGE_BYTES - page_size)
                if page_size > MAX_PAGE_BYTES:
                    raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_PAGE_BYTES >> 20)
        except TreeError:
            continue  # a broken reference: PDFium skips what it cannot read, and so does the count
        total += page_size
        if total > MAX_DOCUMENT_BYTES:
            raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_DOCUMENT_BYTES >> 20)
