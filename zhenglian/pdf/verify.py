"""Verify every signature in a PDF and say it in the operator's terms.

For each signature: who signed (organisation, 统一社会信用代码), with which
seal, when (the signer's clock, and an RFC 3161 timestamp if present), whether
the signed bytes are intact and the cryptography holds, whether the
certificate chains to a root we trust, and whether — and how — the document
changed after signing (pyHanko's difference analysis of later revisions).

Where the seal name comes from: zhenglian writes the seal's name as the
signature field's user-facing name (/TU) and as the signature's /Reason.
For signatures made by other software the field name /TU or /Reason is shown
as it is, which may not be a seal name at all.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import x509

from zhenglian import errors
from zhenglian.pdf.document import OpenedPdf, Source, open_pdf
from zhenglian.pdf.geometry import MM, page_box
from zhenglian.pki.cert import parse as parse_cert

log = logging.getLogger(__name__)
T = TypeVar("T")

MODIFICATION_ZH = {
    "none": "签名后未改动",
    "lta_updates": "签名后仅添加了验证数据或时间戳",
    "form_filling": "签名后仅添加了签名或填写了表单",
    "annotations": "签名后添加了批注",
    "other": "签名后内容被改动",
}


class SignatureState(enum.StrEnum):
    """The one word a person needs; a :class:`Reason` says why when it is not ``valid``."""

    VALID = "valid"  # intact, cryptographically right, trusted, no disallowed change after it
    UNTRUSTED = "untrusted"  # intact and right, but the certificate does not chain to a trusted root
    MODIFIED = "modified"  # intact, but the document was changed afterwards in a way it does not allow
    INVALID = "invalid"  # the signature does not hold: tampered, bad or weak cryptography, revoked, …


class Reason(enum.StrEnum):
    """Why a signature is not ``valid``."""

    # invalid
    TAMPERED = "tampered"  # the signed bytes changed (digest mismatch)
    BAD_SIGNATURE = "bad_signature"  # the signature value does not match the certificate's key
    WEAK_ALGORITHM = "weak_algorithm"  # an algorithm refused as too weak (SHA-1, MD5, …)
    REVOKED = "revoked"  # the signer's certificate is revoked
    INCOMPLETE_COVERAGE = "incomplete_coverage"  # the signature does not cover a whole revision
    UNREADABLE = "unreadable"  # the signature could not be read at all
    # modified
    DISALLOWED_CHANGES = "disallowed_changes"
    # untrusted
    NO_TRUSTED_ROOT = "no_trusted_root"  # no path to a root we trust
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CHAIN_PROBLEM = "chain_problem"  # a path exists but could not be validated (usage, policy, revocation data)


STATE_TEXT: dict[SignatureState, tuple[str, str]] = {
    SignatureState.VALID: ("有效", "valid"),
    SignatureState.UNTRUSTED: ("签名完好但证书不受信任", "intact, but the certificate is not trusted"),
    SignatureState.MODIFIED: ("签名后被改动", "changed after signing"),
    SignatureState.INVALID: ("无效", "INVALID"),
}

REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.TAMPERED: ("签名后文件内容被篡改", "the signed content was altered"),
    Reason.BAD_SIGNATURE: ("签名值与证书不符", "the signature value does not match the certificate"),
    Reason.WEAK_ALGORITHM: ("使用了已不安全的算法（如 SHA-1）", "it uses an algorithm too weak to rely on (e.g. SHA-1)"),
    Reason.REVOKED: ("签名证书已被吊销", "the signer's certificate is revoked"),
    Reason.INCOMPLETE_COVERAGE: ("签名未覆盖完整的文件修订", "the signature does not cover a whole revision"),
    Reason.UNREADABLE: ("签名数据无法读取", "the signature cannot be read"),
    Reason.DISALLOWED_CHANGES: ("签名后有签名不允许的改动", "changes after signing that the signature does not allow"),
    Reason.NO_TRUSTED_ROOT: ("证书无法追溯到受信任的根证书", "the certificate does not chain to a trusted root"),
    Reason.CERTIFICATE_EXPIRED: ("签名证书已过期", "the signer's certificate has expired"),
    Reason.CERTIFICATE_NOT_YET_VALID: ("签名证书尚未生效", "the signer's certificate is not yet valid"),
    Reason.CHAIN_PROBLEM: ("证书链无法验证", "the certificate chain could not be validated"),
}

# pyHanko's AdES sub-indications (trust_problem_indic) that mean the signature fails, not just trust.
_WEAK = frozenset({"CRYPTO_CONSTRAINTS_FAILURE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"})
_REVOKED = frozenset({"REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE"})
_INVALID = frozenset({"FORMAT_FAILURE", "HASH_FAILURE", "SIG_CRYPTO_FAILURE"})
_EXPIRED = frozenset({"EXPIRED", "OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED"})


@dataclass
class SignatureReport:
    field: str
    seal_name: str | None
    reason: str | None
    signer: str | None  # certificate common name
    organization: str | None
    uscc: str | None
    issuer: str | None
    cert_not_before: datetime | None
    cert_not_after: datetime | None
    signing_time: datetime | None  # the signer's own clock (/M or signing-time)
    timestamp: datetime | None  # RFC 3161 time, if present
    timestamp_valid: bool | None
    timestamp_trusted: bool | None
    intact: bool
    valid: bool  # signature mathematically right over intact bytes
    trusted: bool
    trust_problem: str | None
    coverage: str  # entire_file, entire_revision, partial
    modification_level: str | None  # none, lta_updates, form_filling, annotations, other
    modifications_ok: bool | None
    certification: int | None  # DocMDP level if this is the certification signature
    spots: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    algorithm: str | None = None  # the signer's key: "SM2", "RSA", "EC"
    revoked: bool = False
    unreadable: bool = False

    @property
    def changed_after_signing(self) -> bool:
        return self.coverage != "entire_file"

    def judgement(self) -> tuple[SignatureState, Reason | None]:
        """The state and, unless valid, why — INVALID is never folded into "untrusted"."""
        indic = self.trust_problem or ""
        if self.unreadable:
            return SignatureState.INVALID, Reason.UNREADABLE
        if not self.intact:
            return SignatureState.INVALID, Reason.TAMPERED
        if not self.valid or indic in _INVALID:
            return SignatureState.INVALID, Reason.BAD_SIGNATURE
        if indic in _WEAK:
            return SignatureState.INVALID, Reason.WEAK_ALGORITHM
        if self.revoked or indic in _REVOKED:
            return SignatureState.INVALID, Reason.REVOKED
        if self.coverage == "partial":
            return SignatureState.INVALID, Reason.INCOMPLETE_COVERAGE
        if self.modifications_ok is False:
            return SignatureState.MODIFIED, Reason.DISALLOWED_CHANGES
        if not self.trusted:
            if indic in _EXPIRED:
                return SignatureState.UNTRUSTED, Reason.CERTIFICATE_EXPIRED
            if indic == "NOT_YET_VALID":
                return SignatureState.UNTRUSTED, Reason.CERTIFICATE_NOT_YET_VALID
            if indic in ("", "NO_CERTIFICATE_CHAIN_FOUND"):
                return SignatureState.UNTRUSTED, Reason.NO_TRUSTED_ROOT
            return SignatureState.UNTRUSTED, Reason.CHAIN_PROBLEM
        return SignatureState.VALID, None

    @property
    def state(self) -> SignatureState:
        return self.judgement()[0]

    @property
    def state_reason(self) -> Reason | None:
        """Why the state is not ``valid`` (``None`` when it is)."""
        return self.judgement()[1]

    @property
    def status(self) -> str:
        """valid / untrusted / modified / invalid — the one word a person needs."""
        return self.state.value

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "field": self.field, "seal": self.seal_name, "reason": self.reason, "status": self.status,
            "status_reason": self.state_reason.value if self.state_reason else None,
            "signer": self.signer, "organization": self.organization, "uscc": self.uscc, "issuer": self.issuer,
            "certificate_not_before": iso(self.cert_not_before), "certificate_not_after": iso(self.cert_not_after),
            "signing_time": iso(self.signing_time), "timestamp": iso(self.timestamp),
            "timestamp_valid": self.timestamp_valid, "timestamp_trusted": self.timestamp_trusted,
            "intact": self.intact, "valid": self.valid, "trusted": self.trusted,
            "trust_problem": self.trust_problem, "coverage": self.coverage,
            "changed_after_signing": self.changed_after_signing,
            "modification_level": self.modification_level, "modifications_ok": self.modifications_ok,
            "certification": self.certification, "spots": self.spots, "problems": self.problems,
            "algorithm": self.algorithm,
        }


def validation_context(roots: Sequence[x509.Certificate], other_certs: Sequence[x509.Certificate] = (), *,
                       allow_fetching: bool = False) -> Any:
    """Trust exactly ``roots``; revocation is checked where data is at hand (soft-fail).

    SM2 signatures and chains are checked by the SM2-aware validator.
    """
    from zhenglian.pki import sm2validate

    return sm2validate.validation_context(trust_roots=list(roots), other_certs=list(other_certs),
                                          allow_fetching=allow_fetching, revocation_mode="soft-fail")


def _text(obj: Any, key: str) -> str | None:
    try:
        value = obj[key]
    except (KeyError, TypeError):
        return None
    return str(value) if value is not None else None


def _widgets(doc: OpenedPdf, sig_field: Any) -> list[dict[str, Any]]:
    """Where this signature shows: page and centre/size in mm (visible top-left origin)."""
    from pyhanko.pdf_utils import generic

    kids = sig_field.get("/Kids") if "/Kids" in sig_field else None
    widgets = [k.get_object() for k in kids] if kids else [sig_field]
    out = []
    for w in widgets:
        try:
            rect = [float(v) for v in w["/Rect"]]
            p = w.raw_get("/P")
        except (KeyError, TypeError, ValueError):
            continue
        index = doc.page_index(p) if isinstance(p, generic.IndirectObject) else None
        if index is None:
            continue
        if abs(rect[2] - rect[0]) < 0.01 or abs(rect[3] - rect[1]) < 0.01:
            continue
        box = page_box(p.get_object())
        corners = [box.to_visible(x, y) for x in (rect[0], rect[2]) for y in (rect[1], rect[3])]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        out.append({"page": index + 1, "x_mm": round((min(xs) + max(xs)) / 2 / MM, 1),
                    "y_mm": round((min(ys) + max(ys)) / 2 / MM, 1),
                    "width_mm": round((max(xs) - min(xs)) / MM, 1), "height_mm": round((max(ys) - min(ys)) / MM, 1)})
    return out


def _report(emb: Any, status: Any, doc: OpenedPdf) -> SignatureReport:
    from zhenglian.pki import sm2validate

    reader = doc.reader
    cert = emb.signer_cert
    info = None
    try:
        info = parse_cert(cert.dump())
    except (ValueError, TypeError):
        pass
    sig_field = emb.sig_field
    tu = _text(sig_field, "/TU")
    reason = _text(emb.sig_object, "/Reason")
    ts = status.timestamp_validity
    level = status.modification_level
    coverage = status.coverage.name.lower() if status.coverage is not None else "partial"
    if coverage not in ("entire_file", "entire_revision"):
        coverage = "partial"
    problems = sm2validate.report_problems(emb, status)
    if status.trust_problem_indic is not None:
        problems.append(f"trust: {status.trust_problem_indic.name}")
    if status.docmdp_ok is False:
        problems.append("modified after signing in a way the signature does not allow")
    certification = None
    try:
        if _is_certification(reader, emb) and emb.docmdp_level is not None:
            certification = int(emb.docmdp_level.value)
    except Exception:  # noqa: BLE001 - a malformed /Perms only loses this detail
        certification = None
    return SignatureReport(
        field=emb.field_name,
        seal_name=tu or reason,
        reason=reason,
        signer=info.common_name if info else None,
        organization=info.organization if info else None,
        uscc=info.uscc if info else None,
        issuer=(info.issuer_fields.get("common_name") or info.issuer) if info else None,
        cert_not_before=info.not_before if info else None,
        cert_not_after=info.not_after if info else None,
        signing_time=status.signer_reported_dt,
        timestamp=ts.timestamp if ts is not None else None,
        timestamp_valid=(ts.intact and ts.valid) if ts is not None else None,
        timestamp_trusted=ts.trusted if ts is not None else None,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        trust_problem=status.trust_problem_indic.name if status.trust_problem_indic is not None else None,
        coverage=coverage,
        modification_level=level.name.lower() if level is not None else None,
        modifications_ok=status.docmdp_ok,
        certification=certification,
        spots=_widgets(doc, sig_field),
        problems=problems,
        algorithm=sm2validate.algorithm_name(cert),
        revoked=bool(getattr(status, "revoked", False)),
    )


def _is_certification(reader: Any, emb: Any) -> bool:
    """True when /Perms /DocMDP in the catalog points at this signature."""
    try:
        perms_ref = reader.root["/Perms"].raw_get("/DocMDP")
        own_ref = emb.sig_field.raw_get("/V")
    except (KeyError, TypeError):
        return False
    return getattr(perms_ref, "reference", None) is not None and \
        getattr(perms_ref, "reference", None) == getattr(own_ref, "reference", None)


def verify_pdf(source: Source, trust: Sequence[x509.Certificate] = (), *, password: str | None = None,
               other_certs: Sequence[x509.Certificate] = (), allow_fetching: bool = False) -> list[SignatureReport]:
    """Report on every signature of the document (timestamps-only signatures excluded).

    The document is read strictly when it can be; if validating an older
    revision meets a strict-syntax slip (a revision the signer's update no
    longer references, e.g. an /Info with a repeated key), it is read again
    leniently, as when signing.
    """
    return strict_then_lenient(lambda lenient: _verify(source, trust, password, other_certs, allow_fetching,
                                                       lenient=lenient))


def count_signatures(source: Source, *, password: str | None = None) -> int:
    """How many signatures (timestamps-only excluded) the document has; none is validated."""
    def count(lenient: bool) -> int:
        with open_pdf(source, password, for_signing=False, lenient=lenient) as doc:
            return len(signatures_of(doc))

    return strict_then_lenient(count)


class _ReadLeniently(Exception):
    pass


def strict_then_lenient(read: Callable[[bool], T]) -> T:
    """``read(False)``; when it meets a strict-syntax slip (:func:`signatures_of` and the
    validation raise :class:`_ReadLeniently`), ``read(True)``: the document read leniently."""
    try:
        return read(False)
    except _ReadLeniently:
        return read(True)


def _strict_slip(exc: BaseException) -> bool:
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    from zhenglian.pdf.sign import cause_of

    return cause_of(exc, PdfStrictReadError) is not None


def lenient_if_slipped(doc: OpenedPdf, exc: BaseException) -> None:
    """Inside :func:`strict_then_lenient`: a strict read that slipped starts over leniently."""
    if doc.strict and _strict_slip(exc):
        raise _ReadLeniently from None


def signatures_of(doc: OpenedPdf) -> list[Any]:
    """The document's signatures (timestamps-only excluded), as pyHanko's embedded signatures;
    :class:`~zhenglian.errors.DocumentCorrupt` when they cannot be read."""
    try:
        return list(doc.reader.embedded_regular_signatures)
    except Exception as exc:  # noqa: BLE001
        lenient_if_slipped(doc, exc)
        raise errors.DocumentCorrupt(path=doc.name, detail=type(exc).__name__) from None


def _verify(source: Source, trust: Sequence[x509.Certificate], password: str | None,
            other_certs: Sequence[x509.Certificate], allow_fetching: bool, *, lenient: bool) -> list[SignatureReport]:
    from pyhanko.sign.validation import validate_pdf_signature

    with open_pdf(source, password, for_signing=False, lenient=lenient) as doc:
        reports: list[SignatureReport] = []
        sigs = signatures_of(doc)
        if not sigs:
            return reports
        vc = validation_context(trust, other_certs, allow_fetching=allow_fetching)
        for emb in sigs:
            try:
                status = validate_pdf_signature(emb, signer_validation_context=vc, ts_validation_context=vc)
            except Exception as exc:  # noqa: BLE001 - one unreadable signature must not hide the others
                lenient_if_slipped(doc, exc)
                log.warning("signature %s could not be validated", emb.field_name, exc_info=exc)
                reports.append(_broken(emb, doc.reader, exc))
                continue
            reports.append(_report(emb, status, doc))
        return reports


def _broken(emb: Any, reader: Any, exc: BaseException) -> SignatureReport:
    return SignatureReport(
        field=str(getattr(emb, "field_name", "?")), seal_name=None, reason=None, signer=None, organization=None,
        uscc=None, issuer=None, cert_not_before=None, cert_not_after=None, signing_time=None, timestamp=None,
        timestamp_valid=None, timestamp_trusted=None, intact=False, valid=False, trusted=False,
        trust_problem=None, coverage="partial", modification_level=None, modifications_ok=None,
        certification=None, spots=[], problems=[f"unreadable: {type(exc).__name__}"], unreadable=True)


def default_trust(*, demo: bool, extra: Sequence[Path] = ()) -> list[x509.Certificate]:
    from zhenglian.pdf.trust import trust_roots

    return trust_roots(demo=demo, extra=extra)
