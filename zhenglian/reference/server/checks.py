"""What the server checks before it accepts a signed PDF for a task.

In order, cheapest first; the first failure is the answer:

1. it is a PDF (``%PDF-``) and not larger than the limit;
2. the file starts with the task's original document byte for byte, i.e.
   the original is its first revision(s) and the signing only appended an
   incremental update (nothing of the original was rewritten);
3. it has at least one signature added after the original;
4. every added signature is intact, cryptographically valid and chains to a
   trusted root (pyHanko validation, no network), and nothing after it
   changes the document beyond what the signature allows;
5. the signer of every added signature belongs to the task's institution
   (the USCC in the certificate);
6. the seal is there: an added signature has a visible widget with an
   appearance stream;
7. a task that asks for certification gets a certification signature.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from zhenglian.memo import BoundedMemo
from zhenglian.reference.server.pki import TrustStore


class UploadRefused(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str) -> None:
        super().__init__(code)
        self.status, self.code, self.zh, self.en = status, code, zh, en


@dataclass(frozen=True)
class Accepted:
    signer_sha256: str
    signatures: int


def _refuse(code: str, zh: str, en: str, status: int = 422) -> UploadRefused:
    return UploadRefused(status, code, zh, en)


def _has_visible_widget(field: Any) -> bool:
    widgets = [field] if "/Rect" in field else [k.get_object() for k in field.get("/Kids", [])]
    for w in widgets:
        try:
            x1, y1, x2, y2 = (float(v) for v in w["/Rect"])
        except (KeyError, TypeError, ValueError):
            continue
        ap = w.get("/AP")
        if abs(x2 - x1) > 1 and abs(y2 - y1) > 1 and ap is not None and "/N" in ap.get_object():
            return True
    return False


_signers = BoundedMemo(256)  # SHA-256 of a signing certificate → its USCC ("" if none)
_revisions = BoundedMemo(1024)  # SHA-256 of an original document → its revision count


def _signer_facts(cert_der: bytes) -> tuple[str | None, str]:
    """The USCC and SHA-256 of a signing certificate: a function of its DER alone, so remembered
    by its SHA-256 (an institution signs every upload with the same certificate)."""
    from zhenglian.pki.cert import parse as parse_cert

    digest = hashlib.sha256(cert_der)
    uscc = _signers.get(digest.digest())
    if uscc is None:
        uscc = parse_cert(cert_der).uscc or ""
        _signers.put(digest.digest(), uscc)
    return uscc or None, digest.hexdigest()


def _original_revisions(original: bytes) -> int:
    """How many revisions the task's original document has (the server's own file; remembered
    by its SHA-256, so a re-upload or a retry does not read it again)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    digest = hashlib.sha256(original).digest()
    known = _revisions.get(digest)
    if known is None:
        known = int(PdfFileReader(io.BytesIO(original), strict=False).xrefs.total_revisions)
        _revisions.put(digest, known)
    return int(known)


def check_signed_upload(data: bytes, original: bytes, uscc: str, trust: TrustStore,
                        certify: bool = False) -> Accepted:
    """Accept or refuse ``data`` as the signed version of ``original`` (raises UploadRefused)."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature

    import zhenglian.pki  # noqa: F401 - SM2/SM3 OIDs named for asn1crypto before anything is validated
    from zhenglian.pdf import hexfix

    hexfix.apply()  # the same pyHanko reader as the client's (signatures' /Contents in one go)

    if not data.startswith(b"%PDF-"):
        raise _refuse("not_pdf", "上传的文件不是 PDF", "the uploaded file is not a PDF")
    if len(data) <= len(original) or data[: len(original)] != original:
        raise _refuse("original_altered", "签署后的文件改动了原文件（原文件必须原样保留为第一个版本）",
                      "the signed file does not keep the original document unchanged as its first revision")
    try:
        original_revisions = _original_revisions(original)
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError):
        raise _refuse("pdf_unreadable", "无法读取上传的 PDF", "the uploaded PDF cannot be read") from None
    added = [s for s in sigs if s.signed_revision >= original_revisions]
    if not added:
        raise _refuse("no_signature", "文件中没有新的签名", "the file carries no new signature")
    vc = trust.validation_context()
    signer_sha = ""
    for sig in added:
        try:
            status = validate_pdf_signature(sig, vc)
        except Exception:  # noqa: BLE001 - any failure to validate is a refusal, never a 500
            raise _refuse("signature_invalid", "签名无法验证", "the signature cannot be validated") from None
        if not (status.intact and status.valid):
            raise _refuse("signature_invalid", "签名无效（文件在签名后被改动或签名损坏）",
                          "the signature is invalid (the file was changed after signing, or it is damaged)")
        if not status.trusted:
            raise _refuse("signer_untrusted", "签名证书不是由本服务器信任的 CA 签发，或已过期",
                          "the signing certificate is not from a CA this server trusts, or it expired")
        level = status.modification_level
        if not status.docmdp_ok or (level is not None and level > ModificationLevel.FORM_FILLING):
            raise _refuse("modified_after_signing", "签名后文件又被修改",
                          "the document was modified after it was signed")
        signer_uscc, signer_sha = _signer_facts(sig.signer_cert.dump())
        if signer_uscc != uscc:
            raise _refuse("wrong_signer", f"签名证书属于另一机构（{signer_uscc or '无统一社会信用代码'}），不是本任务的机构",
                          f"the signing certificate belongs to another institution ({signer_uscc or 'no USCC'}), "
                          "not this task's", status=403)
    if not any(_has_visible_widget(s.sig_field) for s in added):
        raise _refuse("seal_missing", "签名没有可见的印章", "the signature has no visible seal")
    if certify and added[0].docmdp_level is None:
        raise _refuse("certification_required", "本任务要求认证签名（首个签名须为认证签名）",
                      "this task requires a certification signature")
    return Accepted(signer_sha256=signer_sha, signatures=len(added))
