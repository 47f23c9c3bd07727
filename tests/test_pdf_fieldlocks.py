"""Fields an earlier signature locks (FieldMDP): a seal never goes into one.

A signature may lock form fields — /Include [names], /Exclude [names] or /All — in its
/Reference (FieldMDP) or through its field's /Lock.  pyHanko's validator then reports the
earlier signature modified when a later visible signature lands in a locked field, an
existing empty one or a new one ("… is not allowed because the form field X is locked").
prepare() (no key, so before any PIN) refuses exactly those cases: the tests hold our
decision against pyHanko's verdict on the same document signed anyway.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian import errors
from zhenglian.pdf import fieldlocks
from zhenglian.pdf import placement as pl
from zhenglian.pdf.seal import SealPicture
from zhenglian.pdf.sign import SigningBatch, prepare
from zhenglian.pdf.verify import validation_context, verify_pdf

SEAL = SealPicture(ph.simple_seal_png(), 42.0, 42.0, "合同专用章")


def spec(kind: str):  # type: ignore[no-untyped-def]
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec

    return {"include": FieldMDPSpec(FieldMDPAction.INCLUDE, ["Locked"]),
            "exclude": FieldMDPSpec(FieldMDPAction.EXCLUDE, ["Free"]),
            "all": FieldMDPSpec(FieldMDPAction.ALL)}[kind]


TARGETS = {"Locked": [pl.InField("Locked")], "Free": [pl.InField("Free")], "new": [pl.AtPosition(2, 100, 100)]}
LOCKED = {"include": {"Locked"}, "exclude": {"Locked", "new"}, "all": {"Locked", "Free", "new"}}


@pytest.fixture(scope="module")
def keys() -> dict[str, ph.SoftKey]:
    return {"sender": ph.soft_key("东莞市住房公积金管理中心（演示）", ca_id="gdca"), "us": ph.soft_key()}


def sender_intact(pdf: bytes, keys: dict[str, ph.SoftKey]) -> bool:
    """pyHanko's validator on its own: is the sender's signature (the first) unmodified?"""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    emb = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    assert emb.field_name == "Sender"
    status = validate_pdf_signature(emb, signer_validation_context=validation_context([keys["sender"].root]))
    return bool(status.bottom_line and status.docmdp_ok)


def pyhanko_verdict(src: Path, target: str, keys: dict[str, ph.SoftKey]) -> bool:
    """Sign ``target`` with pyHanko itself, no questions asked: does the sender's signature survive?"""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    w = IncrementalPdfFileWriter(io.BytesIO(src.read_bytes()))
    name = "Seal1" if target == "new" else target
    new = fields.SigFieldSpec(name, on_page=1, box=(100, 100, 200, 200)) if target == "new" else None
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name=name), keys["us"].signer,
                      new_field_spec=new).sign_pdf(w, output=out, existing_fields_only=new is None)
    return sender_intact(out.getvalue(), keys)


def two_empty_fields(tmp_path: Path, **first: object) -> Path:
    """A one-page document with two empty signature fields, "First" (its SigFieldSpec given
    ``first``: the lock it carries) and "Second"."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    data = ph.raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                       **ph.simple_page_objects(3)})
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(w, fields.SigFieldSpec("First", on_page=0, box=(40, 100, 190, 250), **first))
    fields.append_signature_field(w, fields.SigFieldSpec("Second", on_page=0, box=(220, 100, 370, 250)))
    out = io.BytesIO()
    w.write(out)
    src = tmp_path / "fields.pdf"
    src.write_bytes(out.getvalue())
    return src


@pytest.mark.parametrize("where", ["reference", "both"])
@pytest.mark.parametrize("kind", ["include", "exclude", "all"])
@pytest.mark.parametrize("target", ["Locked", "Free", "new"])
def test_refused_exactly_where_pyhanko_sees_the_earlier_signature_broken(kind: str, where: str, target: str, keys,
                                                                          tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec(kind), where=where)
    intact = pyhanko_verdict(src, target, keys)
    assert intact == (target not in LOCKED[kind])  # the judge agrees with the spec's reading
    if intact:
        prepare(src, TARGETS[target], seal=SEAL).close()
        return
    with pytest.raises(errors.SignatureFieldLocked) as refused:  # prepare() needs no key: before any PIN
        prepare(src, TARGETS[target], seal=SEAL)
    err = refused.value
    shown = "Seal1" if target == "new" else target
    assert err.message_zh().startswith(str(src)) and "“Sender”" in err.message_zh() and f"“{shown}”" in err.message_zh()
    assert f'"{shown}"' in err.message_en() and '"Sender"' in err.message_en() and "{" not in err.user_message()
    assert err.exit_code == errors.ExitCode.DOCUMENT
    free = "无 / none" if kind == "all" else "Free"  # the hint names the empty fields left to sign in
    assert free in err.hint()[0] and "Locked" not in err.hint()[0] and "sender" in err.hint()[1]
    out = tmp_path / "out.pdf"
    with SigningBatch(keys["us"].signer, seal=SEAL) as batch, pytest.raises(errors.SignatureFieldLocked):
        batch.sign(src, out, TARGETS[target])
    assert not out.exists()


@pytest.mark.parametrize("kind", ["include", "exclude"])
def test_a_seal_in_a_field_left_unlocked_keeps_the_earlier_signature(kind: str, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec(kind), where="reference")
    out = tmp_path / "signed.pdf"
    with SigningBatch(keys["us"].signer, seal=SEAL) as batch:
        result = batch.sign(src, out, [pl.InField("Free")])
    assert [s.field_name for s in result.signatures] == ["Free"]
    assert sender_intact(out.read_bytes(), keys)
    sender, ours = verify_pdf(out, [keys["sender"].root, keys["us"].root])
    assert sender.status == "valid" and sender.modifications_ok is True and ours.status == "valid"


def test_a_new_field_is_not_locked_by_an_include_list(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec("include"), where="reference")
    out = tmp_path / "signed.pdf"
    with SigningBatch(keys["us"].signer, seal=SEAL) as batch:
        result = batch.sign(src, out, [pl.AtPosition(2, 100, 100)])
    assert [s.field_name for s in result.signatures] == ["Seal1"]
    assert sender_intact(out.read_bytes(), keys)


@pytest.mark.parametrize("kind", ["include", "exclude", "all"])
def test_a_lock_only_in_the_signed_fields_lock_dictionary_counts(kind: str, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """/Lock promises the fields locked once its field is signed (ISO 32000-1 12.7.4.5), even
    where the signer did not copy it into the signature's /Reference."""
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec(kind), where="lock")
    for target, placements in TARGETS.items():
        if target in LOCKED[kind]:
            with pytest.raises(errors.SignatureFieldLocked, match="Sender"):
                prepare(src, placements, seal=SEAL)
        else:
            prepare(src, placements, seal=SEAL).close()


def test_a_lock_naming_more_fields_than_are_read_locks_every_field(keys, tmp_path: Path,
                                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec

    many = FieldMDPSpec(FieldMDPAction.INCLUDE, ["Locked", "A", "B", "C"])
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], many, where="reference")
    prepare(src, [pl.InField("Free")], seal=SEAL).close()  # read in full: Free is not named
    monkeypatch.setattr(fieldlocks, "MAX_NAMES", 3)
    with pytest.raises(errors.SignatureFieldLocked):
        prepare(src, [pl.InField("Free")], seal=SEAL)


def test_a_signature_with_more_references_than_are_read_locks_every_field(keys, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                          monkeypatch) -> None:
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec("include"), where="reference")
    prepare(src, [pl.InField("Free")], seal=SEAL).close()  # its one /Reference read: only Locked is locked
    monkeypatch.setattr(fieldlocks, "MAX_REFERENCES", 0)  # as if its FieldMDP entry came after those read
    with pytest.raises(errors.SignatureFieldLocked):
        prepare(src, [pl.InField("Free")], seal=SEAL)


def test_a_field_we_fill_locks_the_seals_signed_after_it(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """pyHanko's signer applies an empty field's /Lock to the signature made in it: a second
    seal of the same run in a field it locks would break the first."""
    from pyhanko.sign import fields


    src = two_empty_fields(tmp_path, field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Second"]))
    with pytest.raises(errors.SignatureFieldLocked) as refused:
        prepare(src, [pl.InField("First"), pl.InField("Second")], seal=SEAL)
    assert refused.value.facts["by"] == "First" and refused.value.facts["field"] == "Second"
    prepare(src, [pl.InField("Second"), pl.InField("First")], seal=SEAL).close()  # the other order breaks nothing


def test_a_field_we_fill_that_forbids_any_change_refuses_the_seals_after_it(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An empty field whose /Lock has /P 1: our signature there forbids any later change, so a
    later seal of the same run would break it — pyHanko's validator says so of the same file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.validation import validate_pdf_signature

    # pyHanko writes /P only into a /Lock that also locks fields (here one that does not exist)
    src = two_empty_fields(tmp_path, field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Elsewhere"]),
                           doc_mdp_update_value=fields.MDPPerm.NO_CHANGES)
    with pytest.raises(errors.DocumentLocked) as refused:
        prepare(src, [pl.InField("First"), pl.InField("Second")], seal=SEAL)
    assert "First" in refused.value.message_en()
    prepare(src, [pl.InField("Second"), pl.InField("First")], seal=SEAL).close()  # the other order breaks nothing
    prepare(src, [pl.InField("First")], seal=SEAL).close()  # alone, it is the last change
    # The judge: the same two seals signed anyway, in that order, break the first signature.
    signed = src.read_bytes()
    for name in ("First", "Second"):
        buf = io.BytesIO()
        signers.PdfSigner(signers.PdfSignatureMetadata(field_name=name), keys["us"].signer).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(signed)), output=buf, existing_fields_only=True)
        signed = buf.getvalue()
    first = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    status = validate_pdf_signature(first, signer_validation_context=validation_context([keys["us"].root]))
    assert first.field_name == "First" and not (status.bottom_line and status.docmdp_ok)


def test_cli_refuses_before_the_pin(run_cli, demo_keys, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec("include"), where="both")
    out = tmp_path / "out.pdf"
    # no PIN line on stdin: asking for the PIN would fail differently
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--field", "Locked", "--pin-stdin",
                  input="")
    assert res.returncode == 11, res.stderr
    assert "“Sender”" in res.stderr and "“Locked”" in res.stderr and "Free" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not out.exists()
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--field", "Free", "--pin-stdin",
                  input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    assert sender_intact(out.read_bytes(), keys)


def test_a_window_says_what_to_do_without_the_command_line_hint(keys, qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.ui.i18n import install_translator, screen_hint

    install_translator(qapp, "en_US")  # whatever an earlier test left: the English source texts

    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], spec("all"), where="both")
    with pytest.raises(errors.SignatureFieldLocked) as refused:
        prepare(src, [pl.InField("Free")], seal=SEAL)
    assert "--field" in refused.value.hint()[1]  # meaningless in a window: the screen says it its own way
    hint = screen_hint(refused.value)
    assert hint and "--" not in hint and "sender" in hint


def test_an_include_list_naming_the_new_fields_name_locks_it(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec

    src = ph.field_locked(tmp_path / "locked.pdf", keys["sender"], FieldMDPSpec(FieldMDPAction.INCLUDE, ["Seal1"]),
                          where="reference")
    assert not pyhanko_verdict(src, "new", keys)
    with pytest.raises(errors.SignatureFieldLocked) as refused:
        prepare(src, TARGETS["new"], seal=SEAL)
    assert "its list names it" in refused.value.message_en() and "Locked, Free" in refused.value.hint()[1]



def with_raw_lock(src: Path, lock: bytes) -> Path:
    """``src`` with an incremental update giving its empty field "First" the /Lock ``lock`` (PDF syntax)."""
    from pyhanko.pdf_utils.generic import read_object
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import read_non_whitespace
    from pyhanko.sign import fields

    w = IncrementalPdfFileWriter(io.BytesIO(src.read_bytes()))
    ref = next(ref for _n, _v, ref in fields.enumerate_sig_fields(w, with_name="First"))
    stream = io.BytesIO(lock)
    read_non_whitespace(stream, seek_back=True)
    ref.get_object()["/Lock"] = read_object(stream, ref)
    w.update_container(ref.get_object())
    out = io.BytesIO()
    w.write(out)
    src.write_bytes(out.getvalue())
    return src


@pytest.mark.parametrize("lock", [
    b"<< /Type /SigFieldLock >>",  # no /Action
    b"<< /Action /Bogus /Fields [(Second)] >>",
    b"<< /Action (All) >>",  # a string, not a name
    b"<< /Action /Include >>",  # no /Fields
    b"<< /Action /Include /Fields 3 >>",
    b"<< /Action /All /P 7 >>",  # no such DocMDP level
    b"5",
])
def test_an_empty_field_whose_lock_pyhankos_signer_cannot_read_is_refused_before_the_pin(lock: bytes, keys,
                                                                                         tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """pyHanko's signer reads the /Lock of the field it signs (and refuses a bad one): the refusal
    came only once signing had started, after the PIN, in pyHanko's own words."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    src = with_raw_lock(two_empty_fields(tmp_path), lock)
    with pytest.raises(Exception):  # noqa: B017,PT011 - the judge: pyHanko's signer refuses it, whatever the words
        signers.PdfSigner(signers.PdfSignatureMetadata(field_name="First"), keys["us"].signer).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(src.read_bytes())), output=io.BytesIO(), existing_fields_only=True)
    with pytest.raises(errors.DocumentCorrupt) as refused:  # prepare() needs no key: before any PIN
        prepare(src, [pl.InField("First")], seal=SEAL)
    assert "“First”" in refused.value.message_zh() and '"First"' in refused.value.message_en()
    prepare(src, [pl.InField("Second")], seal=SEAL).close()  # the other field is signed as before
