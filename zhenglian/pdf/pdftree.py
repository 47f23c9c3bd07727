"""Walk the parts of a PDF that signing and verifying touch, once, iteratively and bounded.

A document is hostile until read: its page tree may loop (a /Kids holding
its own ancestor), an indirect object may be a reference to itself (``6 0
obj 6 0 R endobj``) or to another that points back, and it may be large.
pyHanko follows references recursively, so such files end in
``RecursionError`` deep inside it.  Here every walk is a loop with a visited
set and a bound, and everything pyHanko will read later when it signs (the
page tree and pages, their annotations, the catalog, the /Info dictionary,
metadata, outlines, AcroForm) is read now — so a file that breaks a strict
syntax rule anywhere there is found before any PIN is asked, and a broken
one is refused as corrupt.

One walk of the page tree gives every page's reference in order: looking a
page up is then a list index, linear in the number of pages (pyHanko's
``find_page_for_modification`` walks the tree from the root every time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: A page tree deeper than this is refused (real files: fewer than 10 levels).
MAX_TREE_DEPTH = 64
#: A reference to a reference to … longer than this is refused.
MAX_REF_CHAIN = 32
#: A form-field tree deeper than this is refused (pyHanko walks it recursively).
MAX_FORM_DEPTH = 64
#: Fields (with repeats) pyHanko's recursive walk of the form may visit at most.
MAX_FORM_VISITS = 100_000
#: Objects the structural read visits at most (a 20 000-page file needs ~200 000).
MAX_OBJECTS = 2_000_000

# Keys whose values are read (the reference resolved) but not walked into:
# content (fonts, images, form XObjects) pyHanko does not read when signing,
# and back-pointers walked elsewhere.
_SHALLOW = frozenset({
    "/Resources", "/DR", "/AP", "/Parent", "/P", "/Pages", "/Names", "/EF", "/AF", "/Dests", "/StructTreeRoot",
    "/A", "/AA", "/Dest", "/SE", "/StructParent", "/StructParents", "/OCProperties", "/PieceInfo",
    "/Threads", "/B", "/Popup", "/IRT", "/Thumb", "/OpenAction",
})
# Keys not read at all: page content streams (pdfium reads them, pyHanko does
# not), and signature dictionaries (a field's /V, /Perms' /DocMDP and /UR3):
# in an encrypted file their /Contents is not encrypted, and pyHanko reads
# them its own way (``embedded_signatures``).
_SKIP = frozenset({"/Contents", "/V", "/DocMDP", "/UR3"})


class TreeError(Exception):
    """The document's structure is broken; ``str()`` says how (short, English)."""


def resolve(value: Any) -> Any:
    """``value`` with any chain of indirect references followed, without recursion.

    pyHanko's ``IndirectObject.get_object`` calls itself for an object that is
    a reference; a cycle of such objects is a ``RecursionError``.  Here the
    chain is followed in a loop and a cycle is a :class:`TreeError`.
    """
    from pyhanko.pdf_utils import generic

    seen: set[Any] = set()
    while isinstance(value, generic.IndirectObject):
        ref = value.reference
        if ref in seen or len(seen) >= MAX_REF_CHAIN:
            raise TreeError(f"indirect-reference cycle at object {ref.idnum} {ref.generation}")
        seen.add(ref)
        handler = value.get_pdf_handler()
        if handler is None:
            return generic.NullObject()
        value = handler.get_object(ref)
    return value


def _kids(node: Any) -> list[Any]:
    from pyhanko.pdf_utils import generic

    kids = resolve(node.raw_get("/Kids"))
    if not isinstance(kids, generic.ArrayObject):
        raise TreeError("a page-tree node's /Kids is not an array")
    return [kids.raw_get(i) for i in range(len(kids))]


def _count(node: Any) -> int:
    count = resolve(node.raw_get("/Count"))
    if not isinstance(count, int) or isinstance(count, bool):
        raise TreeError("a page-tree node's /Count is not a number")
    return int(count)


def page_refs(reader: Any) -> list[Any]:
    """Every page's indirect reference, in document order: one walk of the page tree.

    Refused (:class:`TreeError`): a node seen twice (a cycle, or a page listed
    twice), a tree deeper than :data:`MAX_TREE_DEPTH`, a kid that is not an
    indirect object or not a /Page or /Pages, and a /Count that does not match
    the pages below it (pyHanko finds page *n* by the counts, so a wrong count
    would put a seal on another page than the one asked for).
    """
    from pyhanko.pdf_utils import generic

    root_ref = reader.root.raw_get("/Pages")
    if not isinstance(root_ref, generic.IndirectObject):
        raise TreeError("the page tree root is not an indirect object")
    root = resolve(root_ref)
    if not isinstance(root, generic.DictionaryObject):
        raise TreeError("the page tree root is not a dictionary")
    seen = {root_ref.reference}
    pages: list[Any] = []
    # Frames: (node, its kids, next kid index, pages before it).
    stack: list[tuple[Any, list[Any], list[int], int]] = [(root, _kids(root), [0], 0)]
    while stack:
        node, kids, pos, start = stack[-1]
        if pos[0] == len(kids):
            stack.pop()
            if _count(node) != len(pages) - start:
                raise TreeError(f"a page-tree node says /Count {_count(node)} but holds {len(pages) - start} pages")
            continue
        kid_ref = kids[pos[0]]
        pos[0] += 1
        if not isinstance(kid_ref, generic.IndirectObject):
            raise TreeError("a page-tree child is not an indirect object")
        if kid_ref.reference in seen:
            raise TreeError(f"the page tree loops or repeats object {kid_ref.reference.idnum}")
        seen.add(kid_ref.reference)
        kid = resolve(kid_ref)
        if not isinstance(kid, generic.DictionaryObject):
            raise TreeError("a page-tree child is not a dictionary")
        kind = resolve(kid.raw_get("/Type")) if "/Type" in kid else None
        if kind == "/Pages":
            if len(stack) >= MAX_TREE_DEPTH:
                raise TreeError(f"the page tree is deeper than {MAX_TREE_DEPTH} levels")
            stack.append((kid, _kids(kid), [0], len(pages)))
        elif kind == "/Page":
            pages.append(kid_ref)
        else:
            raise TreeError("a page-tree child is neither /Page nor /Pages")
    return pages


def check_form_tree(reader: Any) -> int:
    """Refuse a form-field tree pyHanko could not walk: loops, too deep, too many paths.

    pyHanko's ``enumerate_sig_fields`` recurses through /Kids and only
    notices a field that is its own ancestor: a field listed twice under one
    parent, at each of 40 levels, is 2**40 visits — a hang.  Here the walk
    pyHanko would make is made first, iteratively, with a budget of
    :data:`MAX_FORM_VISITS` fields and :data:`MAX_FORM_DEPTH` levels (a field
    listed twice, as some producers write, costs just one more visit).
    Returns the number of visits.
    """
    from pyhanko.pdf_utils import generic

    try:
        form = resolve(reader.root.raw_get("/AcroForm"))
        fields = resolve(form.raw_get("/Fields"))
    except (KeyError, AttributeError):
        return 0
    if not isinstance(fields, generic.ArrayObject):
        return 0
    visits = 0
    stack: list[tuple[Any, int]] = [(fields.raw_get(i), 1) for i in range(len(fields))]
    while stack:
        ref, depth = stack.pop()
        visits += 1
        if visits > MAX_FORM_VISITS:
            raise TreeError(f"the form-field tree repeats itself (more than {MAX_FORM_VISITS} fields to visit)")
        if depth > MAX_FORM_DEPTH:
            raise TreeError(f"the form-field tree loops or is deeper than {MAX_FORM_DEPTH} levels")
        node = resolve(ref)
        if not isinstance(node, generic.DictionaryObject) or "/Kids" not in node:
            continue
        kids = resolve(node.raw_get("/Kids"))
        if isinstance(kids, generic.ArrayObject):
            stack.extend((kids.raw_get(i), depth + 1) for i in range(len(kids)))
    return visits


def _children(obj: Any) -> Iterator[tuple[str | None, Any]]:
    from pyhanko.pdf_utils import generic

    if isinstance(obj, generic.DictionaryObject):  # streams too: their dictionary
        for key in list(obj.keys()):
            yield str(key), obj.raw_get(key)
    elif isinstance(obj, generic.ArrayObject):
        for i in range(len(obj)):
            yield None, obj.raw_get(i)


def _read_metadata(reader: Any, root: Any) -> None:
    """Read the catalog's XMP stream as pyHanko's writer will, without caching it.

    pyHanko keeps an XMP stream it parsed (``as_metadata_stream``) in the
    reader's cache without a container reference, and its difference analysis
    of later revisions then fails on it; a read "at a revision" bypasses the
    cache, so here only the syntax is checked.
    """
    from pyhanko.pdf_utils import generic

    meta = root.raw_get("/Metadata") if "/Metadata" in root else None
    if isinstance(meta, generic.IndirectObject):
        reader.get_object(meta.reference, revision=reader.total_revisions - 1, as_metadata_stream=True)


def read_structure(reader: Any, pages: list[Any]) -> int:
    """Read everything pyHanko touches when signing: catalog, /Info, pages, annotations, forms, outlines.

    Iterative, each object once, at most :data:`MAX_OBJECTS`.  Strict-mode
    syntax errors (pyHanko's ``PdfStrictReadError``) propagate, so the caller
    can reread the file leniently; a reference cycle is a :class:`TreeError`.
    Returns the number of objects visited.
    """
    from pyhanko.pdf_utils import generic

    seen: set[Any] = set()
    todo: list[Any] = []

    def visit(value: Any, descend: bool) -> None:
        if isinstance(value, generic.IndirectObject):
            if value.reference in seen:
                return
            seen.add(value.reference)
            value = resolve(value)
        if descend and isinstance(value, (generic.DictionaryObject, generic.ArrayObject)):
            todo.append(value)

    trailer = reader.trailer
    if "/Info" in trailer:
        visit(trailer.raw_get("/Info"), True)
    root = reader.root
    todo.append(root)
    for ref in pages:
        visit(ref, True)
    _read_metadata(reader, root)
    visited = 0
    while todo:
        obj = todo.pop()
        visited += 1
        if visited > MAX_OBJECTS:
            raise TreeError(f"more than {MAX_OBJECTS} objects in the document structure")
        for key, value in _children(obj):
            if key in _SKIP or key == "/Metadata":
                continue
            visit(value, key not in _SHALLOW)
    return visited
