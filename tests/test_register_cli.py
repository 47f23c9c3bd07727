"""``zhenglian register list|verify|export``: output, exit codes, and a PDF whose totals match the JSON."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from zhenglian import errors
from zhenglian.cli.main import main
from zhenglian.register import Register, SealUse


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_has_every_entry_and_totals(filled_register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "register", "list", "--file", str(filled_register), "--json")
    assert code == 0
    data = json.loads(out)
    assert [e["seq"] for e in data["entries"]] == list(range(1, 31))
    assert data["head"]["seq"] == 30
    assert data["totals"]["all"]["total"] == 30
    assert sum(s["total"] for s in data["totals"]["seals"]) == 30
    signed = sum(1 for e in data["entries"] if e["outcome"] == "signed")
    assert data["totals"]["all"]["signed"] == signed
    assert not any("pin" in k for e in data["entries"] for k in e)


def test_list_filters_and_text_output(filled_register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "register", "list", "--file", str(filled_register), "--outcome", "refused",
                        "--key", "GDCA-0002", "--json")
    entries = json.loads(out)["entries"]
    assert code == 0 and entries and all(e["outcome"] == "refused" and e["key_serial"] == "GDCA-0002" for e in entries)
    code, out, _ = _run(capsys, "register", "list", "--file", str(filled_register), "--limit", "3")
    assert code == 0 and "#3 " in out and "#4 " not in out and "已签署 signed" in out
    code, _, err = _run(capsys, "register", "list", "--file", str(filled_register), "--since", "2026-13-01")
    assert code == errors.ExitCode.USAGE and "YYYY-MM-DD" in err
    code, _, err = _run(capsys, "register", "list", "--file", str(filled_register),
                        "--since", "2026-11-10", "--until", "2026-11-01")
    assert code == errors.ExitCode.USAGE and "--since" in err


def test_verify_names_the_edited_entry_and_exits_13(filled_register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "register", "verify", "--file", str(filled_register))
    assert code == 0 and "登记链完整" in out
    conn = sqlite3.connect(filled_register)
    conn.execute("UPDATE entries SET body = replace(body, '\"document_size\":10016', '\"document_size\":10017')"
                 " WHERE seq = 17")
    conn.commit()
    conn.close()
    code, out, _ = _run(capsys, "register", "verify", "--file", str(filled_register))
    assert code == errors.ExitCode.REGISTER == 13
    assert "第 17 条" in out and "entry 17 " in out
    code, out, _ = _run(capsys, "register", "verify", "--file", str(filled_register), "--json")
    data = json.loads(out)
    assert code == 13 and data["ok"] is False and data["first_bad"] == 17


def test_verify_expect_checks_a_printed_head(filled_register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Register.open(filled_register) as reg:
        h20 = reg.entry(20).hash
    code, out, _ = _run(capsys, "register", "verify", "--file", str(filled_register), "--expect", f"20:{h20}")
    assert code == 0 and "一致" in out
    wrong = ("0" if h20[0] != "0" else "1") + h20[1:]
    code, out, _ = _run(capsys, "register", "verify", "--file", str(filled_register), "--expect", f"20:{wrong}")
    assert code == 13 and "不一致" in out
    code, _, err = _run(capsys, "register", "verify", "--file", str(filled_register), "--expect", "20:abc")
    assert code == errors.ExitCode.USAGE


def test_a_damaged_register_file_is_a_message_not_a_traceback(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "register.sqlite3"
    bad.write_bytes(b"\x00garbage" * 512)
    for cmd in ("list", "verify"):
        code, out, err = _run(capsys, "register", cmd, "--file", str(bad))
        assert code == 13 and "已损坏" in err and "damaged" in err and "Traceback" not in out + err


def test_export_csv_is_excel_ready_and_formula_safe(register_path: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with Register.open(register_path) as reg:
        reg.record(SealUse(outcome="cancelled", origin="web", document_name="=HYPERLINK(\"http://x\")",
                           web_origin="https://gjj.example.cn", error_code="cancelled"))
    out_csv = tmp_path / "out.csv"
    code, _, _ = _run(capsys, "register", "export", "--file", str(register_path), "--csv", str(out_csv))
    assert code == 0
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("序号,本地时间")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    code, _, err = _run(capsys, "register", "export", "--file", str(register_path), "--csv", str(register_path))
    assert code == errors.ExitCode.USAGE  # never over the register itself
    missing = tmp_path / "no-such-folder" / "out.csv"
    code, _, err = _run(capsys, "register", "export", "--file", str(register_path), "--csv", str(missing))
    assert code == errors.ExitCode.DOCUMENT and not missing.parent.exists() and "无法写入" in err


@pytest.mark.requires(shutil.which("pdftotext"), reason="poppler-utils missing")
def test_pdf_report_totals_match_list_json(filled_register: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    window = ("--since", "2026-11-03", "--until", "2026-11-20")
    code, out, _ = _run(capsys, "register", "list", "--file", str(filled_register), "--json", *window)
    listed = json.loads(out)
    pdf = tmp_path / "report.pdf"
    code, _, _ = _run(capsys, "register", "export", "--file", str(filled_register), "--pdf", str(pdf), *window)
    assert code == 0
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "电子印章用印登记报告" in text and "东莞示例有限公司" in text and "91441900MA4UXXXX1X" in text
    assert "2026-11-03 至 2026-11-20" in text
    for s in listed["totals"]["seals"]:
        numbers = r"\s+".join(str(s[k]) for k in ("signed", "refused", "cancelled", "failed", "total"))
        assert re.search(rf"^\s*{re.escape(s['seal_name'])}\s+{s['seal_type']}\s+{numbers}\s*$", text, re.M), s
    a = listed["totals"]["all"]
    assert re.search(rf"全部印章\s+{a['signed']}\s+{a['refused']}\s+{a['cancelled']}\s+{a['failed']}\s+{a['total']}",
                     text)
    assert f"本期共 {len(listed['entries'])} 条登记" in text
    last = listed["entries"][-1]
    assert last["hash"] in text.replace(" ", "")  # the last entry's full hash, to check a printed copy
    assert listed["head"]["hash"] in text.replace(" ", "")
    for e in listed["entries"]:
        assert e["hash"][:16] in text


def test_pdf_report_survives_hostile_entries(register_path: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Markup, 1024-character names without a break and 500 placements: a report, not a layout crash."""
    from zhenglian.register import Placement

    with Register.open(register_path) as reg:
        reg.record(SealUse(outcome="signed", origin="web", document_name="<b>&" + "长" * 1000 + ".pdf",
                           output_sha256="a" * 64, seal_name="<font size=80>x</font>" + "章" * 500,
                           organization="A&B <公司>", web_origin="https://" + "x" * 1000,
                           placements=tuple(Placement(p, 1.5, 2.5) for p in range(1, 501))))
    pdf = tmp_path / "r.pdf"
    code, out, err = _run(capsys, "register", "export", "--file", str(register_path), "--pdf", str(pdf))
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF")
