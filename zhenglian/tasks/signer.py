"""The one place where tasks meet PDF signing (zhenglian.pdf).

A task says where the seal goes (anchor text, or page + position; 骑缝章;
certification); :meth:`TaskSigner.sign` turns that into zhenglian.pdf
placements, signs the original bytes on the key and checks the result
before it is queued: exactly one more signature, intact, by this key's
certificate, covering the whole file.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from zhenglian import errors
from zhenglian.server.models import Task

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

# Where the seal goes when a task names neither an anchor nor a position:
# the lower right of the page, as a signing block usually is.
DEFAULT_FROM_RIGHT_MM = 50.0
DEFAULT_FROM_BOTTOM_MM = 60.0


class TaskSigner:
    """Signs task documents in one logged-in key session (see :func:`zhenglian.tasks.pipeline.open_task_signer`)."""

    def __init__(self, batch: Any, handle: KeyHandle) -> None:
        self.batch = batch
        self.handle = handle
        self.key = handle.key
        self.last: Any = None  # the SignResult of the last document (spots, pages) for the register
        cert = handle.key.signing_certificate()
        self.cert_der = cert.info.der if cert else None  # the self-check's signer

    def placements(self, original: bytes, task: Task, seal: Any) -> tuple[list[Any], Any]:
        from zhenglian.pdf.document import open_pdf

        if task.placement.anchor_text:
            return self._placements(None, task, seal)
        with open_pdf(original, name=task.title) as doc:
            return self._placements(doc, task, seal)

    def _placements(self, doc: Any, task: Task, seal: Any) -> tuple[list[Any], Any]:
        """The placements on the opened ``doc`` (not needed for an anchor)."""
        from zhenglian.pdf import placement as pl
        from zhenglian.pdf.geometry import page_box

        p = task.placement
        cross = pl.CrossPage(seal=seal) if p.cross_page else None
        if p.anchor_text:
            return [pl.AtAnchor(p.anchor_text, seal=seal)], cross
        page = p.page if p.page > 0 else doc.page_count + 1 + p.page
        if not 1 <= page <= doc.page_count:
            raise errors.PageOutOfRange(path=task.title, page=p.page, pages=doc.page_count)
        if p.x_mm is not None and p.y_mm is not None:
            return [pl.AtPosition(page, p.x_mm, p.y_mm, seal=seal)], cross
        w, h = page_box(doc.page(page - 1)).visible_size_mm
        return [pl.AtPosition(page, w - DEFAULT_FROM_RIGHT_MM, h - DEFAULT_FROM_BOTTOM_MM, seal=seal)], cross

    def sign(self, original: bytes, task: Task, seal: Any) -> bytes:
        """The signed PDF for ``task`` (the original is untouched: an incremental update)."""
        signed, self.last = self.sign_with_result(original, task, seal)
        return signed

    def sign_with_result(self, original: bytes, task: Task, seal: Any,
                         ticket: Any = None) -> tuple[bytes, Any]:
        """(the signed PDF, the SignResult); ``ticket``: its place in a pipelined batch.

        Safe to call from several threads at once: nothing of one document is kept here.
        """
        from zhenglian.pdf.document import open_pdf

        # Opened once (under the task's title: a message names the document the operator
        # knows): the placements are read from it and it is then signed; it used to be
        # parsed a second time to place the seal.
        doc = open_pdf(original, name=task.title)
        try:
            placements, cross = self._placements(doc, task, seal)
        except BaseException:
            doc.close()
            raise
        prepared = self.batch.prepare_opened(doc, placements, seal=seal, cross_page=cross,
                                             certify=task.placement.certify)
        # In memory: the outbox is where a task's signed file is kept (and fsynced) — it was
        # written and fsynced into the work directory first, read back and deleted.
        out = io.BytesIO()
        with prepared:
            result = self.batch.sign(prepared, out, ticket=ticket)
        signed = out.getvalue()
        self.check(original, signed, task)
        return signed, result

    def check(self, original: bytes, signed: bytes, task: Task) -> None:
        """Verify locally before anything leaves the machine (:mod:`zhenglian.pdf.selfcheck`)."""
        from zhenglian.pdf.selfcheck import check_last
        from zhenglian.pdf.verify import count_signatures

        def fail(detail: str) -> errors.SigningFailed:
            return errors.SigningFailed(path=task.title, detail=detail)

        if not signed.startswith(original):
            raise fail("原文件未原样保留 / the original was not kept as it was")
        # The new (last) signature's integrity is checked; the earlier ones are the server's
        # document as it came, counted but not checked again.  Trust is the server's call.
        last = check_last(signed, name=task.title)
        before = count_signatures(original) if b"/ByteRange" in original else 0
        if last.count <= before:
            raise fail("没有新签名 / no new signature")
        if not (last.intact and last.valid and last.entire_file):
            raise fail("签名自检未通过 / the new signature did not verify")
        if self.cert_der is not None and last.signer_der != self.cert_der:
            raise fail("签名证书不是本 UKey 的 / signed with another certificate")
