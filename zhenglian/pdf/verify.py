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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509

from zhenglian import errors
from zhenglian.pdf.document import OpenedPdf, Source, open_pdf
from zhenglian.pdf.geometry import MM, page_box
from zhenglian.pki.cert import parse as parse_cert

log = logging.getLogger(__name__)

MODIFICATION_ZH = {
    "none": "签名后未改动",
    "lta_updates": "签名后仅添加了验证数据或时间戳",
    "form_filling": "签名后仅添加了签名或填写了表单",
    "annotations": "签名后添加了批注",
    "other": "签名后内容被改动",
}


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

    @property
    def changed_after_signing(self) -> bool:
        return self.coverage != "entire_file"

    @property
    def status(self) -> str:
        """valid / untrusted / modified / invalid — the one word a person needs."""
        if not (self.intact and self.valid) or self.coverage == "partial":
            return "invalid"
        if self.modifications_ok is False:
            return "modified"
        if not self.trusted:
            return "untrusted"
        return "valid"

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "field": self.field, "seal": self.seal_name, "reason": self.reason, "status": self.status,
            "signer": self.signer, "organization": self.organization, "uscc": self.uscc, "issuer": self.issuer,
            "certificate_not_before": iso(self.cert_not_before), "certificate_not_after": iso(self.cert_not_after),
            "signing_time": iso(self.signing_time), "timestamp": iso(self.timestamp),
            "timestamp_valid": self.timestamp_valid, "timestamp_trusted": self.timestamp_trusted,
            "intact": self.intact, "valid": self.valid, "trusted": self.trusted,
            "trust_problem": self.trust_problem, "coverage": self.coverage,
            "changed_after_signing": self.changed_after_signing,
            "modification_level": self.modification_level, "modifications_ok": self.modifications_ok,
            "certification": self.certification, "spots": self.spots, "problems": self.problems,
        }


def validation_context(roots: Sequence[x509.Certificate], other_certs: Sequence[x509.Certificate] = (), *,
                       allow_fetching: bool = False) -> Any:
    """Trust exactly ``roots``; revocation is checked where data is at hand (soft-fail)."""
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=list(roots), other_certs=list(other_certs),
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
    problems = []
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
    """Report on every signature of the document (timestamps-only signatures excluded)."""
    from pyhanko.sign.validation import validate_pdf_signature

    with open_pdf(source, password, for_signing=False) as doc:
        vc = validation_context(trust, other_certs, allow_fetching=allow_fetching)
        reports = []
        try:
            sigs = list(doc.reader.embedded_regular_signatures)
        except Exception as exc:  # noqa: BLE001
            raise errors.DocumentCorrupt(path=doc.name, detail=type(exc).__name__) from None
        for emb in sigs:
            try:
                status = validate_pdf_signature(emb, signer_validation_context=vc, ts_validation_context=vc)
            except Exception as exc:  # noqa: BLE001 - one unreadable signature must not hide the others
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
        certification=None, spots=[], problems=[f"unreadable: {type(exc).__name__}"])


def default_trust(*, demo: bool, extra: Sequence[Path] = ()) -> list[x509.Certificate]:
    from zhenglian.pdf.trust import trust_roots

    return trust_roots(demo=demo, extra=extra)
