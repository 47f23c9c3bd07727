"""``zhenglian sign`` and ``zhenglian verify`` as a user runs them (child processes).

The PIN comes on stdin with --pin-stdin.  Refusals that need no key are
checked to happen *before* the PIN is read: the child gets no PIN line at
all, so a PIN request would fail differently (usage error, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import pdf as ph

from zhenglian.errors import ExitCode

pytestmark = pytest.mark.skipif(not (ph.have_poppler() and ph.have_cjk_font()),
                                reason="needs poppler-utils and fonts-noto-cjk")


@pytest.fixture
def roots(demo_keys) -> list[str]:  # type: ignore[no-untyped-def]
    args = []
    for p in ph.demo_roots_pem():
        args += ["--trust", str(p)]
    return args


def _verify_json(run_cli, pdf: Path, roots: list[str]) -> dict:  # type: ignore[no-untyped-def, type-arg]
    res = run_cli("verify", str(pdf), "--json", *roots)
    data = json.loads(res.stdout)
    data["_rc"] = res.returncode
    return data


def test_sign_then_verify(run_cli, roots, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = ph.make_contract(tmp_path / "合同.pdf", 2)
    before = ph.sha256_file(src)
    out = tmp_path / "signed.pdf"
    res = run_cli("sign", str(src), "-o", str(out), "--key", "SZCA-DEMO", "--anchor", "甲方（盖章）",
                  "--cross-page", "--pin-stdin", "--json", input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert made["organization"] == "东莞市松山湖演示科技有限公司"
    assert len(made["documents"][0]["signatures"][0]["spots"]) == 3  # anchor + 2 strips
    assert ph.sha256_file(src) == before
    data = _verify_json(run_cli, out, roots)
    assert data["_rc"] == 0 and data["valid"] is True
    (sig,) = data["signatures"]
    assert sig["status"] == "valid" and sig["trusted"] and sig["organization"] == made["organization"]
    assert sig["uscc"] == made["uscc"] and sig["seal"] == made["seal"]
    # without trusting the demo root the same file is reported untrusted, exit 11
    res = run_cli("verify", str(out))
    assert res.returncode == ExitCode.DOCUMENT
    assert "不受信任" in res.stdout and "USCC" in res.stdout


def test_batch_signs_with_one_pin(run_cli, roots, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inputs = [ph.make_contract(tmp_path / f"c{i}.pdf", 1) for i in range(3)]
    out_dir = tmp_path / "out"
    res = run_cli("sign", *map(str, inputs), "--out-dir", str(out_dir), "--key", "GDCA-DEMO", "--page", "1",
                  "--at", "150,200", "--pin-stdin", input=ph.demo_pin("GDCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["c0.pdf", "c1.pdf", "c2.pdf"]
    for p in out_dir.iterdir():
        assert _verify_json(run_cli, p, roots)["valid"] is True


def test_refusals_come_before_the_pin(run_cli, demo_keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: ARG001
    good = ph.make_contract(tmp_path / "good.pdf", 1)
    enc = tmp_path / "enc.pdf"
    ph.make_pdf(enc, ph.contract_pages(1), encrypt_user="pw", encrypt_owner="owner")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\ngarbage")
    out_dir = tmp_path / "out"
    cases = [
        ([str(enc)], ExitCode.DOCUMENT, "--password-stdin"),
        ([str(bad)], ExitCode.DOCUMENT, "不是完好的 PDF"),
        ([str(good), str(bad)], ExitCode.DOCUMENT, "bad.pdf"),  # one bad input stops the whole batch
    ]
    for inputs, code, text in cases:
        res = run_cli("sign", *inputs, "--out-dir", str(out_dir), "--key", "SZCA-DEMO", "--page", "1",
                      "--at", "50,50", "--pin-stdin", input="")
        assert res.returncode == code, res.stderr
        assert text in res.stderr
        assert "Traceback" not in res.stderr
    res = run_cli("sign", str(good), "-o", str(out_dir / "x.pdf"), "--key", "SZCA-DEMO", "--anchor", "丙方",
                  "--pin-stdin", input="")
    assert res.returncode == ExitCode.DOCUMENT and "丙方" in res.stderr
    assert not out_dir.exists() or not list(out_dir.iterdir())
    # where the output cannot go: said before the PIN (no PIN line on stdin: asking would fail otherwise)
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, text in ((folder, "是一个文件夹"), (good, "不能与输入文件相同")):
        res = run_cli("sign", str(good), "-o", str(target), "--key", "SZCA-DEMO", "--page", "1", "--at", "50,50",
                      "--pin-stdin", input="")
        assert res.returncode == ExitCode.USAGE and text in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert not list(folder.iterdir())


def test_document_password_then_pin_on_stdin(run_cli, roots, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = tmp_path / "enc.pdf"
    ph.make_pdf(enc, ph.contract_pages(1), encrypt_user="文档密码1", encrypt_owner="owner")
    out = tmp_path / "o.pdf"
    res = run_cli("sign", str(enc), "-o", str(out), "--key", "SZCA-DEMO", "--anchor", "乙方（盖章）",
                  "--password-stdin", "--pin-stdin", input="文档密码1\n" + ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    res = run_cli("verify", str(out), "--json", "--password-stdin", *roots, input="文档密码1\n")
    assert res.returncode == 0 and json.loads(res.stdout)["valid"] is True


def test_wrong_pin_writes_nothing(run_cli, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = make_key()
    out = tmp_path / "o.pdf"
    res = run_cli("sign", str(ph.make_contract(tmp_path / "c.pdf", 1)), "-o", str(out), "--key", key.serial,
                  "--page", "1", "--at", "100,100", "--pin-stdin", input="Wrong@12345\n")
    assert res.returncode == ExitCode.WRONG_PIN, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf"]


def test_locked_and_final_try(run_cli, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.tokens import pincounter

    key = make_key()
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    args = ("sign", str(src), "-o", str(tmp_path / "o.pdf"), "--key", key.serial, "--page", "1", "--at", "99,99",
            "--pin-stdin")
    try:
        pincounter.record_locked(key.serial, 10)
        res = run_cli(*args, input="")  # no PIN line: a locked key must not ask
        assert res.returncode == ExitCode.PIN_LOCKED, res.stderr
        assert "CA" in res.stderr
        pincounter.reset(key.serial)
        for _ in range(9):
            pincounter.record_failure(key.serial)
        res = run_cli(*args, input=key.spec.user_pin + "\n")
        assert res.returncode == ExitCode.CANCELLED, res.stderr  # final try needs confirmation
        assert not (tmp_path / "o.pdf").exists()
        res = run_cli(*args, "--confirm-final-try", input=key.spec.user_pin + "\n")
        assert res.returncode == 0, res.stderr
        assert pincounter.failures(key.serial) == 0
    finally:
        pincounter.reset(key.serial)


def test_usage_errors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = str(ph.make_contract(tmp_path / "c.pdf", 1))
    for extra in (["--at", "1,2"], ["--page", "1"], ["--page", "1", "--at", "x"], ["--match", "2"], []):
        res = run_cli("sign", src, "-o", str(tmp_path / "o.pdf"), *extra, input="")
        assert res.returncode == ExitCode.USAGE, (extra, res.stderr)
    res = run_cli("sign", src, "-o", str(tmp_path / "o.pdf"), "--pin", "123456", "--page", "1", "--at", "1,1")
    assert res.returncode == ExitCode.USAGE  # there is no way to give a PIN on the command line


def test_verify_unsigned_document(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("verify", str(ph.make_contract(tmp_path / "c.pdf", 1)))
    assert res.returncode == ExitCode.DOCUMENT
    assert "没有签名" in res.stdout


def test_factory_pin_is_refused_and_names_pin_change(run_cli, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """NETCA's factory PIN (12345678) typed to sign: refused before the key (no try spent, nothing
    written) and the message names the command that changes it."""
    from zhenglian.reference.provision import DEMO_KEYS
    from zhenglian.tokens import pincounter

    netca = DEMO_KEYS[0]
    key = make_key(netca)
    assert key.spec.user_pin == "12345678"  # the fresh key still has its factory PIN
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    before = ph.sha256_file(src)
    res = run_cli("sign", str(src), "-o", str(tmp_path / "o.pdf"), "--key", key.serial, "--page", "1",
                  "--at", "100,100", "--pin-stdin", input=key.spec.user_pin + "\n")
    assert res.returncode == ExitCode.PIN_POLICY, res.stderr
    assert "出厂初始 PIN" in res.stderr and "zhenglian pin change" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf"] and ph.sha256_file(src) == before
    assert pincounter.failures(key.serial) == 0
    from zhenglian.services import Context
    from zhenglian.tokens import pin as pinops

    tokens = Context.create().tokens
    st = pinops.status(tokens.handle(tokens.find_key(key.serial)))
    assert not st.flags.count_low and not st.locked and st.tries_left == st.max_tries  # the key saw no try


def test_two_institutions_seal_one_contract(run_cli, roots, tmp_path: Path, shoot) -> None:  # type: ignore[no-untyped-def]
    """docs/signing.md's pictures, from the files they show: a three-page contract sealed by one
    institution (骑缝章 strips + 甲方) and then another (乙方), both signatures valid; and a page
    with /Rotate 90 sealed on its anchor."""
    from PIL import Image

    src = ph.make_contract(tmp_path / "合同.pdf", 3)
    first, both = tmp_path / "one.pdf", tmp_path / "both.pdf"
    res = run_cli("sign", str(src), "-o", str(first), "--key", "SZCA-DEMO", "--anchor", "甲方（盖章）",
                  "--cross-page", "--pin-stdin", input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    res = run_cli("sign", str(first), "-o", str(both), "--key", "GDCA-DEMO", "--anchor", "乙方（盖章）",
                  "--pin-stdin", input=ph.demo_pin("GDCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    data = _verify_json(run_cli, both, roots)
    assert data["_rc"] == 0 and data["valid"] is True
    assert [s["status"] for s in data["signatures"]] == ["valid", "valid"]
    assert len({s["organization"] for s in data["signatures"]}) == 2

    pages = [ph.render(both, n, dpi=50) for n in (1, 2, 3)]
    for img in pages:  # a strip of the 骑缝章 at the right edge of every page
        w, h = img.size
        assert ph.red_bbox(img, (int(w * 0.85), 0, w, h)) is not None
    margin = 20
    sheet = Image.new("RGB", (sum(p.width for p in pages) + margin * (len(pages) + 1),
                              max(p.height for p in pages) + 2 * margin), (200, 200, 200))
    x = margin
    for img in pages:
        sheet.paste(img, (x, margin))
        x += img.width + margin
    shoot(sheet, "signed-contract-pages.png")

    last = ph.render(both, 3, dpi=110)
    w, h = last.size
    seals = ph.red_bbox(last, (0, h // 2, int(w * 0.8), h))  # the two seals on the seal lines
    assert seals is not None and seals[2] - seals[0] > 2.5 * (seals[3] - seals[1])  # side by side
    shoot(last.crop((max(seals[0] - 60, 0), max(seals[1] - 60, 0), min(seals[2] + 200, w),
                     min(seals[3] + 110, h))), "signed-seal-lines.png")

    rotated = tmp_path / "横向.pdf"
    ph.make_pdf(rotated, [ph.PageSpec(rotate=90, texts=[
        ph.Text(50, 50, "东莞市住房公积金个人住房贷款借款合同", 16, angle=90),
        ph.Text(90, 50, "第一条 借款金额人民币壹拾万元整。第二条 借款期限二十年。", 10.5, angle=90),
        ph.Text(400, 600, "单位盖章", 12, angle=90)])])
    out = tmp_path / "横向-signed.pdf"
    res = run_cli("sign", str(rotated), "-o", str(out), "--key", "SZCA-DEMO", "--anchor", "单位盖章",
                  "--pin-stdin", input=ph.demo_pin("SZCA-DEMO") + "\n")
    assert res.returncode == 0, res.stderr
    page = ph.render(out, 1, dpi=50)
    assert page.width > page.height  # shown as landscape
    box = ph.red_bbox(page)
    assert box is not None and abs((box[2] - box[0]) - (box[3] - box[1])) <= 3  # a round seal, upright
    assert box[0] > page.width / 2 and box[1] > page.height / 2  # on the anchor, lower right
    shoot(page, "signed-rotated-page.png")


def test_inputs_whose_names_differ_only_in_case_are_refused_for_one_out_dir(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """On Windows, macOS and FAT sticks "A.pdf" and "a.PDF" are one file: the second would overwrite the first."""
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = ph.make_contract(tmp_path / "x" / "合同A.pdf")
    b = ph.make_contract(tmp_path / "y" / "合同a.PDF")
    res = run_cli("sign", str(a), str(b), "--out-dir", str(tmp_path / "out"), "--key", "SZCA-DEMO", "--page", "1",
                  "--at", "50,50", "--pin-stdin", input="")
    assert res.returncode == ExitCode.USAGE and "重名" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()
