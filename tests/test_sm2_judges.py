"""The independent judges themselves: missing BouncyCastle fails in CI and skips elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PROBE = """
def test_probe(bc_pdf_check):
    assert bc_pdf_check is not None
"""


def _run_probe(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
               ZHENGLIAN_BC_JARS=str(tmp_path / "no-jars-here"))
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "helpers.judges", "-p", "no:cacheprovider", "-rs",
         str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_missing_bouncycastle_fails_in_ci(tmp_path: Path) -> None:
    out = _run_probe(tmp_path, ci=True)
    assert out.returncode != 0, out.stdout
    assert "must not pass as a skip" in out.stdout and "BouncyCastle jars missing" in out.stdout


def test_missing_bouncycastle_skips_on_a_developer_machine(tmp_path: Path) -> None:
    out = _run_probe(tmp_path, ci=False)
    assert out.returncode == 0, out.stdout
    assert "1 skipped" in out.stdout and "BouncyCastle jars missing" in out.stdout
