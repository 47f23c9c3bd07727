"""installer/pyinstaller/shiboken_support.py: shiboken6's support package, compiled for the bundle."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "installer" / "pyinstaller"))

import shiboken_support  # noqa: E402


def _tree(path: Path) -> dict[str, float]:
    return {str(p.relative_to(path)): p.stat().st_mtime for p in path.rglob("*") if "__pycache__" not in p.parts}


def test_the_support_package_comes_out_as_bytecode_only(tmp_path: Path) -> None:
    import shiboken6

    installed = Path(shiboken6.__file__).parent
    before = _tree(installed)
    out = shiboken_support.compiled_files_dir(tmp_path)
    assert out is not None
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert {"shibokensupport/__init__.pyc", "shibokensupport/signature/loader.pyc",
            "shibokensupport/signature/parser.pyc", "shibokensupport/signature/lib/pyi_generator.pyc"} <= set(files)
    assert all(f.endswith(".pyc") for f in files), files
    for f in files:
        data = (out / f).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked: no build time inside
    assert _tree(installed) == before  # the build environment's shiboken6 is left as it was


def test_the_same_sources_give_the_same_files(tmp_path: Path) -> None:
    one = shiboken_support.compiled_files_dir(tmp_path / "a")
    two = shiboken_support.compiled_files_dir(tmp_path / "b")
    assert one is not None and two is not None
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.pyc")}

    assert files(one) and files(one) == files(two)


def test_a_shiboken_that_does_not_unpack_leaves_the_bundle_as_shipped(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false" if os.path.exists("/bin/false") else "false")
    assert shiboken_support.compiled_files_dir(tmp_path) is None
    assert "did not unpack" in capsys.readouterr().err
