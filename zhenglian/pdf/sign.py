"""Sign PDFs with the key: PAdES B-B (B-T with a timestamp server), seal as appearance.

Two steps, so that nothing needs the PIN until everything that can fail
without it has been checked:

1. :func:`prepare` opens a document and resolves where the seals go
   (encrypted, corrupt, locked, anchor missing, page out of range … are all
   refused here);
2. :class:`SigningBatch` holds one signer (one logged-in key session), one
   event loop and the seals encoded once, and signs prepared documents one
   after another.

Each seal makes one signature whose field has one widget per place the seal
shows (several anchors, the cross-page strips): pyHanko creates the field
with the first widget and draws its appearance through
:class:`~zhenglian.pdf.appearance.SealStampStyle`; the other widgets are
added to the same revision before the document is hashed, so the signature
covers them.  A document already signed gets an incremental update; earlier
signatures stay valid (adding signature fields is an allowed change; what a certification
or an earlier signature's field lock forbids is refused in :func:`prepare`).

Output goes to a temporary file beside the target and replaces it only when
complete; the input is only ever opened for reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from asn1crypto import x509

from zhenglian import errors
from zhenglian.memo import BoundedMemo
from zhenglian.pdf import fieldlocks
from zhenglian.pdf import placement as pl
from zhenglian.pdf.document import OpenedPdf, Source, open_pdf, source_name
from zhenglian.pdf.outfile import atomic_output, same_file
from zhenglian.pdf.overlap import SoloTicket, Stopped, Ticket
from zhenglian.pdf.seal import EncodedSeal, SealLike, check_picture, encoded
from zhenglian.pki.cert import CertInfo

log = logging.getLogger(__name__)

FIELD_PREFIX = "Seal"
# Room for the CMS blob, estimated once per signer (see SigningBatch._reserve_key) and
# reused by later batches of the same process: the estimate is a full dry-run CMS build.
_RESERVED = BoundedMemo(64)  # SigningBatch._reserve_key -> bytes reserved


@dataclass(frozen=True)
class SignerIdentity:
    """Whose signature it is: the certificate, its issuing chain, and the facts shown."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    info: CertInfo

    @property
    def organization(self) -> str | None:
        return self.info.organization

    @property
    def uscc(self) -> str | None:
        return self.info.uscc


def check_certificate(info: CertInfo, now: datetime | None = None) -> None:
    """Refuse an expired or not-yet-valid certificate (before any PIN is asked).

    One rule for every signer: :func:`zhenglian.lifecycle.check_usable`.
    """
    from zhenglian.lifecycle import check_usable

    check_usable(info, now)


@dataclass
class PreparedDocument:
    """A document checked and placed, waiting for the key."""

    opened: OpenedPdf
    groups: list[pl.SpotGroup]
    certify: bool
    field_names: list[str]  # each group's signature field: the existing one, or the new one's name
    used: bool = False

    @property
    def name(self) -> str:
        return self.opened.name

    def close(self) -> None:
        self.opened.close()

    def __enter__(self) -> PreparedDocument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare(source: Source, placements: Sequence[pl.Placement], *, seal: SealLike | None = None,
            cross_page: pl.CrossPage | None = None, certify: bool = False,
            password: str | None = None, name: str | None = None) -> PreparedDocument:
    """Open and check ``source`` and resolve the placements; needs no key.

    ``name``: how messages call a document given as bytes (a task's title)."""
    return prepare_opened(open_pdf(source, password, name=name), placements, seal=seal, cross_page=cross_page,
                          certify=certify)


def prepare_opened(doc: OpenedPdf, placements: Sequence[pl.Placement], *, seal: SealLike | None = None,
                   cross_page: pl.CrossPage | None = None, certify: bool = False) -> PreparedDocument:
    """:func:`prepare` for a document already opened (it is owned from here: closed on failure,
    or by the PreparedDocument), so a caller that needed the document to choose the placements
    does not parse it a second time."""
    try:
        groups = pl.resolve(doc, placements, seal, cross_page)
        if certify:
            if doc.signature_count:
                raise errors.DocumentLocked(
                    path=doc.name, reason_zh="已有签名的文档不能再做认证签名（认证签名必须是第一个签名）",
                    reason_en="it is already signed, and a certification must be the first signature")
            if len(groups) != 1:
                raise errors.UsageError(detail="认证签名只能使用一枚印章 / certification takes exactly one seal")
        names = _group_field_names(doc, groups)
        fieldlocks.check(doc.name, doc.reader, doc.field_locks,
                         ((name, g.existing_field is None) for name, g in zip(names, groups, strict=True)))
        for group in groups:
            check_picture(group.seal)  # a broken seal picture fails now, not after the PIN
        return PreparedDocument(doc, groups, certify, names)
    except BaseException:
        doc.close()
        raise


@dataclass(frozen=True)
class SignatureMade:
    field_name: str
    seal_name: str
    spots: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field_name, "seal": self.seal_name, "spots": self.spots}


@dataclass
class SignResult:
    input: str
    output: Path
    signatures: list[SignatureMade]
    certified: bool
    timestamped: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)
    pages: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "output": str(self.output), "certified": self.certified, "pages": self.pages,
                "timestamped": self.timestamped, "seconds": round(self.seconds, 4),
                "signatures": [s.to_dict() for s in self.signatures], "warnings": self.warnings}


def cause_of(exc: BaseException, types: type | tuple[type, ...]) -> BaseException | None:
    """The first exception of ``types`` in ``exc``'s cause/context chain (pyHanko wraps what
    its signer raised), looked at most 8 links deep; None when there is none."""
    cur: BaseException | None = exc
    for _ in range(8):
        if cur is None:
            return None
        if isinstance(cur, types):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


def _pkcs11_error(exc: BaseException) -> BaseException | None:
    """The PKCS#11 error inside ``exc`` (pyHanko may wrap it), if any."""
    try:
        import pkcs11
    except ImportError:  # pragma: no cover
        return None
    return cause_of(exc, pkcs11.PKCS11Error)


def _stopped(exc: BaseException) -> Stopped | None:
    """The :class:`Stopped` inside ``exc`` (pyHanko may wrap what its signer raised), if any."""
    found = cause_of(exc, Stopped)
    return found if isinstance(found, Stopped) else None


def _timestamp_error(exc: BaseException) -> bool:
    from pyhanko.sign.timestamps import TimestampRequestError

    try:
        import aiohttp

        net = (aiohttp.ClientError,)
    except ImportError:  # pragma: no cover
        net = ()
    return cause_of(exc, (TimestampRequestError, *net)) is not None


def _scratch(output: Path | io.BytesIO) -> BinaryIO:
    """Where an intermediate revision goes: beside the output file, or in memory with it."""
    if isinstance(output, io.BytesIO):
        return io.BytesIO()
    return tempfile.TemporaryFile(dir=output.parent)  # noqa: SIM115 - closed by the caller's finally


class SigningBatch:
    """One key session, one event loop, seals encoded once: many documents.

    ``signer`` is a pyHanko :class:`~pyhanko.sign.signers.Signer` — normally
    a ``PKCS11Signer`` on a logged-in session (see
    :func:`zhenglian.pdf.keysign.key_batch`); any other pyHanko signer works
    too (tests, a future SKF backend).
    """

    def __init__(self, signer: Any, identity: SignerIdentity | None = None, *, seal: SealLike | None = None,
                 timestamp_url: str | None = None, timestamper: Any = None) -> None:
        self.signer = signer
        self.identity = identity
        self.seal = seal
        self.timestamp_url = timestamp_url or None
        if timestamper is None and self.timestamp_url:
            from pyhanko.sign.timestamps import HTTPTimeStamper

            timestamper = HTTPTimeStamper(self.timestamp_url, timeout=10)
        self.timestamper = timestamper
        # One event loop per thread that signs: a pipelined batch (zhenglian.pdf.overlap)
        # signs several documents at once on a few threads, each driving pyHanko on its own loop.
        self._local = threading.local()
        self._runners: list[asyncio.Runner] = []
        self._runners_lock = threading.Lock()
        self._closed = False
        # Room for the CMS blob: pyHanko estimates it with a dry-run signature
        # (a full CMS build, ≈ half the signing time).  It depends only on the
        # signer, its chain and the timestamper — the same for every document
        # of a batch — so it is estimated once (pyHanko adds a 50 % margin).
        self._reserved: int | None = None
        self._reserve_lock = threading.Lock()
        if seal is not None:
            encoded(seal)

    # --- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's event loop (call when no document is being signed any more)."""
        with self._runners_lock:
            self._closed = True
            runners, self._runners = self._runners, []
        for runner in runners:
            try:
                runner.close()
            except Exception:  # noqa: BLE001 - a loop that cannot close must not hide the batch's outcome
                log.debug("closing an event loop failed", exc_info=True)

    def _runner(self) -> asyncio.Runner:
        runner: asyncio.Runner | None = getattr(self._local, "runner", None)
        if runner is None:
            with self._runners_lock:
                if self._closed:
                    raise RuntimeError("batch is closed")
                runner = asyncio.Runner()
                self._runners.append(runner)
            self._local.runner = runner
        return runner

    def _thread_signer(self) -> Any:
        """This thread's signer.  asn1crypto parses and caches certificate fields lazily and
        not thread-safely (a name's fields are filled into a dict another thread may be reading:
        ``KeyError: 'organization_name'`` in a pipelined batch), so each signing thread gets
        its own certificate objects when the signer can give them (``for_thread``)."""
        signer = getattr(self._local, "signer", None)
        if signer is None:
            for_thread = getattr(self.signer, "for_thread", None)
            signer = self._local.signer = for_thread() if for_thread is not None else self.signer
        return signer

    def __enter__(self) -> SigningBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- use -----------------------------------------------------------------

    def prepare(self, source: Source, placements: Sequence[pl.Placement], *, seal: SealLike | None = None,
                cross_page: pl.CrossPage | None = None, certify: bool = False,
                password: str | None = None, name: str | None = None) -> PreparedDocument:
        return prepare(source, placements, seal=seal or self.seal, cross_page=cross_page,
                       certify=certify, password=password, name=name)

    def prepare_opened(self, doc: OpenedPdf, placements: Sequence[pl.Placement], *, seal: SealLike | None = None,
                       cross_page: pl.CrossPage | None = None, certify: bool = False) -> PreparedDocument:
        return prepare_opened(doc, placements, seal=seal or self.seal, cross_page=cross_page, certify=certify)

    def sign(self, document: PreparedDocument | Source, output: Path | str | io.BytesIO,
             placements: Sequence[pl.Placement] = (), *, seal: SealLike | None = None,
             cross_page: pl.CrossPage | None = None, certify: bool = False,
             password: str | None = None,
             before_publish: Callable[[Path, SignResult], None] | None = None,
             ticket: Ticket | None = None) -> SignResult:
        """Sign one document into ``output`` (atomically); returns what was made.

        ``output`` a ``BytesIO``: the signed document is written there and nowhere else — for
        a caller that keeps it durably itself (a task's signed file goes to the outbox, which
        fsyncs it); ``before_publish`` is then not allowed.
        ``before_publish(tmp, result)``: called with the signed bytes on disk, before they
        become ``output`` (the register's entry is committed there); if it raises, no output.
        ``ticket``: this document's place in a pipelined batch (:mod:`zhenglian.pdf.overlap`):
        it waits for its turn at the key and, for ``before_publish``, its turn to publish;
        several documents may then be signed at once from different threads.
        """
        if self._closed:
            raise RuntimeError("batch is closed")
        if isinstance(output, io.BytesIO):
            if before_publish is not None:
                raise ValueError("before_publish needs the signed file on disk")
        else:
            output = Path(output)
        own = not isinstance(document, PreparedDocument)
        doc = (self.prepare(document, placements, seal=seal, cross_page=cross_page, certify=certify,
                            password=password) if own else document)
        assert isinstance(doc, PreparedDocument)
        try:
            return self._sign_prepared(doc, output, before_publish, ticket or SoloTicket())
        finally:
            if own:
                doc.close()

    def _sign_prepared(self, doc: PreparedDocument, output: Path | io.BytesIO,
                       before_publish: Callable[[Path, SignResult], None] | None, ticket: Ticket) -> SignResult:
        if doc.used:
            raise RuntimeError("a prepared document is signed once")
        doc.used = True
        opened = doc.opened
        in_memory = isinstance(output, io.BytesIO)
        if not in_memory and opened.path is not None and same_file(opened.path, output):
            raise errors.OutputIsInput(path=str(output))
        shown = Path(opened.name) if in_memory else output  # what a message names
        started = time.perf_counter()
        made: list[SignatureMade] = []

        def result() -> SignResult:
            return SignResult(opened.name, shown, made, doc.certify, self.timestamper is not None,
                              time.perf_counter() - started, list(opened.warnings), opened.page_count)

        def publish(tmp: Path) -> None:
            assert before_publish is not None
            with ticket.publish():
                before_publish(tmp, result())

        sink: contextlib.AbstractContextManager[BinaryIO] = (
            contextlib.nullcontext(output) if isinstance(output, io.BytesIO)
            else atomic_output(output, before_publish=None if before_publish is None else publish))
        try:
            with sink as out:
                stream: BinaryIO = opened.stream
                reader = opened.reader
                spare: list[BinaryIO] = []
                try:
                    for i, group in enumerate(doc.groups):
                        last = i == len(doc.groups) - 1
                        # (a cross-page seal's earlier revisions: beside the output, or in memory with it)
                        target = out if last else _scratch(output)
                        if not last:
                            spare.append(target)
                        name = doc.field_names[i]
                        writer = _writer(reader, stream, opened, first=i == 0)
                        ticket.final_key_call = last
                        self._runner().run(self._sign_group(writer, group, name, doc.certify, target, ticket),
                                          context=contextvars.copy_context())
                        made.append(SignatureMade(name, str(group.seal.name),
                                                  [s.describe() for s in group.spots]))
                        if not last:
                            target.seek(0)
                            stream, reader = target, None
                    ticket.leave_key()  # every signature made: the next document may use the key
                finally:
                    for f in spare:
                        f.close()
        except (errors.ZhenglianError, Stopped):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
            stopped = _stopped(exc)
            if stopped is not None:  # the batch stopped while pyHanko waited for the key
                raise stopped from None
            if isinstance(exc, OSError):
                if _pkcs11_error(exc) is None and not _timestamp_error(exc):
                    raise errors.OutputWriteFailed.of(shown, exc) from None
                raise self._translate(exc, doc) from None
            raise self._translate(exc, doc) from None
        return result()

    def _reserve_key(self, signer: Any) -> tuple[Any, ...] | None:
        """What the CMS blob's size depends on (the certificate, its chain, the digest, the
        timestamp server), so the next batch of the same key reuses the estimate; None: do
        not reuse (a signer without a certificate, a timestamper given as an object)."""
        cert = getattr(signer, "signing_cert", None)
        if cert is None or (self.timestamper is not None and not self.timestamp_url):
            return None
        try:
            chain = tuple(sorted(c.dump() for c in (getattr(signer, "cert_registry", None) or ())))
            mechanism = getattr(signer, "signature_mechanism", None)
            return (type(signer).__name__, cert.dump(), chain, getattr(signer, "md_algorithm", None),
                    None if mechanism is None else mechanism.dump(), self.timestamp_url)
        except Exception:  # noqa: BLE001 - no reuse, estimate as before
            return None

    def _translate(self, exc: BaseException, doc: PreparedDocument) -> errors.ZhenglianError:
        p11 = _pkcs11_error(exc)
        if p11 is not None:
            import pkcs11

            from zhenglian.tokens.module import translate

            # The key object found at login is gone: the key was pulled out (or
            # swapped) under us.  SoftHSM says so when its token is deleted.
            if isinstance(p11, (pkcs11.ObjectHandleInvalid, pkcs11.KeyHandleInvalid)):
                return errors.TokenRemoved()
            return translate(p11)
        if _timestamp_error(exc):
            return errors.TimestampFailed(url=self.timestamp_url or "?", detail=type(exc).__name__)
        log.warning("signing %s failed", doc.name, exc_info=exc)
        return errors.SigningFailed(path=doc.name, detail=f"{type(exc).__name__}: {str(exc)[:120]}")

    async def _sign_group(self, writer: Any, group: pl.SpotGroup, field_name: str, certify: bool,
                          output: BinaryIO, ticket: Ticket) -> None:
        from pyhanko.sign import fields
        from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

        from zhenglian.pdf.appearance import DocumentSeal, SealStampStyle

        signer = self._thread_signer()
        enc: EncodedSeal = encoded(group.seal)
        doc_seal = DocumentSeal(enc, writer)
        primary, extra = group.spots[0], group.spots[1:]
        meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=getattr(signer, "md_algorithm", None) or "sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=enc.name,
            certify=certify,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        )
        spec = None
        if group.existing_field is None:
            spec = fields.SigFieldSpec(
                sig_field_name=field_name,
                on_page=primary.page_index,
                box=primary.rect,
                combine_annotation=not extra,
                readable_field_name=enc.name,
            )
        pdf_signer = PdfSigner(meta, signer=signer, timestamper=self.timestamper,
                               stamp_style=SealStampStyle(doc_seal=doc_seal, spot=primary),
                               new_field_spec=spec)
        session = pdf_signer.init_signing_session(writer, existing_fields_only=group.existing_field is not None)
        validation_info = await session.perform_presign_validation(writer)
        with self._reserve_lock:  # the first document estimates; the others wait for its figure
            if self._reserved is None:
                key = self._reserve_key(signer)
                self._reserved = _RESERVED.get(key) if key is not None else None
                if self._reserved is None:
                    self._reserved = await session.estimate_signature_container_size(validation_info)
                    if key is not None:
                        _RESERVED.put(key, self._reserved)
            reserved = self._reserved
        tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
        if extra:
            field_ref = _field_ref(writer, field_name)
            for spot in extra:
                doc_seal.add_widget(field_ref, spot)
        prepared, res_output = tbs.digest_tbs_document(output=output)
        post = await tbs.perform_signature(  # the key's call waits for this document's turn (ticket.key_call)
            document_digest=prepared.document_digest,
            pdf_cms_signed_attrs=PdfCMSSignedAttributes(
                signing_time=session.system_time,
                adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
                cades_signed_attrs=meta.cades_signed_attr_spec,
            ),
        )
        await post.post_signature_processing(res_output)


def _writer(reader: Any, stream: BinaryIO, opened: OpenedPdf, first: bool) -> Any:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    if first and reader is not None:
        return IncrementalPdfFileWriter.from_reader(reader)
    writer = IncrementalPdfFileWriter(stream, strict=opened.strict)
    if opened.password is not None:
        writer.encrypt(opened.password)
    return writer


def _group_field_names(doc: OpenedPdf, groups: Sequence[pl.SpotGroup]) -> list[str]:
    """Each group's signature field: the existing field it fills, or the first free SealN."""
    taken = set(_field_names(doc.reader))
    names = []
    for group in groups:
        name = group.existing_field or _next_name(taken)
        taken.add(name)
        names.append(name)
    return names


def _field_names(reader: Any) -> list[str]:
    """Fully qualified names of every form field (any type), to pick a free one."""
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except (KeyError, TypeError):
        return []
    names: list[str] = []

    def walk(items: Any, prefix: str, depth: int) -> None:
        if depth > 32:
            return
        for item in items:
            try:
                node = item.get_object()
                partial = node.get("/T")
            except Exception:  # noqa: BLE001 - a broken form must not stop naming our field
                continue
            name = prefix if partial is None else (f"{prefix}.{partial}" if prefix else str(partial))
            if partial is not None:
                names.append(name)
            kids = node.get("/Kids")
            if kids is not None:
                walk(kids, name, depth + 1)

    try:
        walk(fields, "", 0)
    except Exception:  # noqa: BLE001
        pass
    return names


def _next_name(taken: set[str]) -> str:
    n = 1
    while f"{FIELD_PREFIX}{n}" in taken:
        n += 1
    return f"{FIELD_PREFIX}{n}"


def _field_ref(writer: Any, name: str) -> Any:
    from pyhanko.sign.fields import enumerate_sig_fields

    for fname, _value, ref in enumerate_sig_fields(writer, with_name=name):
        if fname == name:
            return ref
    raise errors.SigningFailed(path="", detail=f"field {name} vanished")


__all__ = ["PreparedDocument", "SignResult", "SignatureMade", "SignerIdentity", "SigningBatch",
           "check_certificate", "prepare", "prepare_opened", "source_name"]
