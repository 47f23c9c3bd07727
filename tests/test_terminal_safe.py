"""Server text on a terminal: escapes, bidi overrides and forged lines are shown, never acted on (issue 15, 9)."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

from helpers.server import RunningServer  # noqa: F401
from helpers.tasks import SZCA

from zhenglian.textsafe import json_text_safe, terminal_safe

HOSTILE = ("合同\x1b]0;pwned\x07\x1b[2J\x1b[H\u202eevil\u2066\x9b31m\x7f\x00\r\nFAKE 已签署\u2028next"
           "\ufeff\u200b\U000e0041")


def unsafe_chars(text: str, allow: str = "\n") -> list[str]:
    return [c for c in text if c not in allow and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def test_terminal_safe_shows_every_control_and_format_character() -> None:
    out = terminal_safe(HOSTILE)
    assert unsafe_chars(out, allow="") == []
    assert out.startswith("合同\\x1b]0;pwned\\x07\\x1b[2J")
    assert "\\u202eevil\\u2066\\x9b31m\\x7f\\x00\\x0d\\x0aFAKE 已签署\\u2028next\\ufeff\\u200b\\U000e0041" in out
    assert terminal_safe("第1页\t甲方（盖章）") == "第1页\t甲方（盖章）"  # ordinary text untouched
    assert terminal_safe("a\nb", keep_newlines=True) == "a\nb" and terminal_safe("a\nb") == "a\\x0ab"
    assert terminal_safe("x" * 10, limit=4) == "xxxx…"


def test_json_output_stays_the_same_json_but_prints_safely() -> None:
    value = {"title": HOSTILE, "n": 1}
    text = json_text_safe(json.dumps(value, ensure_ascii=False, indent=2))
    assert unsafe_chars(text) == []
    assert json.loads(text) == value
    assert "合同" in text  # Chinese stays readable


def test_tasks_list_prints_a_hostile_title_safely(reference_server, demo_keys, run_cli, tmp_path: Path,  # noqa: F811
                                                  file_keyring) -> None:  # noqa: F811
    from zhenglian.reference.server import docgen

    server: RunningServer = reference_server
    tpl = docgen.template("贷款合同")
    pdf = docgen.make_pdf(tpl, SZCA.organization, SZCA.uscc, seed=7, font_dir=server.data / "fonts")
    server.store.add_task(SZCA.uscc, HOSTILE, "公积金\x1b[5m贷款", pdf, "a.pdf", "合同专用章", dict(tpl.placement))
    home = Path(os.environ["ZHENGLIAN_HOME"]) / f"cli-{tmp_path.name}"
    home.mkdir(exist_ok=True)
    env = {"ZHENGLIAN_HOME": str(home)}
    base = ("--server", server.url, "--key", SZCA.label)
    listed = run_cli("tasks", "list", *base, "--pin-stdin", input=f"{SZCA.user_pin}\n", env=env)
    assert listed.returncode == 0, listed.stderr
    assert unsafe_chars(listed.stdout) == [] and unsafe_chars(listed.stderr) == []
    assert "合同\\x1b]0;pwned\\x07\\x1b[2J" in listed.stdout and "公积金\\x1b[5m贷款" in listed.stdout
    assert "\nFAKE" not in listed.stdout  # the title's newline forged no line of its own
    as_json = run_cli("tasks", "list", *base, "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert unsafe_chars(as_json.stdout) == []
    assert [t["title"] for t in json.loads(as_json.stdout)["tasks"]] == [HOSTILE]  # the data itself is unchanged
