"""Issue 15.5: one bad manifest or driver module is reported and skipped; the rest work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zhenglian import errors, manifest, paths
from zhenglian.tokens import probe

NULL_LIST_C = r"""
typedef unsigned long CK_RV;
CK_RV C_GetFunctionList(void **list) { *list = 0; return 0; }  /* CKR_OK, and a NULL list */
"""

CRASH_C = r"""
typedef unsigned long CK_RV;
typedef struct { unsigned char major, minor; } V;
static CK_RV boom(void *a) { return *(volatile CK_RV *)0; }   /* C_Initialize reads address 0 */
static struct { V version; void *f[68]; } list;
CK_RV C_GetFunctionList(void **out) {
    int i;
    list.version.major = 2; list.version.minor = 40;
    for (i = 0; i < 68; i++) list.f[i] = (void *)boom;
    *out = &list;
    return 0;
}
"""

BAD_VERSION_C = r"""
typedef unsigned long CK_RV;
static struct { unsigned char major, minor; void *f[68]; } list = { 77, 1 };
CK_RV C_GetFunctionList(void **out) { *out = &list; return 0; }
"""


def build_module(tmp_path: Path, name: str, source: str) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.platform.startswith("win"):
        pytest.skip("needs a C compiler (Linux)")
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"lib{name}.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(out), str(src)], check=True, capture_output=True)
    return out


# --- manifests ---------------------------------------------------------------------


@pytest.fixture
def drivers_dir(tmp_path: Path) -> Path:
    d = tmp_path / "drivers"
    d.mkdir()
    for f in paths.drivers_dir().glob("*.toml"):
        shutil.copy(f, d)
    return d


def _netca_as(ident: str) -> str:
    text = (paths.drivers_dir() / "netca.toml").read_text(encoding="utf-8")
    return text.replace('id = "netca"', f'id = "{ident}"')


BAD_MANIFESTS = {
    "gbk.toml": lambda: _netca_as("gbk").encode("gbk"),
    "utf16.toml": lambda: _netca_as("utf16").encode("utf-16"),
    "binary.toml": lambda: bytes(range(256)) * 64,
    "brackets.toml": lambda: b"x = " + b"[" * 50_000 + b"]" * 50_000,
    "inline.toml": lambda: b"x = " + b"{a=" * 5_000 + b"1" + b"}" * 5_000,
    "dotted.toml": lambda: b"a" + b".a" * 5_000 + b" = 1\n",
    "huge.toml": lambda: b"# " + b"x" * (manifest.MAX_MANIFEST_BYTES + 10),
    "schema.toml": lambda: b'id = "schema"\nkind = "ca"\nmodules = 5\n[names]\nzh = "x"\nen = "y"\n',
}
EXPECT = {"gbk.toml": "GBK", "utf16.toml": "UTF-16", "binary.toml": "NUL", "brackets.toml": "nested",
          "inline.toml": "nested", "dotted.toml": "nested", "huge.toml": "KB", "schema.toml": "table"}


def test_each_bad_manifest_is_reported_and_the_rest_load(drivers_dir: Path) -> None:
    good_ids = {m.id for m in manifest.load_all(drivers_dir).manifests}
    for name, make in BAD_MANIFESTS.items():
        (drivers_dir / name).write_bytes(make())
    loaded = manifest.load_all(drivers_dir)
    assert {m.id for m in loaded.manifests} == good_ids
    reported = {Path(e.facts["file"]).name: e.user_message() for e in loaded.errors}
    assert set(reported) == set(BAD_MANIFESTS)
    for name, word in EXPECT.items():
        assert word in reported[name], (name, reported[name])


def test_a_utf8_bom_is_accepted(drivers_dir: Path) -> None:
    (drivers_dir / "bom.toml").write_bytes(b"\xef\xbb\xbf" + _netca_as("bom").encode("utf-8"))
    assert manifest.load_all(drivers_dir).by_id("bom") is not None


def test_brackets_inside_strings_and_comments_do_not_count(drivers_dir: Path) -> None:
    text = _netca_as("quoted") + '\n[extra]\na = "' + "[" * 50 + '"\nb = \'\'\'' + "{" * 50 + "'''\n# " + "[" * 50 + "\n"
    (drivers_dir / "quoted.toml").write_text(text, encoding="utf-8")
    assert manifest.load_all(drivers_dir).by_id("quoted") is not None


def test_cli_with_a_gbk_manifest_still_lists_keys(run_cli, demo_keys, drivers_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (drivers_dir / "gbk.toml").write_bytes(BAD_MANIFESTS["gbk.toml"]())
    env = {"ZHENGLIAN_DRIVERS_DIR": str(drivers_dir)}
    r = run_cli("keys", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert {k["label"] for k in json.loads(r.stdout)["keys"]} >= {p.spec.label for p in demo_keys}
    r = run_cli("doctor", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert any("gbk.toml" in e["message"] for e in json.loads(r.stdout)["manifest_errors"])


# --- modules -----------------------------------------------------------------------


def test_the_probe_names_what_is_wrong(tmp_path: Path) -> None:
    null_list = probe.probe_in_child(build_module(tmp_path, "nulllist", NULL_LIST_C))
    assert not null_list.ok and null_list.final and "NULL function list" in null_list.detail
    crash = probe.probe_in_child(build_module(tmp_path, "crash", CRASH_C))
    assert not crash.ok and crash.final and "crashed" in crash.detail
    version = probe.probe_in_child(build_module(tmp_path, "badversion", BAD_VERSION_C))
    assert not version.ok and "77.1" in version.detail
    not_a_lib = tmp_path / "notalib.so"
    not_a_lib.write_bytes(b"MZ garbage")
    assert not probe.probe_in_child(not_a_lib).ok


def test_the_probe_passes_softhsm_and_caches_by_file(tmp_path: Path, softhsm_conf: Path) -> None:
    from zhenglian.reference import softhsm

    lib = tmp_path / "libcopy.so"
    shutil.copy(softhsm.module_path(), lib)
    cache = probe.ProbeCache(tmp_path / "probes.json")
    calls: list[Path] = []

    def counting(path: Path) -> probe.ProbeResult:
        calls.append(path)
        return probe.probe_in_child(path)

    first = cache.verdict(lib, counting)
    assert first.ok and first.final and first.version.startswith("2.")
    assert cache.verdict(lib, counting).ok and len(calls) == 1, "cached in memory"
    assert probe.ProbeCache(tmp_path / "probes.json").verdict(lib, counting).ok and len(calls) == 1, "and on disk"
    # Replaced by a broken file of another size: probed again, and refused.
    shutil.copy(build_module(tmp_path, "nulllist", NULL_LIST_C), lib)
    again = probe.ProbeCache(tmp_path / "probes.json").verdict(lib, counting)
    assert not again.ok and len(calls) == 2


def test_verdicts_cached_by_two_processes_are_all_kept(tmp_path: Path) -> None:
    """The tray reads the cache once; a command line caches another driver's verdict meanwhile: the
    tray's next verdict is added to the file as it is now, not written over it from memory."""
    libs = [tmp_path / f"lib{n}.so" for n in "abc"]
    for i, lib in enumerate(libs):
        lib.write_bytes(bytes([i]) * (100 + i))

    def verdict(path: Path) -> probe.ProbeResult:
        return probe.ProbeResult(True, "ok", "2.40", 1, True)

    tray, cli = probe.ProbeCache(tmp_path / "probes.json"), probe.ProbeCache(tmp_path / "probes.json")
    tray.verdict(libs[0], verdict)
    cli.verdict(libs[1], verdict)
    tray.verdict(libs[2], verdict)
    kept = json.loads((tmp_path / "probes.json").read_text(encoding="utf-8"))
    assert sorted(Path(k).name for k in kept) == ["liba.so", "libb.so", "libc.so"]


def test_a_null_function_list_module_never_reaches_python_pkcs11(tmp_path: Path) -> None:
    from zhenglian.tokens.module import Pkcs11Module

    module = Pkcs11Module(build_module(tmp_path, "nulllist", NULL_LIST_C), ("user",))
    with pytest.raises(errors.DriverInvalid) as info:
        module.load()
    assert "NULL" in info.value.user_message()
    assert not module.loaded and isinstance(module.error, errors.DriverInvalid)


def test_cli_with_a_null_list_module_still_lists_the_demo_keys(run_cli, demo_keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = build_module(tmp_path, "nulllist", NULL_LIST_C)
    labels = {p.spec.label for p in demo_keys}
    # --module
    r = run_cli("keys", "--json", "--module", str(bad))
    assert r.returncode == 0, r.stderr
    assert {k["label"] for k in json.loads(r.stdout)["keys"]} >= labels
    r = run_cli("doctor", "--json", "--module", str(bad))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    (user,) = [m for m in report["user_modules"] if m["path"] == str(bad)]
    assert user["loaded"] is False and user["error"]["error"] == "driver_invalid"
    assert len(report["keys"]) >= 3
    serial = next(p.serial for p in demo_keys)
    r = run_cli("pin", "status", "--key", serial, "--json", "--module", str(bad))
    assert r.returncode == 0, r.stderr
    # in the settings' extra modules (as the tray app reads them at every start)
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"extra_modules": [str(bad)]}), encoding="utf-8")
    env = {"ZHENGLIAN_HOME": str(home)}
    r = run_cli("keys", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert {k["label"] for k in json.loads(r.stdout)["keys"]} >= labels
    text = run_cli("doctor", env=env)
    assert text.returncode == 0 and "libnulllist.so" in text.stdout and "NULL" in text.stdout, text.stdout
    r = run_cli("pin", "status", "--key", serial, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
