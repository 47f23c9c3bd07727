"""The check of a signature just made, before the file leaves the machine.

A task's signed file is checked before it is queued for upload (the task signer):
exactly one more signature than the original had, and that signature intact,
cryptographically valid, made with this key's certificate and covering the whole
file.  That is the integrity half of pyHanko's validation — the ``/ByteRange``
hashed and compared with the signed message digest, the signature checked with
the certificate the signature names (SM2 with the client's SM2 code) — without
the other half (certificate paths, revocation, modification analysis), which the
check never used: trust is the server's call, and a signature that covers the
entire file has no later changes to analyse.  The full validation
(:func:`zhenglian.pdf.verify.verify_pdf`) is what ``zhenglian verify`` and the
tray show; pyHanko's whole path for one signature cost about three times this.
"""

from __future__ import annotations

from dataclasses import dataclass

from zhenglian.pdf.document import Source, open_pdf


@dataclass(frozen=True)
class LastSignature:
    """The document's last signature, as the self-check sees it (no trust judgement)."""

    count: int  # signatures in the document (document timestamps not counted)
    field: str | None = None  # the last one's field
    intact: bool = False  # the bytes it covers hash to its signed message digest
    valid: bool = False  # its signature verifies with the certificate it names
    entire_file: bool = False  # it covers the file to its last byte
    signer_der: bytes | None = None  # that certificate


def check_last(source: Source, *, password: str | None = None, name: str | None = None) -> LastSignature:
    """Count the signatures of ``source`` and check the integrity of the last one.

    A structure the strict reader refuses is read again leniently, as when verifying.
    Raises :class:`~zhenglian.errors.DocumentCorrupt` when the signatures cannot be read.
    """
    from zhenglian.pdf.verify import strict_then_lenient

    return strict_then_lenient(lambda lenient: _check_last(source, password, name, lenient=lenient))


def _check_last(source: Source, password: str | None, name: str | None, *, lenient: bool) -> LastSignature:
    from pyhanko.sign.validation import SignatureCoverageLevel
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    from zhenglian.pdf.verify import lenient_if_slipped, signatures_of
    from zhenglian.pki import sm2validate

    with open_pdf(source, password, for_signing=False, lenient=lenient, name=name) as doc:
        sigs = signatures_of(doc)
        if not sigs:
            return LastSignature(count=0)
        emb = sigs[-1]
        try:
            cert = emb.signer_cert
            entire = emb.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE
            intact, valid = validate_sig_integrity(emb.signer_info, cert, expected_content_type="data",
                                                   actual_digest=emb.compute_digest(),
                                                   sig_validator=sm2validate.VALIDATOR)
        except Exception as exc:  # noqa: BLE001 - a signature that cannot be read is not a good one
            lenient_if_slipped(doc, exc)
            return LastSignature(count=len(sigs), field=str(getattr(emb, "field_name", "")) or None)
        return LastSignature(count=len(sigs), field=emb.field_name, intact=bool(intact), valid=bool(valid),
                             entire_file=entire, signer_der=cert.dump())


__all__ = ["LastSignature", "check_last"]
