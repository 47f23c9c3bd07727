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

Counting bounds what PDFium expands, not how long it takes to draw it: 60 MB of line
drawings (a dense CAD plan) took over two minutes for one page.  So a page is drawn
progressively (``FPDF_RenderPageBitmap_Start`` / ``_Continue``), and PDFium asks between
steps whether to stop: when the caller cancelled (another page or document was chosen)
or :data:`RENDER_SECONDS` have passed (:class:`~zhenglian.errors.PageTooSlowToShow`).
PDFium asks only between a page's top-level objects: a Form XObject, and the form fields
drawn over the page (``FPDF_FFLDraw``), are each drawn in one step.  A page whose drawing
sits in one such form is given up only after it (a million lines in one form: 45 s),
holding the lock that long; the window's thread never draws or waits on it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from zhenglian import errors

# One caller in PDFium at a time in this process (the preview's window thread, its
# loader, the anchor search in a worker).
PDFIUM_LOCK = threading.Lock()
RENDER_SECONDS = 20.0  # a page not drawn by then is not shown (errors.PageTooSlowToShow)
monotonic = time.monotonic  # the clock the render time is measured on (a test moves its own)


class RenderCancelled(Exception):
    """The page was no longer wanted (``cancelled()`` turned true) before PDFium finished it."""


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


def render_page(pdf: Any, index: int, *, scale: float | None = None, longest: float | None = None,
                cancelled: Callable[[], bool] | None = None, seconds: float | None = None) -> Any:
    """Page ``index`` as an RGBA PIL image: at ``scale`` (pixels per point), or ``longest`` pixels on its
    longer side.  Returns (image, (width pt, height pt)); the image owns its pixels.

    Stops with :class:`RenderCancelled` once ``cancelled()`` is true, and with
    :class:`~zhenglian.errors.PageTooSlowToShow` after ``seconds`` (:data:`RENDER_SECONDS`)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as c
    from pypdfium2.internal import set_callback

    limit = RENDER_SECONDS if seconds is None else seconds
    with PDFIUM_LOCK:
        started = monotonic()

        def stop_now() -> bool:
            return (cancelled is not None and cancelled()) or monotonic() - started > limit

        def stop_if_due() -> None:
            if cancelled is not None and cancelled():
                raise RenderCancelled
            if monotonic() - started > limit:
                raise errors.PageTooSlowToShow(page=index + 1, seconds=f"{limit:g}")

        page = pdf[index]
        try:
            w, h = page.get_size()
            s = scale if scale is not None else (longest or 96) / max(w, h, 1)
            width, height = max(1, math.ceil(w * s)), max(1, math.ceil(h * s))
            bitmap = pdfium.PdfBitmap.new_native(width, height, c.FPDFBitmap_BGR)
            try:
                bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
                pause = c.IFSDK_PAUSE(version=1)
                set_callback(pause, "NeedToPauseNow", lambda _pause: bool(stop_now()))
                try:
                    status = c.FPDF_RenderPageBitmap_Start(bitmap, page, 0, 0, width, height, 0, c.FPDF_ANNOT, pause)
                    while status == c.FPDF_RENDER_TOBECONTINUED:
                        stop_if_due()
                        status = c.FPDF_RenderPage_Continue(page, pause)
                finally:
                    c.FPDF_RenderPage_Close(page)
                stop_if_due()  # the page itself finished at the limit: the form fields are not drawn
                if status == c.FPDF_RENDER_FAILED:
                    raise errors.DocumentCorrupt(path=f"page {index + 1}", detail="PDFium could not draw it")
                if page.formenv:  # the form fields (seals already on the document) over the page
                    c.FPDF_FFLDraw(page.formenv, bitmap, page, 0, 0, width, height, 0, c.FPDF_ANNOT)
                return bitmap.to_pil().convert("RGBA"), (w, h)  # a copy: the bitmap's memory goes now
            finally:
                bitmap.close()
        finally:
            page.close()


def close(pdf: Any) -> None:
    with PDFIUM_LOCK:
        pdf.close()
