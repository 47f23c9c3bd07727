"""Detection on real PKCS#11 modules (SoftHSM2), through the code path a vendor DLL takes."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from zhenglian import errors, manifest
from zhenglian.reference import softhsm
from zhenglian.services import Context
from zhenglian.tokens.manager import TokenManager
from zhenglian.tokens.module import Pkcs11Module


def _by_label(keys):
    return {k.label: k for k in keys}


def test_three_demo_keys_detected_with_ca_org_uscc_and_validity(demo_keys) -> None:
    keys = _by_label(Context.create().tokens.scan())
    for prov in demo_keys:
        key = keys[prov.spec.label]
        assert key.ca_id == prov.spec.ca_id
        assert key.ca_source == "issuer"  # SoftHSM is no CA's module: the issuer tells
        assert key.demo
        assert key.serial == prov.serial
        assert key.manufacturer == "SoftHSM project"
        cert = key.signing_certificate()
        assert cert is not None
        assert cert.info.organization == prov.spec.organization  # Chinese round-trips exactly
        assert cert.info.uscc == prov.spec.uscc
        assert cert.info.usage == "signing"
        assert cert.paired is True
        assert cert.cka_id == b"\x01"
        assert cert.info.not_after == prov.certificate.not_valid_after_utc
        assert key.flags.pin_state() == "ok"


def test_signing_and_encryption_certificates_told_apart(demo_keys) -> None:
    key = _by_label(Context.create().tokens.scan())["NETCA-DEMO"]
    usages = sorted(c.info.usage for c in key.certificates if not c.info.is_ca)
    assert usages == ["encryption", "signing"]
    enc = next(c for c in key.certificates if c.info.usage == "encryption")
    assert enc.cka_id == b"\x02" and enc.paired is True
    assert key.signing_certificate().cka_id == b"\x01"
    assert any(c.info.is_ca for c in key.certificates)


def test_each_module_loaded_once_even_under_two_names(tmp_path: Path, demo_keys) -> None:
    real = softhsm.module_path()
    link = tmp_path / "libsofthsm2-link.so"
    link.symlink_to(real)
    mgr = TokenManager(manifest.load_all(), [str(link), str(real)])
    same = [m for m in mgr.modules if m.path.resolve() == real.resolve()]
    assert len(same) == 1
    assert "user" in same[0].claimed_by and "softhsm" in same[0].claimed_by


def test_missing_module_is_a_typed_error_and_does_not_hide_others(tmp_path: Path, demo_keys) -> None:
    missing = tmp_path / "nowhere" / "libvendor.so"
    not_lib = tmp_path / "notes.so"
    not_lib.write_text("this is not a library")
    other_lib = Path(shutil.which("true")).resolve()  # an ELF file, but not a library
    libm = next(p for p in (Path("/lib/x86_64-linux-gnu/libm.so.6"), Path("/lib/aarch64-linux-gnu/libm.so.6"),
                            Path("/usr/lib/x86_64-linux-gnu/libm.so.6")) if p.exists())
    mgr = TokenManager(manifest.load_all(), [str(missing), str(not_lib), str(other_lib), str(libm)])
    problems = {str(e.facts["path"]): e for e in mgr.load_all()}
    assert isinstance(problems[str(missing)], errors.DriverMissing)
    assert isinstance(problems[str(not_lib)], errors.DriverInvalid)
    assert isinstance(problems[str(other_lib)], errors.DriverInvalid)
    assert isinstance(problems[str(libm)], errors.DriverInvalid)  # a real library without C_GetFunctionList
    assert "C_GetFunctionList" in problems[str(libm)].user_message()
    labels = {k.label for k in mgr.scan()}
    assert {"NETCA-DEMO", "SZCA-DEMO", "GDCA-DEMO"} <= labels


def test_key_removed_between_listing_and_reading_is_skipped(make_key, softhsm_conf) -> None:
    prov = make_key()
    mgr = Context.create().tokens
    module = next(m for m in mgr.modules if m.loaded or m.path == softhsm.module_path())
    module.load()
    module.refresh()
    slot_id, token = next((s, t) for s, t in module.present_tokens() if t.label.strip() == prov.spec.label)
    softhsm.delete_token(softhsm_conf, prov.spec.label)
    module.refresh()  # the library now knows the key is gone
    assert mgr.read_key(module, slot_id, token) is None
    with pytest.raises(errors.NoKey), module.session(prov.serial):
        pass


def test_cli_keys_json_lists_demo_keys(run_cli, demo_keys) -> None:
    r = run_cli("keys", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    found = {k["label"]: k for k in data["keys"]}
    for prov in demo_keys:
        k = found[prov.spec.label]
        sign = next(c for c in k["certificates"] if c["usage"] == "signing")
        assert sign["organization"] == prov.spec.organization
        assert sign["uscc"] == prov.spec.uscc
        assert k["ca"] == prov.spec.ca_id


def test_cli_keys_text_shows_organisation_uscc_validity(run_cli, demo_keys) -> None:
    r = run_cli("keys")
    assert r.returncode == 0, r.stderr
    for prov in demo_keys:
        assert prov.spec.organization in r.stdout
        assert prov.spec.uscc in r.stdout
    assert "剩余" in r.stdout and "网证通 (NETCA)" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_key_added_with_module_flag_is_identified_by_issuer(run_cli, tmp_path: Path, demo_keys) -> None:
    vendor = tmp_path / "libvendor_p11.so"
    shutil.copy(softhsm.module_path(), vendor)
    r = run_cli("keys", "--json", "--module", str(vendor))
    assert r.returncode == 0, r.stderr
    through_vendor = [k for k in json.loads(r.stdout)["keys"] if k["module"] == str(vendor)]
    assert {k["label"] for k in through_vendor} >= {"NETCA-DEMO", "SZCA-DEMO", "GDCA-DEMO"}
    for k in through_vendor:
        assert k["module_manifests"] == ["user"]
        assert k["ca_identified_by"] == "issuer"
        assert not k["demo"]


def test_doctor_reports_vendor_drivers_missing_demo_present(run_cli, demo_keys) -> None:
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    drivers = {d["id"]: d for d in report["drivers"]}
    for ca in ("szca", "netca", "gdca"):
        assert drivers[ca]["found"] is False
    assert drivers["softhsm"]["found"] is True
    assert any(m["loaded"] for m in drivers["softhsm"]["modules"])
    assert len(report["keys"]) >= 3
    text = run_cli("doctor")
    assert "缺失 missing" in text.stdout and "已加载 loaded" in text.stdout


def test_driver_whose_initialize_fails_is_reported(run_cli, tmp_path: Path) -> None:
    vendor = tmp_path / "libbroken_init.so"
    shutil.copy(softhsm.module_path(), vendor)
    # SoftHSM's C_Initialize fails when its configuration file is missing.
    r = run_cli("doctor", "--json", "--module", str(vendor), env={"SOFTHSM2_CONF": str(tmp_path / "missing.conf")})
    assert r.returncode == 0, r.stderr
    user = json.loads(r.stdout)["user_modules"][0]
    assert user["loaded"] is False
    assert user["error"]["error"] == "driver_init_failed"


def test_broken_module_path_gives_clear_message_not_traceback(run_cli, tmp_path: Path) -> None:
    r = run_cli("keys", "--module", str(tmp_path / "missing.dll"))
    assert r.returncode == 0  # other drivers still work; the problem is reported by doctor
    r = run_cli("doctor", "--module", str(tmp_path / "missing.dll"))
    assert "找不到驱动文件" in r.stdout and "Driver file not found" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_usb_key_without_driver_is_named(run_cli, tmp_path: Path, demo_keys) -> None:
    dev = tmp_path / "sys" / "1-2"
    dev.mkdir(parents=True)
    (dev / "idVendor").write_text("096e\n")
    (dev / "idProduct").write_text("0314\n")
    (dev / "product").write_text("NETCA Key\n")
    r = run_cli("keys", env={"ZHENGLIAN_USB_SYSFS": str(tmp_path / "sys")})
    assert "检测到网证通 UKey（096E:0314），但未安装驱动" in r.stdout
    r = run_cli("doctor", "--json", env={"ZHENGLIAN_USB_SYSFS": str(tmp_path / "sys")})
    assert json.loads(r.stdout)["usb_without_driver"][0]["manifest"] == "netca"


def test_pkcs11_module_object_loads_once(tmp_path: Path) -> None:
    m = Pkcs11Module(softhsm.module_path(), ("softhsm",))
    m.load()
    lib = m._lib
    m.load()
    assert m._lib is lib


def test_usage_error_exit_code(run_cli) -> None:
    r = run_cli("keys", "--no-such-flag")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_softhsm_util_available() -> None:
    assert subprocess.run([softhsm.util_path(), "--version"], capture_output=True).returncode == 0
