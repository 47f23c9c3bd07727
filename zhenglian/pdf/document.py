"""Open an input PDF and find out, before any PIN is asked, whether it can be signed.

Every reason a document cannot be signed is found here, without the key:
not there, not a PDF, broken, encrypted (and the password wrong), locked by
a certification signature or by its permissions; the fields earlier
signatures lock are read here and checked once the seals' fields are known
(:mod:`zhenglian.pdf.fieldlocks`).  Signing then works on the same open
reader, so a large file is read once.

Leniency: pyHanko reads in strict mode first; a file that only breaks a
strict rule (e.g. a wrong generation number in the xref table, or a key
repeated in its /Info dictionary, as some producers write) is reopened
leniently, the way every viewer opens it.  The decision covers everything
pyHanko reads later when signing (:func:`zhenglian.pdf.pdftree.read_structure`:
catalog, /Info, metadata, outlines, AcroForm, pages and their annotations),
so it is made here, before any PIN.  A file whose objects cannot be read at
all, or whose references loop, is refused as corrupt.

Pages are looked up once per document (one walk of the page tree), so
opening and verifying are linear in the number of pages.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from zhenglian import errors

log = logging.getLogger(__name__)

Source = bytes | bytearray | memoryview | str | Path


def source_name(source: Source) -> str:
    return str(source) if isinstance(source, (str, Path)) else "<内存中的文档 / in-memory document>"


@dataclass
class OpenedPdf:
    """An input document opened for signing: its stream and pyHanko reader."""

    name: str
    path: Path | None
    stream: BinaryIO
    reader: Any  # pyhanko PdfFileReader
    strict: bool
    password: str | None  # None: not encrypted
    page_count: int
    signature_count: int
    certified: int | None  # DocMDP level in force (1, 2, 3): the certification, or a stricter lock an earlier signature set
    page_refs: list[Any] = field(default_factory=list)  # every page's reference, in order
    field_locks: list[Any] = field(default_factory=list)  # pdf/fieldlocks.FieldLock: fields earlier signatures lock
    text_budget_checked: bool = False  # pdf/textbudget: the pages' expanded size counted once
    warnings: list[str] = field(default_factory=list)
    _closed: bool = False
    _index: dict[Any, int] | None = None

    @property
    def encrypted(self) -> bool:
        return self.password is not None

    def page(self, index: int) -> Any:
        """The page dictionary at ``index`` (0-based)."""
        from zhenglian.pdf.pdftree import resolve

        return resolve(self.page_refs[index])

    def page_index(self, ref: Any) -> int | None:
        """The 0-based index of the page with this reference (an IndirectObject or Reference), if any."""
        if self._index is None:
            self._index = {r.reference: i for i, r in enumerate(self.page_refs)}
        return self._index.get(getattr(ref, "reference", ref))

    def pdfium_source(self) -> Any:
        """What pypdfium2 should open: the path, or the bytes."""
        if self.path is not None:
            return str(self.path)
        pos = self.stream.tell()
        self.stream.seek(0)
        data = self.stream.read()
        self.stream.seek(pos)
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.path is not None:
                self.stream.close()

    def __enter__(self) -> OpenedPdf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_stream(source: Source) -> tuple[BinaryIO, Path | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), None
    path = Path(source)
    try:
        return open(path, "rb"), path  # noqa: SIM115 - kept open for the reader
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError, OSError):
        raise errors.DocumentNotFound(path=str(path)) from None


def _looks_like_pdf(stream: BinaryIO) -> bool:
    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    return b"%PDF-" in head


def _reader(stream: BinaryIO, name: str, strict: bool) -> Any:
    from pyhanko.pdf_utils.misc import PdfReadError, PdfStrictReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    from zhenglian.pdf import hexfix

    hexfix.apply()  # a signature's /Contents read in one go, not digit by digit
    stream.seek(0)
    try:
        return PdfFileReader(stream, strict=strict)
    except PdfStrictReadError:
        raise
    except PdfReadError as exc:
        raise errors.DocumentCorrupt(path=name, detail=_short(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a parser meeting garbage can raise anything
        raise errors.DocumentCorrupt(path=name, detail=type(exc).__name__) from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _decrypt(reader: Any, name: str, password: str | None, for_signing: bool) -> str:
    """Authenticate; returns the password that worked (possibly '')."""
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.crypt.api import AuthStatus
    from pyhanko.pdf_utils.crypt.permissions import StandardPermissions

    try:
        handler = reader.security_handler
    except Exception as exc:  # noqa: BLE001
        raise errors.DocumentUnsupportedEncryption(path=name, detail=type(exc).__name__) from None
    if not isinstance(handler, StandardSecurityHandler):
        raise errors.DocumentUnsupportedEncryption(path=name, detail=type(handler).__name__)
    # Many "encrypted" PDFs have only an owner password: viewers open them
    # without asking, and so do we.
    candidates = [password] if password is not None else [""]
    result = None
    for pw in candidates:
        try:
            result = reader.decrypt(pw)
        except Exception as exc:  # noqa: BLE001
            raise errors.DocumentCorrupt(path=name, detail=f"encryption: {type(exc).__name__}") from None
        if result.status != AuthStatus.FAILED:
            break
    assert result is not None
    if result.status == AuthStatus.FAILED:
        if password is None:
            raise errors.DocumentEncrypted(path=name)
        raise errors.DocumentPasswordWrong(path=name)
    if for_signing and result.status == AuthStatus.USER:
        perms = result.permission_flags
        if perms is not None and StandardPermissions.ALLOW_ANNOTS_FORM_FILLING not in perms \
                and StandardPermissions.ALLOW_FORM_FILLING not in perms:
            raise errors.DocumentLocked(
                path=name, reason_zh="文档权限不允许填写表单或签名（需要所有者密码）",
                reason_en="its permissions forbid form filling and signing (the owner password is needed)")
    return candidates[0] if candidates[0] is not None else ""


def _has(dictionary: Any, key: str) -> bool:
    """``key`` is in the PDF dictionary (a broken one says yes: let pyHanko look closer)."""
    try:
        return key in dictionary
    except Exception:  # noqa: BLE001
        return True


def _certification_level(reader: Any) -> int | None:
    # No /Perms, no certification: a cold ``zhenglian sign`` of a plain document then
    # never imports pyhanko.sign (the whole signing package and aiohttp) before the PIN.
    if not _has(reader.root, "/Perms"):
        return None
    from pyhanko.sign.validation import read_certification_data

    info = read_certification_data(reader)
    if info is None:
        return None
    return int(info.permission.value)


def _signature_lock_level(reader: Any) -> int | None:
    """The strictest DocMDP level an earlier signature set: its /Reference or its field's /Lock /P.

    An approval signature may lock the document as a certification does ("lock the document
    after signing": /Lock with /P 1); a signature added after it would break it.
    """
    levels = []
    try:
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - a malformed signature field: counted, verified, not a lock
        log.info("signature fields not read for their locks: %s", _short(exc))
        return None
    for emb in signatures:
        try:
            level = emb.docmdp_level
        except Exception as exc:  # noqa: BLE001 - an unreadable /Reference or /Lock is not one pyHanko enforces
            log.info("a signature's lock not read: %s", _short(exc))
            continue
        if level is not None:
            levels.append(int(level.value))
    return min(levels, default=None)


def _count_signatures(reader: Any) -> int:
    if not _has(reader.root, "/AcroForm"):
        return 0  # no form, no signature field (and no pyhanko.sign import, see above)
    from pyhanko.sign.fields import enumerate_sig_fields

    return sum(1 for _name, value, _ref in enumerate_sig_fields(reader, filled_status=True) if value is not None)


@dataclass
class _Read:
    reader: Any
    password: str | None
    pages: list[Any]
    certified: int | None
    signatures: int
    locked: int | None  # the strictest DocMDP level any signature set (a certification included)
    field_locks: list[Any]  # the fields they lock (FieldMDP), for signing only


def _read(stream: BinaryIO, name: str, password: str | None, for_signing: bool, strict: bool) -> _Read:
    """Open, decrypt, walk the page tree and read the structure; strict errors propagate."""
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    from zhenglian.pdf import fieldlocks, pdftree

    reader = _reader(stream, name, strict)
    used_password: str | None = None
    if reader.encrypted:
        used_password = _decrypt(reader, name, password, for_signing)
    try:
        pages = pdftree.page_refs(reader)
        if not pages:
            raise pdftree.TreeError("no pages")
        pdftree.read_structure(reader, pages)
        pdftree.check_form_tree(reader)  # before pyHanko walks it recursively
        certified = _certification_level(reader)
        signatures = _count_signatures(reader)
        locked = _signature_lock_level(reader) if signatures and for_signing else None  # only signing heeds it
        field_locks = fieldlocks.read_locks(reader) if signatures and for_signing else []
    except (errors.ZhenglianError, PdfStrictReadError):
        raise
    except RecursionError:  # nesting pyHanko's parser could not follow
        raise errors.DocumentCorrupt(path=name, detail="objects nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - a broken structure can raise anything
        raise errors.DocumentCorrupt(path=name, detail=_short(exc)) from None
    return _Read(reader, used_password, pages, certified, signatures, locked, field_locks)


def open_pdf(source: Source, password: str | None = None, *, name: str | None = None,
             for_signing: bool = True, lenient: bool = False) -> OpenedPdf:
    """Open ``source`` and check that it can be signed; raises a typed error if not.

    ``for_signing=False`` (verification) skips the checks that only matter for
    adding a signature: locks and permissions.  ``lenient=True`` skips the
    strict attempt (a verifier that met a strict-syntax error later on).
    """
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    name = name or source_name(source)
    stream, path = _open_stream(source)
    try:
        if not _looks_like_pdf(stream):
            raise errors.DocumentCorrupt(path=name, detail="不是 PDF / not a PDF file")
        strict = not lenient
        if strict:
            try:
                read = _read(stream, name, password, for_signing, strict=True)
            except PdfStrictReadError as exc:
                log.info("%s: strict read failed (%s), reading leniently", name, _short(exc))
                strict = False
        if not strict:
            try:
                read = _read(stream, name, password, for_signing, strict=False)
            except PdfStrictReadError as exc:  # pragma: no cover - lenient mode does not raise it
                raise errors.DocumentCorrupt(path=name, detail=_short(exc)) from None
        reader = read.reader
        # The level in force: the sender's certification, or an earlier signature that locked
        # the document as strictly (or more strictly); a lower P is stricter.
        certified = min((lv for lv in (read.certified, read.locked) if lv is not None), default=None)
        if for_signing and read.certified == 1:
            raise errors.DocumentLocked(
                path=name, reason_zh="文档已被“认证签名”锁定，不允许任何更改",
                reason_en="a certification signature locks it against any change")
        if for_signing and certified == 1:
            raise errors.DocumentLocked(
                path=name, reason_zh="文档中已有的签名锁定了文档（签名后不允许任何更改）",
                reason_en="an earlier signature locked it against any change after it")
        doc = OpenedPdf(name=name, path=path, stream=stream, reader=reader, strict=strict,
                        password=read.password, page_count=len(read.pages), signature_count=read.signatures,
                        certified=certified, page_refs=read.pages, field_locks=read.field_locks)
        if not strict:
            doc.warnings.append("read leniently (minor syntax errors)")
        return doc
    except errors.DocumentCorrupt as exc:
        if path is not None:
            stream.close()
        if for_signing or isinstance(exc, errors.DocumentUnreadable):
            raise
        raise errors.DocumentUnreadable(**exc.facts) from None  # a verification: nothing was to be signed
    except BaseException:
        if path is not None:
            stream.close()
        raise
