"""`zhenglian renew` and `zhenglian forms` as a user runs them, and the forms' content."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from zhenglian import errors
from zhenglian.lifecycle import fonts, forms
from zhenglian.reference import est as est_server
from zhenglian.reference import provision, softhsm

PIN = "Szca@2026demo"


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_forms_for_a_plugged_in_key(make_key, run_cli, tmp_path: Path, shoot) -> None:  # type: ignore[no-untyped-def]
    made = make_key()  # SZCA spec: two seals on the key
    out = tmp_path / "renew.pdf"
    r = run_cli("forms", "renew", "--key", made.serial, "--years", "3", "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = pdf_text(out)
    org, uscc = made.spec.organization, made.spec.uscc
    assert "机构数字证书申请表" in text and "电子印章申请表" in text
    assert org in text and uscc in text and "叁" in text
    for seal in made.spec.seal_names:
        assert f"{org}{seal}" in text
    assert "网证通" not in text  # SZCA's form names SZCA's contacts, not another CA's
    assert pdf_pages(out) == 1 + len(made.spec.seal_names)  # one seal form per seal
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(out))
    try:  # the forms as printed (docs/lifecycle.md): A4 at 80 dpi
        for index, name in ((0, "lifecycle-form-certificate.png"), (1, "lifecycle-form-seal.png")):
            shoot(doc[index].render(scale=80 / 72).to_pil(), name)
    finally:
        doc.close()


def test_forms_and_reminders_for_a_key_in_the_drawer(make_key, run_cli, softhsm_conf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_key(provision.DEMO_KEYS[2])  # GDCA spec: expires in 25 days
    r = run_cli("renew", "--list", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    mine = [c for c in listed["certificates"] if c["key_serial"] == made.serial]
    assert len(mine) == 1 and mine[0]["seals"] == [f"{made.spec.organization}抵押业务专用章"]
    sha = mine[0]["sha256"]
    softhsm.delete_token(softhsm_conf, made.spec.label)  # the key goes into a drawer
    r = run_cli("renew", "--list", "--json")
    due = [d for d in json.loads(r.stdout)["due"] if d["sha256"] == sha]
    assert [(d["threshold"], d["kind"]) for d in due] == [(30, "expiring")]
    out = tmp_path / "unlock.pdf"
    r = run_cli("forms", "unlock", "--cert-sha256", sha[:20], "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert made.spec.organization in pdf_text(out) and pdf_pages(out) == 1  # no seal form for 解锁
    r = run_cli("forms", "revoke", "--cert-sha256", "ab" * 32, "-o", str(tmp_path / "x.pdf"))
    assert r.returncode == errors.ExitCode.NO_KEY and "SHA-256" in r.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_renew_command_against_the_demo_ca(make_key, run_cli) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    with est_server.serve(est_server.create_app()) as url:
        r = run_cli("renew", "--key", made.serial, "--pin-stdin", "--est-url", url, "--json", input=PIN + "\n")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["new_key"] is True and result["old_removed"] is True
    assert PIN not in r.stdout + r.stderr
    r = run_cli("renew", "--list", "--json")
    certs = {c["sha256"]: c for c in json.loads(r.stdout)["certificates"]}
    assert certs[result["old_sha256"]]["superseded_by"] == result["new_sha256"]


def test_renew_command_errors(make_key, run_cli) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    r = run_cli("renew", "--key", made.serial, "--pin-stdin", input=PIN + "\n")
    assert r.returncode == errors.ExitCode.CONFIG and "--est-url" in r.stderr  # no CA publishes a URL
    r = run_cli("renew", "--key", made.serial, "--pin-stdin", "--est-url", "http://127.0.0.1:9/.well-known/est",
                input="wrong-pin\n")
    assert r.returncode == errors.ExitCode.WRONG_PIN
    # a remote renewal service over plain http is refused before the PIN is tried (a wrong one here)
    r = run_cli("renew", "--key", made.serial, "--pin-stdin", "--est-url", "http://ca.example.org/.well-known/est",
                input="wrong-pin\n")
    assert r.returncode == errors.ExitCode.CONFIG and "未使用 HTTPS" in r.stderr and "Traceback" not in r.stderr
    expired = make_key(provision.DEMO_KEYS[0], days_valid=-1)  # a NETCA-like key, expired
    r = run_cli("renew", "--key", expired.serial, "--pin-stdin", input="12345678\n")
    assert r.returncode == errors.ExitCode.CERTIFICATE
    assert "200 元/年" in r.stdout and "400-830-1330" in r.stdout and "过期" in r.stderr


def test_form_font_missing_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fonts.register.cache_clear()
    monkeypatch.setattr(fonts, "_candidates", lambda: [(tmp_path / "nofont.ttf", 0)])
    facts = forms.FormFacts("东莞市某某有限公司", "", (), None)
    try:
        with pytest.raises(errors.FormFontMissing):
            forms.generate("renew", _Remembered(), None, tmp_path / "out.pdf")
        assert not (tmp_path / "out.pdf").exists()
        assert facts.organization
    finally:
        fonts.register.cache_clear()


class _Remembered:
    organization = "东莞市某某有限公司"
    common_name = None
    uscc = None
    seal_names = ("东莞市某某有限公司公章",)
    ca_id = None


def test_upper_numbers_and_seal_types() -> None:
    assert [forms.upper_number(n) for n in (1, 3, 5, 10, 12, 20)] == ["壹", "叁", "伍", "拾", "拾贰", "贰拾"]
    assert forms.seal_type_of("东莞市某某有限公司抵押业务专用章") == "抵押业务专用章"
    assert forms.seal_type_of("东莞市某某有限公司合同专用章") == "合同专用章"
    assert forms.seal_type_of("东莞市某某有限公司财务章") is None
    with pytest.raises(errors.UsageError):
        forms.render("renew", forms.FormFacts("x", "", (), None), None, years=9)


def test_renew_refuses_the_factory_pin(make_key, run_cli) -> None:  # type: ignore[no-untyped-def]
    """`zhenglian renew` reads its PIN without a prompter: the factory PIN is refused there too,
    before the key (no try spent) and before anything is asked of the CA."""
    from zhenglian.services import Context
    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens import pincounter

    made = make_key(provision.DEMO_KEYS[0])  # NETCA's spec: the factory PIN 12345678
    requests: list[str] = []
    inner = est_server.create_app()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]  # notes each request, then EST
        if scope["type"] == "http":
            requests.append(scope["path"])
        await inner(scope, receive, send)

    with est_server.serve(app) as url:
        r = run_cli("renew", "--key", made.serial, "--pin-stdin", "--est-url", url, input="12345678\n")
    assert r.returncode == errors.ExitCode.PIN_POLICY, r.stderr
    assert "出厂初始 PIN" in r.stderr and "zhenglian pin change" in r.stderr
    assert not [p for p in requests if "simplereenroll" in p]  # nothing sent to the CA
    tokens = Context.create().tokens
    st = pinops.status(tokens.handle(tokens.find_key(made.serial)))
    assert pincounter.failures(made.serial) == 0 and not st.flags.count_low
