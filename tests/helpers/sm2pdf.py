"""Test helper: SM2-signed PDFs made with a software SM2 key.

The product's signer comes from the key layer; this tiny pyHanko ``Signer``
exists only so the verification side can be tested on its own: SM2 with SM3
(OID 1.2.156.10197.1.501), digest SM3, the default ID (or another one, to
produce the wrong-ID files real software sometimes makes).
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import algos, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from zhenglian.pki import sm2
from zhenglian.reference.sm2soft import SM2SoftKey


class SoftSM2Signer(signers.Signer):
    def __init__(self, key: SM2SoftKey, cert: x509.Certificate, chain: list[x509.Certificate],
                 uid: bytes = sm2.DEFAULT_ID) -> None:
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"}),
        )
        self.key = key
        self.uid = uid

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        assert digest_algorithm == "sm3"
        if dry_run:
            return bytes(72)  # the longest DER SM2 signature
        return self.key.sign(data, self.uid)


def sign_pdf_sm2(src: Path, dst: Path, signer: SoftSM2Signer, field_name: str = "Signature1",
                 box: tuple[int, int, int, int] | None = None) -> Path:
    """Sign ``src`` into ``dst``; ``box`` (page 1, points) makes the signature visible."""
    from pyhanko.sign.fields import SigFieldSpec

    with src.open("rb") as inf:
        w = IncrementalPdfFileWriter(inf)
        meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sm3", reason="合同专用章")
        spec = SigFieldSpec(field_name, on_page=0, box=box) if box else None
        with dst.open("wb") as out:
            signers.sign_pdf(w, meta, signer=signer, output=out, new_field_spec=spec)
    return dst


def tamper(src: Path, dst: Path) -> Path:
    """Change one byte inside the signed range (the first page content's text)."""
    data = bytearray(src.read_bytes())
    i = data.index(b"stream") + 20
    data[i] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst
