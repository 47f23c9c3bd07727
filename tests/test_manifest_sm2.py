"""``[[sm2]]`` vendor tables in driver manifests, and manifests support staff add in the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhenglian import manifest
from zhenglian.keys import sm2mech

HEAD = 'id = "{id}"\nkind = "maker"\n{top}\n[names]\nzh = "{zh}"\nen = "x"\n'


def _write(d: Path, name: str, text: str, ident: str = "vendorx", zh: str = "某厂商") -> Path:
    """A manifest with ``text`` (``[[sm2]]`` tables after [names]; a plain key goes on top)."""
    d.mkdir(parents=True, exist_ok=True)
    f = d / name
    top, tail = ("", text) if text.startswith("[") or not text else (text, "")
    f.write_text(HEAD.format(id=ident, zh=zh, top=top) + tail, encoding="utf-8")
    return f


def test_sm2_entries_are_read_in_order_with_defaults(tmp_path: Path) -> None:
    f = _write(tmp_path, "v.toml", '[[sm2]]\nmechanism = "0x80008104"\nhashes = "client"\noutput = "raw"\n'
                                   "verified = true\n\n[[sm2]]\nmechanism = 2147516673\n")
    m = manifest.load_file(f)
    assert m.sm2 == (manifest.Sm2Entry(0x80008104, "client", "raw", True),
                     manifest.Sm2Entry(0x80008101, "token", "auto", False))
    plans = sm2mech.plans(m, [0x80008101, 0x80008104])
    assert [(p.mechanism, p.token_hashes, p.output) for p in plans] == [
        (0x80008104, False, "raw"), (0x80008101, True, "auto")]
    assert "verified" in plans[0].name and "unverified" in plans[1].name


@pytest.mark.parametrize(("text", "field"), [
    ('[[sm2]]\nhashes = "token"\n', "sm2[0].mechanism"),
    ('[[sm2]]\nmechanism = "eighty"\n', "sm2[0].mechanism"),
    ('[[sm2]]\nmechanism = -1\n', "sm2[0].mechanism"),
    ('[[sm2]]\nmechanism = 0x100000000\n', "sm2[0].mechanism"),
    ('[[sm2]]\nmechanism = true\n', "sm2[0].mechanism"),
    ('[[sm2]]\nmechanism = 1\nhashes = "both"\n', "sm2[0].hashes"),
    ('[[sm2]]\nmechanism = 1\noutput = "pem"\n', "sm2[0].output"),
    ('[[sm2]]\nmechanism = 1\nverified = "yes"\n', "sm2[0].verified"),
    ('[[sm2]]\nmechanism = 1\n[[sm2]]\nmechanism = 1.5\n', "sm2[1].mechanism"),
    ("sm2 = 3\n", "sm2"),
    ("sm2 = [1, 2]\n", "sm2[0]"),
    ("".join(f"[[sm2]]\nmechanism = {i}\n" for i in range(17)), "sm2"),
])
def test_a_bad_sm2_entry_names_its_field(tmp_path: Path, text: str, field: str) -> None:
    f = _write(tmp_path, "v.toml", text)
    with pytest.raises(manifest.ManifestError) as exc:
        manifest.load_file(f)
    assert exc.value.facts["field"] == field
    s = manifest.load_all(tmp_path, tmp_path / "none")
    assert s.manifests == [] and len(s.errors) == 1  # reported, not raised


def test_user_manifests_add_and_override_shipped_ones(tmp_path: Path) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    _write(shipped, "a.toml", "", "vendorx", "出厂")
    _write(shipped, "b.toml", "", "other", "其他")
    _write(user, "fix.toml", '[[sm2]]\nmechanism = 0x80000004\nhashes = "client"\n', "vendorx", "用户修正")
    _write(user, "new.toml", "", "newvendor", "新厂商")
    _write(user, "broken.toml", "[[sm2]]\nmechanism = \"x\"\n", "broken", "坏")
    s = manifest.load_all(shipped, user)
    assert [m.id for m in s.manifests] == ["vendorx", "other", "newvendor"]
    fixed = s.by_id("vendorx")
    assert fixed is not None and fixed.name_zh == "用户修正" and fixed.sm2[0].mechanism == 0x80000004
    assert fixed.file == user / "fix.toml"
    assert [e.facts["file"] for e in s.errors] == [str(user / "broken.toml")]


def test_load_all_reads_the_data_folder_drivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "home"))
    _write(tmp_path / "home" / "drivers", "x.toml", "", "fromsupport", "支持人员添加")
    s = manifest.load_all()
    assert s.by_id("fromsupport") is not None and s.by_id("netca") is not None
    assert manifest.user_drivers_dir() == tmp_path / "home" / "drivers"


def test_home_in_module_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "home"))
    assert manifest.expand("{home}/sm2token/libsm2token.so") == str(tmp_path / "home" / "sm2token" / "libsm2token.so")
