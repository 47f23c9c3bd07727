"""Pages drawn by PDFium (the preview's pages and thumbnails), only once their expanded size is counted.

PDFium expands a page's content streams to draw it just as it does to read its text
(:mod:`zhenglian.pdf.textbudget`): a 70 KB file whose page inflates to gigabytes made the
preview spend memory and time without bound.  So a document is drawn only through
:func:`open_document`: pyHanko reads it first (decrypting it with its password, so an
encrypted document's streams are counted as PDFium will read them), its pages are counted
against the same budget as the anchor search, and only then is it handed to PDFium.  A
document pyHanko cannot read (damaged beyond reading, certificate-encrypted) cannot be
counted, and is not drawn: its error is shown instead.

PDFium is not thread-safe: every call into it, here and in the anchor search, holds
:data:`PDFIUM_LOCK`.
"""

from __future__ import annotations

import threading
from typing import Any

from zhenglian import errors

# One caller in PDFium at a time in this process (the preview's window thread, its
# loader, the anchor search in a worker).
PDFIUM_LOCK = threading.Lock()


def pdfium_document(source: Any, password: str | None, name: str) -> Any:
    """PDFium's document for ``source`` (path or bytes); DocumentCorrupt when PDFium cannot read it.
    The caller holds :data:`PDFIUM_LOCK`."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(source, password=password or None)
    except pdfium.PdfiumError as exc:
        raise errors.DocumentCorrupt(path=name, detail=f"PDFium: {exc}") from None


def open_document(source: Any, password: str | None = None, *, name: str | None = None) -> Any:
    """A pypdfium2 document for ``source`` (path or bytes), its forms set up to be drawn.

    Raises a typed error when pyHanko cannot read it, and
    :class:`~zhenglian.errors.DocumentTooComplexToShow` when its pages expand beyond the
    budget; the caller closes the document with :func:`close`.
    """
    import pypdfium2 as pdfium

    from zhenglian.pdf import textbudget
    from zhenglian.pdf.document import open_pdf

    with open_pdf(source, password, name=name, for_signing=False) as doc:
        try:
            textbudget.check_document(doc)
        except errors.DocumentTooComplex as exc:
            raise errors.DocumentTooComplexToShow(**exc.facts) from None
        data, used = doc.pdfium_source(), doc.password
        with PDFIUM_LOCK:
            pdf = pdfium_document(data, used, doc.name)
            try:
                pdf.init_forms()  # seals already on the document are signature widgets: draw them
            except BaseException as exc:
                pdf.close()  # here, under the lock, not by the garbage collector
                if isinstance(exc, pdfium.PdfiumError):
                    raise errors.DocumentCorrupt(path=doc.name, detail=f"PDFium: {exc}") from None
                raise
    return pdf


def page_count(pdf: Any) -> int:
    with PDFIUM_LOCK:
        return len(pdf)


def render_page(pdf: Any, index: int, *, scale: float | None = None, longest: float | None = None) -> Any:
    """Page ``index`` as an RGBA PIL image: at ``scale`` (pixels per point), or ``longest`` pixels on its
    longer side.  Returns (image, (width pt, height pt)); the image owns its pixels."""
    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            w, h = page.get_size()
            bitmap = page.render(scale=scale if scale is not None else (longest or 96) / max(w, h, 1))
            try:
                return bitmap.to_pil().convert("RGBA"), (w, h)  # a copy: the bitmap's memory goes now
            finally:
                bitmap.close()
        finally:
            page.close()


def close(pdf: Any) -> None:
    with PDFIUM_LOCK:
        pdf.close()
