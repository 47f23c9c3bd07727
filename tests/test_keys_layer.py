"""The key layer: mechanisms from the token, every signature checked, one CKR table.

EC keys on SoftHSM offer only raw CKM_ECDSA: the digest is computed here and
the key signs it; the result must validate in pyHanko and in poppler's pdfsig.
A driver that returns a wrong signature must never produce a document.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.keys import mechanisms
from zhenglian.keys.handle import KeyHandle
from zhenglian.keys.session import KeySession, candidate_plans
from zhenglian.pdf import placement as pl
from zhenglian.pdf.keysign import key_batch
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.verify import verify_pdf
from zhenglian.tokens import ckr
from zhenglian.tokens.secret import PinBuffer

ROOT = Path(__file__).resolve().parent.parent
SEAL = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "测试专用章")


@pytest.fixture
def ec_key(make_key):  # type: ignore[no-untyped-def]
    made = make_key(key_algorithm="ec", seal_names=())  # the demo seal maker signs seals with RSA
    ctx, key = ph.find_key(made.spec.label)
    return made, ctx.tokens.handle(key)


def test_ec_key_signs_with_raw_ecdsa_and_validates_elsewhere(ec_key, tmp_path: Path) -> None:
    made, h = ec_key
    assert mechanisms.key_algorithm(h.signing_cert.info.der) == "ec"
    offered = h.backend.mechanisms(h.serial)
    assert mechanisms.CKM_ECDSA in offered and mechanisms.CKM_ECDSA_SHA256 not in offered  # SoftHSM, as on many keys
    assert [p.name for p in candidate_plans(h)] == ["CKM_ECDSA"]
    src = ph.make_contract(tmp_path / "in.pdf")
    out = tmp_path / "out.pdf"
    with key_batch(h, PinBuffer(made.spec.user_pin), seal=SEAL) as batch:
        batch.sign(src, out, [pl.AtPosition(1, 100, 200)])
    reports = verify_pdf(out.read_bytes(), ph.demo_roots())
    assert len(reports) == 1 and reports[0].intact and reports[0].valid and reports[0].trusted
    nss = ph.nss_db(tmp_path / "nss", ph.demo_roots_pem())
    text = ph.pdfsig(out, nss)
    assert "Signature Validation: Signature is Valid." in text, text


def test_rsa_key_uses_hash_then_sign_where_offered(demo_keys) -> None:  # noqa: ARG001
    ctx, key = ph.find_key("SZCA-DEMO")
    h = ctx.tokens.handle(key)
    plans = candidate_plans(h)
    assert plans[0].name == "CKM_SHA256_RSA_PKCS" and plans[0].token_hashes
    assert [p.name for p in mechanisms.standard_plans("rsa", [mechanisms.CKM_RSA_PKCS])] == ["CKM_RSA_PKCS"]


class BitFlipping:
    """A driver that answers every signature with one byte changed (as a broken key might)."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def sign_raw(self, session, cka_id, mechanism, data):  # type: ignore[no-untyped-def]
        sig = bytearray(self.inner.sign_raw(session, cka_id, mechanism, data))
        sig[len(sig) // 2] ^= 0x01
        return bytes(sig)


def test_a_signature_that_does_not_verify_never_reaches_a_document(demo_keys, tmp_path: Path) -> None:  # noqa: ARG001
    from zhenglian.pdf.keysign import batch_on
    from zhenglian.tokens import pin as pinops

    ctx, key = ph.find_key("GDCA-DEMO")
    good = ctx.tokens.handle(key)
    bad = KeyHandle(BitFlipping(good.backend), key, good.manifest)  # type: ignore[arg-type]
    src = ph.make_contract(tmp_path / "in.pdf")
    before = src.read_bytes()
    out = tmp_path / "out.pdf"
    with pinops.user_session(good, PinBuffer(ph.demo_pin("GDCA-DEMO"))) as session:
        session_plans = KeySession(bad, session).plans
        assert session_plans  # the token's own list was read
        with batch_on(bad, session, seal=SEAL) as batch, \
                pytest.raises(errors.KeySignatureInvalid) as exc:
            batch.sign(src, out, [pl.AtPosition(1, 100, 200)])
    assert "nothing was written" in exc.value.message_en()
    assert not out.exists() and not list(tmp_path.glob("*.part")) and src.read_bytes() == before


def test_raw_signature_forms_are_checked() -> None:
    for bad in (b"", b"\x01" * 63, b"\x00" * 300):
        with pytest.raises(errors.KeySignatureInvalid):
            mechanisms.raw_to_der(bad)
    der = mechanisms.raw_to_der(b"\x01" * 32 + b"\x02" * 32)
    assert der[0] == 0x30


def test_one_ckr_table() -> None:
    assert isinstance(ckr.error_for(0x32), errors.TokenRemoved)
    assert isinstance(ckr.error_for(0xE0), errors.TokenRemoved)
    locked = ckr.error_for(0xA4)
    assert isinstance(locked, errors.PinLocked) and "CA" in locked.user_message()
    assert isinstance(ckr.error_for(0x70), errors.MechanismUnsupported)
    assert "CKR_GENERAL_ERROR" in ckr.error_for(0x5).message_en()
    assert "0x12345" in ckr.error_for(0x12345).message_en()
    # in words in each language, the code beside them for support, the driver file only in the log
    device = ckr.error_for(0x30, where="/opt/vendor/lib/libvendor_p11.so")
    assert device.message_zh() == "UKey 操作失败：UKey 无响应或出错（CKR_DEVICE_ERROR）"
    assert device.message_en() == "Key operation failed: the key did not answer or reported a fault (CKR_DEVICE_ERROR)"
    assert "libvendor" not in device.user_message() and "重新插入" in device.hint()[0]
    not_in = ckr.error_for(0x101)
    assert "未登录" in not_in.message_zh() and not re.search(r"[\u4e00-\u9fff]", not_in.message_en())
    import pkcs11

    assert isinstance(ckr.from_exception(pkcs11.DeviceRemoved()), errors.TokenRemoved)
    assert isinstance(ckr.from_exception(pkcs11.PinLocked()), errors.PinLocked)
    # Never a WrongPin with an unknown count: a wrong PIN is only reported where the try was counted.
    assert not isinstance(ckr.from_exception(pkcs11.PinIncorrect()), errors.WrongPin)


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_raise_site_gives_every_fact_its_message_needs() -> None:
    """Each ``errors.X(...)`` call in the client passes every {fact} of X's messages and hint
    (classes with their own constructor compute their facts themselves)."""
    needed = {}
    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.ZhenglianError) and "__init__" not in cls.__dict__:
            needed[name] = set().union(*(_placeholders(getattr(cls, a)) for a in ("zh", "en", "hint_zh", "hint_en")))
    missing = []
    for path in (ROOT / "zhenglian").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            cls_name = f.attr if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and \
                f.value.id == "errors" else (f.id if isinstance(f, ast.Name) else None)
            if cls_name not in needed or any(k.arg is None for k in node.keywords):
                continue  # not an error class, or **facts passed on
            given = {k.arg for k in node.keywords}
            lacking = needed[cls_name] - given - {"detail"} if cls_name != "ZhenglianError" else set()
            if lacking:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {cls_name} lacks {sorted(lacking)}")
    assert not missing, "\n".join(missing)
