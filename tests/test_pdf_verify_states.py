"""``verify`` keeps INVALID apart from untrusted: SHA-1, tampered and untrusted-root signatures.

pyHanko refuses SHA-1 as a weak algorithm and judges such a signature
INVALID; it must not show as merely "untrusted".  The CLI text, ``--json``
and the tray's verify page use the same states and reasons.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian.pdf.verify import REASON_TEXT, STATE_TEXT, Reason, SignatureState, verify_pdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def keys() -> dict[str, ph.SoftKey]:
    return {"sha256": ph.soft_key(), "sha1": ph.soft_key(signature_hash="sha1"),
            "other": ph.soft_key(ca_id="gdca")}


def _signed(path: Path, key: ph.SoftKey, md: str = "sha256") -> Path:
    """A one-page PDF signed straight with pyHanko (any digest, as other software signs)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    data = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                       **ph.simple_page_objects()})
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                     signers.PdfSignatureMetadata(field_name="Sig1", md_algorithm=md), signer=key.signer, output=out)
    path.write_bytes(out.getvalue())
    return path


def _cli_verify(pdf: Path, root_pem: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zhenglian", "verify", str(pdf), "--trust", str(root_pem), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _tampered(signed: Path, out: Path) -> Path:
    data = bytearray(signed.read_bytes())
    i = data.index(b"(Hello)")
    data[i + 1:i + 6] = b"HELLO"  # same length: the byte ranges still fit, the digest does not
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("case", ["sha1", "tampered", "untrusted", "valid"])
def test_states_are_precise_everywhere(case: str, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = keys["sha1" if case == "sha1" else "sha256"]
    pdf = _signed(tmp_path / "signed.pdf", key, "sha1" if case == "sha1" else "sha256")
    trust = [key.root]
    if case == "tampered":
        pdf = _tampered(pdf, tmp_path / "tampered.pdf")
    if case == "untrusted":
        trust = [keys["other"].root]  # another CA's root: the signer's does not chain to it
    expected = {
        "sha1": (SignatureState.INVALID, Reason.WEAK_ALGORITHM),
        "tampered": (SignatureState.INVALID, Reason.TAMPERED),
        "untrusted": (SignatureState.UNTRUSTED, Reason.NO_TRUSTED_ROOT),
        "valid": (SignatureState.VALID, None),
    }[case]
    (rep,) = verify_pdf(pdf, trust)
    assert rep.judgement() == expected
    assert rep.status == expected[0].value
    if case == "sha1":  # what pyHanko's own validator says, so we are not the only judge
        assert rep.intact and rep.valid and not rep.trusted and rep.trust_problem == "CRYPTO_CONSTRAINTS_FAILURE"

    root_pem = (keys["other"] if case == "untrusted" else key).root_pem(tmp_path / "root.pem")
    res = _cli_verify(pdf, root_pem, "--json")
    (sig,) = json.loads(res.stdout)["signatures"]
    assert sig["status"] == expected[0].value
    assert sig["status_reason"] == (expected[1].value if expected[1] else None)
    assert res.returncode == (0 if case == "valid" else 11)
    text = _cli_verify(pdf, root_pem).stdout
    zh, en = STATE_TEXT[expected[0]]
    assert f"{zh} / {en}" in text
    if expected[1] is not None:
        assert REASON_TEXT[expected[1]][0] in text and expected[1].value in text
    if case == "sha1":
        assert STATE_TEXT[SignatureState.UNTRUSTED][0] not in text


def test_every_state_and_reason_has_words() -> None:
    assert set(STATE_TEXT) == set(SignatureState) and set(REASON_TEXT) == set(Reason)
    assert all(zh and en for zh, en in [*STATE_TEXT.values(), *REASON_TEXT.values()])


def test_tray_verify_page_maps_every_state_and_reason(qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTranslator

    from zhenglian.ui.documents_view import STATUS_COLOR, report_texts

    words, reasons = report_texts()
    assert set(words) == set(STATUS_COLOR) == {s.value for s in SignatureState}
    assert set(reasons) == {r.value for r in Reason}
    assert words["invalid"] != words["untrusted"]
    app = qapp  # the process's QApplication (a bare QCoreApplication would break every later widget test)
    translator = QTranslator()
    assert translator.load(str(ROOT / "resources" / "i18n" / "zhenglian_zh_CN.qm"))
    app.installTranslator(translator)
    try:
        zh_words, zh_reasons = report_texts()
    finally:
        app.removeTranslator(translator)
    assert zh_words["invalid"] == "无效" and zh_reasons["weak_algorithm"].startswith("使用了已不安全的算法")
    # Chinese whatever translator an earlier test left installed (the app may already be in Chinese).
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in zh_reasons[k]) for k in reasons), "every reason is translated"
