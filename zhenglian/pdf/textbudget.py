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

The same count guards the preview before PDFium draws pages (pdf/rendering.py): drawing
a page expands its content just as reading its text does.

Encrypted documents are counted like any other: the document is opened with its
password (pdf/document.py) and pyHanko decrypts every object it hands out, so the
streams counted here are the decrypted ones PDFium will read.  A stream with its own
``/Crypt`` filter (PDF 7.4.10; pyHanko leaves it to the decoder) is decrypted here
with the document's security handler before it is inflated.  A document pyHanko
cannot decrypt (certificate encryption, an unknown handler) never gets this far:
opening it is refused (``document_encryption_unsupported``), so nothing is counted
and nothing reaches PDFium.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from zhenglian import errors
from zhenglian.pdf.pdftree import TreeError, resolve

if TYPE_CHECKING:
    from zhenglian.pdf.document import OpenedPdf

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


def _resolved(value: Any) -> Any:
    """``value`` dereferenced; None for a broken reference (a cycle, a missing object), which
    PDFium reads as null: it spoils that one value, never the rest of the page's count."""
    from pyhanko.pdf_utils.misc import PdfReadError

    try:
        return resolve(value)
    except (TreeError, PdfReadError):
        return None


def _get(dictionary: Any, key: str) -> Any:
    """``dictionary[key]`` dereferenced like :func:`_resolved`; None when absent or not a dictionary."""
    from pyhanko.pdf_utils import generic

    if not isinstance(dictionary, generic.DictionaryObject) or key not in dictionary:
        return None
    return _resolved(dictionary.raw_get(key))


def _items(array: Any) -> list[Any]:
    """An array's entries, each dereferenced like :func:`_resolved` (indexing would recurse on a cycle)."""
    return [_resolved(array.raw_get(i)) for i in range(len(array))]


def _filters(stream: Any) -> list[str]:
    """The stream's filter names; an entry that is not a name counts as an unknown filter."""
    from pyhanko.pdf_utils import generic

    value = _get(stream, "/Filter")
    if isinstance(value, generic.NameObject):
        return [str(value)]
    if isinstance(value, generic.ArrayObject):
        return [str(v) if isinstance(v, generic.NameObject) else "?" for v in _items(value)]
    return []


def _first_params(stream: Any) -> Any:
    """The decode parameters of the stream's first filter (a dictionary, or None)."""
    from pyhanko.pdf_utils import generic

    value = _get(stream, "/DecodeParms")
    if isinstance(value, generic.ArrayObject):
        value = _resolved(value.raw_get(0)) if len(value) else None
    return value if isinstance(value, generic.DictionaryObject) else None


def _decrypted(stream: Any, data: bytes, security: Any) -> bytes | None:
    """A ``/Crypt``-filtered stream's data decrypted as PDFium will (None: it cannot be).

    ``/Identity`` (the default name) leaves the data as it is; another name is one of
    the document's crypt filters, applied with its key the way pyHanko's decoder does.
    """
    from pyhanko.pdf_utils.filters import CryptFilterDecoder

    params = _first_params(stream)
    name = str(_get(params, "/Name")) if params is not None and "/Name" in params else "/Identity"
    if name == "/Identity":
        return data
    if security is None:
        return None  # a named crypt filter in a document without encryption
    try:
        return CryptFilterDecoder(security).decode(data, params)
    except Exception:  # noqa: BLE001 - a hostile filter name or broken data can raise anything
        return None


def _expanded_size(stream: Any, budget: int, security: Any = None) -> int:
    data = stream.encoded_data
    filters = _filters(stream)
    if filters and filters[0] == "/Crypt":  # the spec puts it first; decrypted, it expands nothing
        decrypted = _decrypted(stream, data, security)
        if decrypted is not None:
            data, filters = decrypted, filters[1:]
        # else /Crypt stays: counted like any unknown filter (64×), nothing after it inflated
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
    contents = _get(page, "/Contents")
    if isinstance(contents, generic.StreamObject):
        out.append(contents)
    elif isinstance(contents, generic.ArrayObject):
        out.extend(s for s in _items(contents) if isinstance(s, generic.StreamObject))
    node, hops = page, 0
    while isinstance(node, generic.DictionaryObject) and "/Resources" not in node and "/Parent" in node and hops < 64:
        node, hops = _get(node, "/Parent"), hops + 1
    seen: set[int] = set()
    stack = [(_get(node, "/Resources"), 0)]
    while stack:
        resources, depth = stack.pop()
        if not isinstance(resources, generic.DictionaryObject) or depth > MAX_FORM_DEPTH:
            continue
        xobjects = _get(resources, "/XObject")
        if not isinstance(xobjects, generic.DictionaryObject):
            continue
        for key in list(xobjects.keys()):
            form = _get(xobjects, key)
            if not isinstance(form, generic.StreamObject) or id(form) in seen:
                continue
            seen.add(id(form))
            if _get(form, "/Subtype") != "/Form":
                continue
            out.append(form)
            if "/Resources" in form:
                stack.append((_get(form, "/Resources"), depth + 1))
    return out


def check_document(doc: OpenedPdf) -> None:
    """Refuse (before any PIN, before PDFium reads it) a document whose pages expand beyond the budgets.

    Counted once per opened document: the anchor search and the preview ask as often as they like.
    """
    if not doc.text_budget_checked:
        security = doc.reader.security_handler if doc.encrypted else None
        check(doc.page_refs, doc.name, security)
        doc.text_budget_checked = True


def check(page_refs: list[Any], name: str, security: Any = None) -> None:
    """Refuse (before any PIN) a document whose pages would expand beyond the budgets.

    ``security``: the document's pyHanko security handler, once authenticated (for ``/Crypt`` filters).
    """
    total = streams = 0
    for index, ref in enumerate(page_refs):
        try:
            page = resolve(ref)
            page_size = 0
            for stream in _page_streams(page):
                streams += 1
                if streams > MAX_STREAMS:
                    raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_PAGE_BYTES >> 20)
                page_size += _expanded_size(stream, MAX_PAGE_BYTES - page_size, security)
                if page_size > MAX_PAGE_BYTES:
                    raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_PAGE_BYTES >> 20)
        except TreeError:
            continue  # a broken reference: PDFium skips what it cannot read, and so does the count
        total += page_size
        if total > MAX_DOCUMENT_BYTES:
            raise errors.DocumentTooComplex(path=name, page=index + 1, limit_mb=MAX_DOCUMENT_BYTES >> 20)
