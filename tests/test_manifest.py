import shutil
from pathlib import Path

import pytest

from zhenglian import manifest
from zhenglian.errors import ManifestError
from zhenglian.paths import drivers_dir


def test_shipped_manifests_load_without_errors() -> None:
    s = manifest.load_all()
    assert s.errors == []
    assert {"szca", "netca", "gdca", "softhsm"} <= {m.id for m in s.manifests}
    for ca in ("szca", "netca", "gdca"):
        m = s.by_id(ca)
        assert m is not None and m.is_ca
        assert m.pin.max_tries == 10
        assert m.usb_ids and m.issuer_patterns
        assert m.modules["windows"] and m.module_dirs["windows"]
    assert s.by_id("softhsm").is_demo
    assert s.by_id("netca").pin.initial == "12345678"
    assert "通联大厦" in s.by_id("netca").support.counter_zh


def test_issuer_and_usb_identification() -> None:
    s = manifest.load_all()
    assert s.ca_for_issuer(["NETCA SM2 ID CA"]).id == "netca"
    assert s.ca_for_issuer(["Global Digital Cybersecurity Authority CO., LTD."]).id == "gdca"
    assert s.ca_for_issuer(["深圳市电子商务安全证书管理有限公司"]).id == "szca"
    assert s.ca_for_issuer(["Some Other CA"]) is None
    assert s.for_usb("096e", "0314").id == "netca"   # exact CA product id wins
    assert s.for_usb("096E", "0309").id == "szca"
    assert s.for_usb("096E", "FFFF").id == "feitian"  # maker wildcard
    assert s.for_usb("1234", "5678") is None


def _copy_drivers(tmp_path: Path) -> Path:
    d = tmp_path / "drivers"
    shutil.copytree(drivers_dir(), d)
    return d


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.replace('id = "netca"', ""), "id"),
        (lambda t: t.replace("max_tries = 10", 'max_tries = "ten"'), "pin.max_tries"),
        (lambda t: t.replace('"096E:0314"', '"096E-0314"'), "usb.ids"),
        (lambda t: t.replace('"NETCA", ', '"NETCA(", '), "issuer.patterns"),
        (lambda t: t.replace('kind = "ca"', 'kind = "bank"'), "kind"),
        (lambda t: t.replace("[names]", "[names"), "(TOML)"),
        (lambda t: t.replace('zh = "网证通"', "zh = 3"), "names.zh"),
    ],
)
def test_malformed_manifest_names_file_and_field_and_others_still_load(tmp_path: Path, mutate, field: str) -> None:
    d = _copy_drivers(tmp_path)
    f = d / "netca.toml"
    f.write_text(mutate(f.read_text(encoding="utf-8")), encoding="utf-8")
    s = manifest.load_all(d)
    assert len(s.errors) == 1
    err = s.errors[0]
    assert isinstance(err, ManifestError)
    assert err.facts["file"] == str(f)
    assert err.facts["field"] == field
    assert str(f) in err.user_message() and field in err.user_message()
    assert s.by_id("netca") is None
    assert {"szca", "gdca", "softhsm"} <= {m.id for m in s.manifests}


def test_duplicate_id_is_reported(tmp_path: Path) -> None:
    d = _copy_drivers(tmp_path)
    shutil.copy(d / "netca.toml", d / "zz-copy.toml")
    s = manifest.load_all(d)
    assert [e.facts["field"] for e in s.errors] == ["id"]


def test_windows_candidates_expand_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SystemRoot", r"C:\Windows")
    monkeypatch.setenv("ProgramFiles", r"C:\Program Files")
    m = manifest.load_all().by_id("netca")
    paths = [str(p) for p in manifest.candidate_paths(m, "windows")]
    assert any(p.startswith(r"C:\Windows") and p.endswith("NETCA_CRYPTO.dll") for p in paths)
    assert any(p.startswith(r"C:\Program Files") for p in paths)
    assert not any("%" in p for p in paths if "ProgramFiles(x86)" not in p)
