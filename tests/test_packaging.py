"""Packaging: the PyInstaller bundle, the .deb installed into a clean root, the NSIS script.

Built once per test session into a temporary directory (about a minute on two
cores).  "Installed" means: ``dpkg --root=ROOT -i`` into an empty root whose
dpkg database is a copy of this machine's, so dpkg checks our Depends against
the packages really present here; the installed program then runs from ROOT
with this machine's system libraries, which is what those Depends promise.
The Windows bundle cannot be built here: the NSIS script is compiled against
a stub folder to catch script errors.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.server import terminate
from helpers.spec import spec_excludes_literal, spec_list

from zhenglian import __version__

ROOT = Path(__file__).resolve().parent.parent
PYINSTALLER = ROOT / ".venv" / "bin" / "pyinstaller"
BUILD_DEB = ROOT / "installer" / "linux" / "build-deb.sh"
NSI = ROOT / "installer" / "windows" / "zhenglian.nsi"

slow = pytest.mark.slow
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux packaging")


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, **kw)  # type: ignore[call-overload,no-any-return]


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} not installed (apt-get install {package})")
    return path


def _deb_version(version: str) -> str:
    return re.sub(r"\.?(a|b|rc|dev)(\d+)", r"~\1\2", version)


# --- built once per session -------------------------------------------------------------


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PYINSTALLER.is_file():
        pytest.skip("PyInstaller is not installed in .venv (pip install -e .[dev])")
    work = tmp_path_factory.mktemp("pyinstaller")
    res = _run([str(PYINSTALLER), "--noconfirm", "--log-level", "WARN", "--distpath", str(work / "dist"),
                "--workpath", str(work / "build"), str(ROOT / "build.spec")])
    assert res.returncode == 0, res.stderr[-4000:]
    out = work / "dist" / "zhenglian"
    assert (out / "zhenglian").is_file()
    return out


@pytest.fixture(scope="session")
def deb(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need("dpkg-deb", "dpkg")
    _need("objdump", "binutils")
    out = tmp_path_factory.mktemp("deb")
    res = _run(["bash", str(BUILD_DEB), "--bundle", str(bundle), "--out", str(out), "-z", "1"])
    assert res.returncode == 0, res.stderr[-4000:]
    path = Path(res.stdout.strip().splitlines()[-1])
    assert path.is_file()
    return path


def _dpkg_root(base: Path) -> Path:
    """An empty root whose dpkg database knows this machine's installed packages."""
    admin = base / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True)
    shutil.copy("/var/lib/dpkg/status", admin / "status")
    (admin / "available").touch()
    return base


def _install(deb: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return _run(["dpkg", f"--root={root}", "--force-not-root", "-i", str(deb)])


@pytest.fixture(scope="session")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb installed into a fresh root; the path of that root."""
    _need("dpkg", "dpkg")
    root = _dpkg_root(tmp_path_factory.mktemp("root"))
    res = _install(deb, root)
    assert res.returncode == 0, res.stdout + res.stderr
    return root


def _zhenglian(root: Path) -> Path:
    return root / "usr" / "bin" / "zhenglian"


# --- the spec itself (no build) ----------------------------------------------------------


def test_spec_ships_every_qt_module_the_code_imports() -> None:
    """A Qt module imported by the client but left out of the bundle would break only the installed app."""
    shipped = set(spec_list("QT_MODULES"))
    used: dict[str, str] = {}
    for path in (ROOT / "zhenglian").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for mod in re.findall(r"PySide6\.(Qt\w+)", text):
            used.setdefault(mod, str(path.relative_to(ROOT)))
        for names in re.findall(r"from PySide6 import ([\w, ()\n]+)", text):
            for mod in re.findall(r"Qt\w+", names):
                used.setdefault(mod, str(path.relative_to(ROOT)))
    missing = {m: f for m, f in used.items() if m not in shipped}
    assert not missing, f"add these to QT_MODULES in build.spec: {missing}"
    assert not shipped & set(spec_list("QT_EXCLUDED"))


def test_spec_excludes_nothing_the_client_imports() -> None:
    """An excluded package that the client imports would fail only in the installed app."""
    excluded = spec_excludes_literal() + spec_list("UNREACHED") + [f"PySide6.{m}" for m in spec_list("QT_EXCLUDED")]
    assert "zhenglian.reference" in excluded
    clashes = {}
    for path in (ROOT / "zhenglian").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("zhenglian", "reference"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                hit = [e for e in excluded if name == e or name.startswith(e + ".")]
                if hit and not name.startswith("zhenglian.reference"):
                    clashes.setdefault(f"{rel}: {hit[0]}", name)
    assert not clashes, f"build.spec excludes what the client imports: {clashes}"


def test_icons_are_generated_from_the_svg() -> None:
    from PIL import Image

    png = Image.open(ROOT / "resources" / "icons" / "zhenglian.png")
    assert png.size == (256, 256) and png.mode == "RGBA"
    assert png.getpixel((0, 0))[3] == 0  # round: transparent corners
    r, g, b, _ = png.getpixel((20, 128))  # the red disc
    assert r > 150 and g < 60 and b < 60
    ico = Image.open(ROOT / "resources" / "icons" / "zhenglian.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    res = _run([sys.executable, str(ROOT / "scripts" / "icons.py"), "--check"],
               env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert res.returncode == 0, res.stdout + res.stderr


# --- the bundle ----------------------------------------------------------------------------


@slow
def test_bundle_answers_version_and_doctor(bundle: Path) -> None:
    exe = bundle / "zhenglian"
    res = _run([str(exe), "--version"])
    assert res.returncode == 0 and res.stdout.strip() == f"zhenglian {__version__}"
    res = _run([str(exe), "doctor", "--json"], timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["version"] == __version__
    # drivers/ and resources/ are found inside the bundle (sys._MEIPASS = _internal/)
    internal = (bundle / "_internal").resolve()
    assert Path(report["paths"]["drivers"]).resolve() == internal / "drivers"
    assert Path(report["paths"]["resources"]).resolve() == internal / "resources"
    assert {d["id"] for d in report["drivers"]} >= {"netca", "szca", "gdca"}
    assert not report["manifest_errors"]
    # the packages doctor reports carry their metadata into the bundle
    missing = [name for name, ver in report["packages"].items() if not ver]
    assert not missing, f"copy_metadata() these in build.spec: {missing}"


@slow
def test_bundle_runs_its_child_jobs(bundle: Path) -> None:
    """The jobs the tray runs in a child of itself (zhenglian.selfexec): the keyring read
    answers one JSON line (the keyring package and its backends are in the bundle), and the
    PKCS#11 probe answers for a file that is no library."""
    exe = bundle / "zhenglian"
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    res = _run([str(exe), "--read-keyring-token", "https://sign.example.org#SER1"], env=env)
    assert res.returncode == 0 and json.loads(res.stdout) == {"keyring": False, "value": None}, res.stderr
    res = _run([str(exe), "--read-keyring-token", "https://sign.example.org#SER1"])
    assert res.returncode == 0 and set(json.loads(res.stdout)) == {"keyring", "value"}, res.stderr
    res = _run([str(exe), "--probe-pkcs11-module", str(exe.parent / "_internal" / "base_library.zip")])
    assert res.returncode == 0 and json.loads(res.stdout)["ok"] is False


@slow
def test_bundle_loads_qt_signature_support_compiled(bundle: Path, tmp_path: Path) -> None:
    """shiboken6's support package ships as bytecode in ``shiboken6/files.dir`` (build.spec,
    installer/pyinstaller/shiboken_support.py), and the tray imports it from there instead of
    compiling the sources embedded in shiboken6's library at every start (issue 19)."""
    import importlib.util
    import marshal

    files = bundle / "_internal" / "shiboken6" / "files.dir"
    pycs = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
    assert {"shibokensupport/__init__.pyc", "shibokensupport/feature.pyc",
            "shibokensupport/signature/loader.pyc", "shibokensupport/signature/mapping.pyc"} <= set(pycs), pycs
    assert all(p.endswith(".pyc") for p in pycs), pycs  # no sources: nothing to compile, no cache to write
    assert all((files / p).read_bytes()[:4] == importlib.util.MAGIC_NUMBER for p in pycs)
    # A copy of the bundle (hard links) whose package __init__ leaves a mark when it runs.
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy, symlinks=True, copy_function=os.link)
    init = copy / "_internal" / "shiboken6" / "files.dir" / "shibokensupport" / "__init__.pyc"
    original = marshal.loads(init.read_bytes()[16:])
    used = tmp_path / "support-imported"
    source = f"open({str(used)!r}, 'w').close()\nimport marshal\nexec(marshal.loads({marshal.dumps(original)!r}))\n"
    init.unlink()  # a new file: the bundle's own stays as it is
    init.write_bytes(importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(compile(source, "__init__", "exec")))
    mark = tmp_path / "up"
    env = dict(os.environ, ZHENGLIAN_HOME=str(tmp_path / "home"), ZHENGLIAN_STARTUP_MARK=str(mark),
               QT_QPA_PLATFORM="offscreen")
    ok, output = _wait_gui([str(copy / "zhenglian")], env, mark)
    assert ok, output[-3000:]
    assert used.exists()
    assert not list((copy / "_internal" / "shiboken6").rglob("__pycache__"))


@slow
def test_bundle_holds_the_client_and_nothing_of_the_reference_side(bundle: Path) -> None:
    viewer = PYINSTALLER.with_name("pyi-archive_viewer")
    res = _run([str(viewer), "-r", "-b", str(bundle / "zhenglian")])
    assert res.returncode == 0, res.stderr
    modules = {line.strip() for line in res.stdout.splitlines()}
    never = [m for m in modules
             if re.match(r"(zhenglian\.reference|zhenglian\.bridge\.testhook|fastapi|uvicorn|starlette|pytest|_pytest|"
                         r"pytestqt)(\.|$)", m)]
    assert not never, never
    expected = set()
    for path in (ROOT / "zhenglian").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        name = ".".join(parts)
        if not name.startswith("zhenglian.reference") and name != "zhenglian.bridge.testhook":
            expected.add(name)  # the test hook never ships (it could confirm for the user)
    assert expected - modules == set(), "client modules missing from the bundle"
    internal = bundle / "_internal"
    for sub in ("drivers", "resources", "config"):  # config/: the deployment's defaults
        for src in (ROOT / sub).rglob("*"):
            if src.is_file() and "__pycache__" not in src.parts:
                assert (internal / sub / src.relative_to(ROOT / sub)).is_file(), f"{src} not in bundle"
    qt = internal / "PySide6" / "Qt"
    libs = {p.name for p in (qt / "lib").iterdir()} if (qt / "lib").is_dir() else set()
    assert not [n for n in libs if re.search(r"Qt6(Qml|Quick|WebEngine|Multimedia|3D|Designer|Pdf)", n)], libs
    translations = [p.name for p in (qt / "translations").glob("*.qm")] if (qt / "translations").is_dir() else []
    assert all(re.search(r"_zh_(CN|TW)\.qm$", n) for n in translations), translations


@slow
@linux_only
def test_bundle_leaves_system_libraries_to_the_system(bundle: Path) -> None:
    """Only libffi and Python (and the legacy build's OpenSSL 1.1) come from the build machine;
    X11, glib, libstdc++, OpenSSL 3 … do not."""
    internal = bundle / "_internal"
    top = {p.name for p in internal.iterdir() if p.name.startswith("lib") and ".so" in p.name}
    for name in ("libstdc++.so.6", "libX11.so.6", "libglib-2.0.so.0", "libfontconfig.so.1", "libdbus-1.so.3",
                 "libxcb-cursor.so.0", "libz.so.1"):
        assert name not in top, f"{name} is bundled: it must come from the system (Depends)"
    for name in ("libssl.so.3", "libcrypto.so.3"):  # the system's, with its security updates
        assert name not in top, f"{name} is bundled: it must come from the system (libssl3 | libssl3t64)"
    assert any(n.startswith("libpython3") for n in top)
    # Pillow's private libxcb/libXau are replaced by the system's libxcb (as Qt uses)
    private = [p.name for p in internal.rglob("lib*") if re.match(r"lib(xcb|Xau)-[0-9a-f]{8}\.so", p.name)]
    assert not private, private
    imaging = next((internal / "PIL").glob("_imaging.*.so"))
    needed = _run(["readelf", "-d", str(imaging)]).stdout
    assert "[libxcb.so.1]" in needed, needed
    # ... and it still loads: the bundle runs the seal renderer (PIL) on start
    res = _run([str(bundle / "zhenglian"), "seals", "--help"])
    assert res.returncode == 0, res.stderr


@slow
def test_demo_command_says_the_reference_part_is_not_shipped(bundle: Path, tmp_path: Path) -> None:
    res = _run([str(bundle / "zhenglian"), "demo", "init"], env=dict(os.environ, ZHENGLIAN_HOME=str(tmp_path)))
    assert res.returncode != 0
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stderr.strip()


def _session_libraries(sid: int) -> set[str]:
    """File names of the shared libraries mapped by the processes of session ``sid``."""
    names: set[str] = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if os.getsid(int(d.name)) != sid:
                continue
            maps = (d / "maps").read_text(encoding="utf-8", errors="replace")
        except (OSError, ProcessLookupError):
            continue
        names |= {os.path.basename(line.split()[-1]) for line in maps.splitlines() if ".so" in line}
    return names


def _wait_gui(cmd: list[str], env: dict[str, str], mark: Path, seconds: float = 45,
              loaded: set[str] | None = None) -> tuple[bool, str]:
    """Start the tray app; True once it has come up (startup mark written, or still running).

    ``loaded``, if given, receives the libraries the running app has mapped once it is up."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if mark.exists():
                if loaded is not None:
                    loaded |= _session_libraries(proc.pid)
                return True, ""
            if proc.poll() is not None:
                return False, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        return proc.poll() is None, ""
    finally:
        terminate(proc, group=True)


@slow
@linux_only
@pytest.mark.skipif(not (ROOT / "zhenglian" / "ui" / "app.py").is_file(), reason="no tray app yet")
def test_installed_bundle_starts_the_tray_app_on_x11(installed: Path, tmp_path: Path) -> None:
    """Under Xvfb: Qt's xcb plugin loads with the system libraries the Depends name."""
    xvfb_run = _need("xvfb-run", "xvfb xauth")
    mark = tmp_path / "up"
    env = dict(os.environ, ZHENGLIAN_HOME=str(tmp_path / "home"), ZHENGLIAN_STARTUP_MARK=str(mark),
               QT_QPA_PLATFORM="xcb", QT_DEBUG_PLUGINS="0")
    loaded: set[str] = set()
    ok, output = _wait_gui([xvfb_run, "-a", "-s", "-screen 0 1280x800x24", str(_zhenglian(installed))], env, mark,
                           loaded=loaded)
    assert ok, output[-3000:]
    assert "usage:" not in output
    assert "libqxcb.so" in loaded, sorted(loaded)


@slow
@linux_only
@pytest.mark.skipif(not (ROOT / "zhenglian" / "ui" / "app.py").is_file(), reason="no tray app yet")
def test_installed_bundle_starts_the_tray_app_on_wayland(installed: Path, tmp_path: Path) -> None:
    """Under a headless Weston: Qt's Wayland plugin and its xdg-shell integration (the only shell
    the bundle keeps) load and the app comes up without X."""
    weston = _need("weston", "weston")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    socket = "zhenglian-test"
    compositor = subprocess.Popen([weston, "--backend=headless-backend.so", f"--socket={socket}", "--idle-time=0"],
                                  env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime)), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (runtime / socket).exists() and compositor.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not (runtime / socket).exists():
            pytest.skip("weston did not start here: " + (compositor.stderr.read()[-500:] if compositor.poll() is not None
                                                         and compositor.stderr else ""))
        mark = tmp_path / "up"
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(XDG_RUNTIME_DIR=str(runtime), WAYLAND_DISPLAY=socket, QT_QPA_PLATFORM="wayland",
                   ZHENGLIAN_HOME=str(tmp_path / "home"), ZHENGLIAN_STARTUP_MARK=str(mark))
        loaded: set[str] = set()
        ok, output = _wait_gui([str(_zhenglian(installed))], env, mark, loaded=loaded)
        assert ok, output[-3000:]
        assert {"libqwayland.so", "libxdg-shell.so"} <= loaded, sorted(loaded)
        assert "libqxcb.so" not in loaded
    finally:
        terminate(compositor, group=True)


# --- the .deb ------------------------------------------------------------------------------


@slow
@linux_only
def test_deb_metadata_and_layout(deb: Path) -> None:
    fields = {k: _run(["dpkg-deb", "-f", str(deb), k]).stdout.strip()
              for k in ("Package", "Version", "Architecture", "Depends", "Recommends", "Installed-Size")}
    assert fields["Package"] == "zhenglian"
    assert fields["Version"] == _deb_version(__version__)
    depends = fields["Depends"]
    assert re.search(r"libc6 \(>= 2\.\d+\)", depends)
    for pkg in ("libegl1", "libfontconfig1", "libxkbcommon-x11-0", "libxcb-cursor0"):
        assert pkg in depends
    assert "fonts-arphic-uming | fonts-wqy-zenhei" in depends  # TrueType: the forms embed it
    # lxml built against the system's libxml2/libxslt (scripts/setup.sh, build-deb.sh)
    assert re.search(r"(^|, )libxml2( \(>= [^)]+\))?(,|$)", depends), depends
    assert re.search(r"(^|, )libxslt1\.1( \(>= [^)]+\))?(,|$)", depends), depends
    assert "fonts-noto-cjk" in fields["Recommends"]
    assert "pcscd" in fields["Recommends"]
    assert int(fields["Installed-Size"]) > 10_000
    listing = _run(["dpkg-deb", "-c", str(deb)]).stdout
    names = {line.split()[5]: line for line in listing.splitlines()}
    for path in ("./opt/zhenglian/zhenglian", "./usr/share/applications/zhenglian.desktop",
                 "./usr/share/icons/hicolor/256x256/apps/zhenglian.png",
                 "./usr/share/icons/hicolor/scalable/apps/zhenglian.svg",
                 "./opt/zhenglian/share/autostart/zhenglian.desktop", "./usr/share/doc/zhenglian/copyright"):
        assert path in names, path
    assert "./usr/bin/zhenglian -> ../../opt/zhenglian/zhenglian" in listing
    assert not [n for n in names if "/etc/xdg/autostart" in n or "/.config/" in n], "autostart must be off"
    assert all(" root/root " in line for line in listing.splitlines())


@slow
@linux_only
def test_deb_maintainer_and_homepage_come_from_the_publisher(bundle: Path, tmp_path: Path) -> None:
    env = dict(os.environ, ZHENGLIAN_DEB_MAINTAINER="某某公积金中心信息科 <it@example.org>",
               ZHENGLIAN_HOMEPAGE="https://example.org/zhenglian")
    res = _run(["bash", str(BUILD_DEB), "--bundle", str(bundle), "--out", str(tmp_path), "-z", "0"], env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    deb = Path(res.stdout.strip().splitlines()[-1])
    fields = {k: _run(["dpkg-deb", "-f", str(deb), k]).stdout.strip() for k in ("Maintainer", "Homepage")}
    assert fields == {"Maintainer": "某某公积金中心信息科 <it@example.org>",
                      "Homepage": "https://example.org/zhenglian"}
    bad = _run(["bash", str(BUILD_DEB), "--bundle", str(bundle), "--out", str(tmp_path)],
               env=dict(os.environ, ZHENGLIAN_DEB_MAINTAINER="nobody"))
    assert bad.returncode == 2 and "Name <address>" in bad.stderr


@linux_only
def test_desktop_entries() -> None:
    entry = (ROOT / "installer" / "linux" / "zhenglian.desktop").read_text(encoding="utf-8")
    assert "Name[zh_CN]=证联客户端" in entry and "\nIcon=zhenglian\n" in entry and "\nExec=zhenglian\n" in entry
    validate = shutil.which("desktop-file-validate")
    for name in ("zhenglian.desktop", "zhenglian-autostart.desktop"):
        if validate:
            res = _run([validate, str(ROOT / "installer" / "linux" / name)])
            assert res.returncode == 0, res.stdout + res.stderr


@slow
@linux_only
def test_installed_deb_runs_version_and_doctor(installed: Path) -> None:
    status = _run(["dpkg", f"--root={installed}", "-s", "zhenglian"]).stdout
    assert "Status: install ok installed" in status
    exe = _zhenglian(installed)
    assert exe.is_symlink() and exe.resolve() == (installed / "opt" / "zhenglian" / "zhenglian").resolve()
    res = _run([str(exe), "--version"])
    assert res.returncode == 0 and res.stdout.strip() == f"zhenglian {__version__}"
    res = _run([str(exe), "doctor"], timeout=120)
    assert res.returncode == 0, res.stderr
    assert "/opt/zhenglian/_internal/drivers" in res.stdout


def _optional_plugin(rel: str) -> bool:
    """Bundle files whose system libraries are Recommends, not Depends: Qt skips them when absent."""
    return bool(re.search(r"plugins/(platformthemes/libqgtk3|platforms/libqwayland|wayland-)|Qt6Wayland|"
                          r"Qt6WlShell", rel))


def _owners(libs: set[str]) -> dict[str, str]:
    """Owning package of each library path (one dpkg -S call; /lib and /usr/lib spellings both tried)."""
    queries: set[str] = set()
    for lib in libs:
        for p in (lib, os.path.realpath(lib)):
            queries |= {p, p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)}
    res = _run(["dpkg", "-S", *sorted(queries)])
    found: dict[str, str] = {}
    for line in res.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        if path:
            found[os.path.realpath(path.strip())] = pkg.split(",")[0].split(":")[0].strip()
    return {lib: found[os.path.realpath(lib)] for lib in libs if os.path.realpath(lib) in found}


def _closure(roots: set[str]) -> set[str]:
    """Installed packages reachable from ``roots`` through Depends/Pre-Depends/Provides."""
    res = _run(["dpkg-query", "-W", "-f=${Package}|${Status}|${Depends}, ${Pre-Depends}|${Provides}\n"])
    deps: dict[str, list[str]] = {}
    provided_by: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        pkg, status, depends, provides = line.split("|", 3)
        if "install ok installed" not in status:
            continue
        deps[pkg] = [c.strip().split(" ")[0].split(":")[0] for alt in depends.split(",") for c in alt.split("|")]
        for p in provides.split(","):
            if p.strip():
                provided_by.setdefault(p.strip().split(" ")[0], []).append(pkg)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        for pkg in ([name] if name in deps else []) + provided_by.get(name, []):
            if pkg not in seen:
                seen.add(pkg)
                todo.extend(d for d in deps[pkg] if d)
    return seen


@slow
@linux_only
def test_depends_cover_every_system_library_the_bundle_loads(installed: Path, deb: Path) -> None:
    """Each library the installed program needs from the system comes from a package our Depends pull in."""
    _need("ldd", "libc-bin")
    app = installed / "opt" / "zhenglian"
    depends = _run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    allowed = _closure({c.strip().split(" ")[0] for alt in depends.split(",") for c in alt.split("|")})
    env = dict(os.environ, LD_LIBRARY_PATH=str(app / "_internal"))
    needed: dict[str, tuple[str, str]] = {}  # system library path -> (soname, needed by)
    problems: dict[str, str] = {}
    for path in app.rglob("*"):
        if not path.is_file() or path.is_symlink() or not (".so" in path.name or path.name == "zhenglian"):
            continue
        rel = str(path.relative_to(app))
        if _optional_plugin(rel):
            continue
        with path.open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        for line in _run(["ldd", str(path)], env=env).stdout.splitlines():
            m = re.match(r"\s*(\S+) => (not found|\S+)", line)
            if not m:
                continue
            soname, where = m.groups()
            if where == "not found":
                problems[soname] = f"not found (needed by {rel})"
            elif not where.startswith(str(app)):
                needed.setdefault(where, (soname, rel))
    owners = _owners(set(needed))
    for where, (soname, rel) in needed.items():
        owner = owners.get(where)
        if owner is None or owner not in allowed:
            problems.setdefault(soname, f"{where} from {owner or '?'} (needed by {rel})")
    assert not problems, "add to DEPENDS in build-deb.sh:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


@slow
@linux_only
def test_deb_removes_cleanly(deb: Path, tmp_path: Path) -> None:
    root = _dpkg_root(tmp_path / "root")
    assert _install(deb, root).returncode == 0
    assert (root / "opt" / "zhenglian" / "zhenglian").is_file()
    res = _run(["dpkg", f"--root={root}", "--force-not-root", "-r", "zhenglian"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert not (root / "opt" / "zhenglian").exists()
    assert not (root / "usr" / "bin" / "zhenglian").exists()
    assert not (root / "usr" / "share" / "applications" / "zhenglian.desktop").exists()


@slow
@linux_only
def test_trimmed_icu_keeps_what_qt_uses_it_for(bundle: Path) -> None:
    """Collation, converters, case mapping and time-zone names in Chinese and English, as with the full data.

    The converters the trim drops on purpose (Japanese, Korean) must stay dropped."""
    icu = next((bundle / "_internal").rglob("libicudata.so.*"), None)
    if icu is None:
        pytest.skip("no ICU in this bundle")
    if icu.stat().st_size > 20 * 1024 * 1024:
        pytest.skip("ICU data not trimmed on this machine (needs icu-devtools, binutils, gcc)")
    probe = (
        "import functools, json\n"
        "from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QStringEncoder, QTimeZone\n"
        "zh = functools.cmp_to_key(QCollator(QLocale('zh_CN')).compare)\n"
        "en = functools.cmp_to_key(QCollator(QLocale('en_US')).compare)\n"
        "tz = QTimeZone(b'Asia/Shanghai')\n"
        "name = lambda loc: tz.displayName(QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale(loc))\n"
        "print(json.dumps({'zh': sorted(['赵', '阿', '王', '李', '张'], key=zh),\n"
        "  'en': sorted(['b', 'A', 'a', 'B'], key=en), 'upper': QLocale('en_US').toUpper('straße'),\n"
        "  'codecs': [n for n in ('GB18030', 'GBK', 'GB2312', 'Big5', 'Big5-HKSCS', 'Shift_JIS',\n"
        "                            'EUC-KR', 'windows-1252', 'ISO-8859-5')\n"
        "             if QStringEncoder(n).isValid() and QStringDecoder(n).isValid()],\n"
        "  'tz': [name('zh_CN'), name('en_US')]}, ensure_ascii=False))\n"
    )
    full = _run([sys.executable, "-c", probe])
    trimmed = _run([sys.executable, "-c", probe], env=dict(os.environ, LD_PRELOAD=str(icu)))
    assert full.returncode == 0 and trimmed.returncode == 0, full.stderr + trimmed.stderr
    expected = json.loads(full.stdout)
    assert expected["zh"] == ["阿", "李", "王", "张", "赵"]  # pinyin: the full data is really used
    assert len(expected["codecs"]) == 9, expected["codecs"]  # ICU converters are really used
    # Japanese and Korean converters are cut on purpose (installer/pyinstaller/icu_trim.py):
    # the client never asks Qt for them; the Chinese and Western ones stay.
    expected["codecs"] = [c for c in expected["codecs"] if c not in ("Shift_JIS", "EUC-KR")]
    assert json.loads(trimmed.stdout) == expected
    assert "Could not create collator" not in trimmed.stderr


# --- sign and verify with the installed program ------------------------------------------


@slow
@linux_only
def test_installed_program_signs_and_verifies_on_a_softhsm_key(installed: Path, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe = str(_zhenglian(installed))
    if _run([exe, "sign", "--help"]).returncode != 0 or _run([exe, "verify", "--help"]).returncode != 0:
        pytest.skip("this build has no 'zhenglian sign' / 'zhenglian verify' yet")
    from helpers import pdf as ph

    from zhenglian.reference import provision, softhsm

    if not ph.have_cjk_font():
        pytest.skip("needs fonts-noto-cjk to make the test document")
    key = make_key(provision.DEMO_KEYS[2])  # one seal on it, so no --seal needed
    # with XMP metadata (as PDF/A has): the bundle's lxml must bring it up to date
    src = ph.with_xmp(ph.make_contract(tmp_path / "plain.pdf", 1), tmp_path / "in.pdf")
    before = ph.sha256_file(src)
    out = tmp_path / "out.pdf"
    root_pem = tmp_path / "root.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    root_pem.write_bytes(key.chain[-1].public_bytes(Encoding.PEM))
    res = _run([exe, "sign", str(src), "-o", str(out), "--module", str(softhsm.module_path()), "--key", key.serial,
                "--pin-stdin", "--page", "1", "--at", "100,100"], input=key.spec.user_pin + "\n", timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    assert out.is_file() and ph.sha256_file(src) == before
    # pyHanko skips the XMP update without a word when lxml does not import
    assert ph.xmp_modify_date(src) == ph.XMP_OLD_MODIFY_DATE
    assert ph.xmp_modify_date(out) not in (None, ph.XMP_OLD_MODIFY_DATE)
    res = _run([exe, "verify", str(out), "--trust", str(root_pem), "--json"], timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["valid"] is True
    (sig,) = report["signatures"]
    assert sig["status"] == "valid" and sig["organization"] == key.spec.organization
    # and the installed program refuses to trust it without the root
    assert _run([exe, "verify", str(out)], timeout=180).returncode != 0
    # a paper form for the same key (reportlab and its fonts inside the bundle)
    if _run([exe, "forms", "--help"]).returncode == 0:
        form = tmp_path / "form.pdf"
        res = _run([exe, "forms", "renew", "--key", key.serial, "--years", "3", "-o", str(form)], timeout=180)
        assert res.returncode == 0, res.stdout + res.stderr
        assert form.read_bytes()[:5] == b"%PDF-"


@slow
@linux_only
def test_installed_program_signs_a_task_from_the_reference_server(installed: Path, make_key,  # type: ignore[no-untyped-def]
                                                                  reference_server, tmp_path: Path) -> None:
    """The installed program's task path over real HTTP: login, task, document, signed upload.

    Its HTTP client is httpx without anyio (build.spec leaves anyio out: httpcore wants it only
    for its asynchronous backend), so this is what proves the bundle's synchronous HTTP whole.
    """
    from zhenglian.reference import provision, softhsm

    exe = str(_zhenglian(installed))
    key = make_key(provision.DEMO_KEYS[1])  # SZCA: the tasks ask for its 合同专用章
    [task_id] = reference_server.add_tasks(key.spec.uscc, key.spec.organization, 1)
    env = dict(os.environ, ZHENGLIAN_HOME=str(tmp_path / "home"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")  # no login kept anywhere
    res = _run([exe, "tasks", "sign", task_id, "--server", reference_server.url, "--module",
                str(softhsm.module_path()), "--key", key.serial, "--pin-stdin", "--json"],
               input=key.spec.user_pin + "\n", env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert [(t["task_id"], t["state"]) for t in json.loads(res.stdout)["tasks"]] == [(task_id, "uploaded")]
    assert reference_server.uploads_per_task() == {task_id: 1}
    assert reference_server.store.task(task_id).status == "signed"


@slow
@linux_only
def test_installed_program_draws_a_seal_and_finds_its_place_by_text(installed: Path, make_key,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    """A key that carries no seal: the installed program draws one (Pillow's ImageFont on the
    system's FreeType, build.spec), places it on a text found with PDFium, signs with pyHanko;
    pdfsig (poppler) agrees the signature is valid."""
    exe = str(_zhenglian(installed))
    from helpers import pdf as ph

    from zhenglian.reference import provision, softhsm

    if not ph.have_cjk_font():
        pytest.skip("needs fonts-noto-cjk (the drawn seal's text and the test document)")
    key = make_key(provision.DEMO_KEYS[2], seal_names=())
    src = ph.make_contract(tmp_path / "in.pdf", 1)
    out = tmp_path / "out.pdf"
    res = _run([exe, "sign", str(src), "-o", str(out), "--module", str(softhsm.module_path()), "--key", key.serial,
                "--pin-stdin", "--anchor", "乙方（盖章）", "--json"], input=key.spec.user_pin + "\n", timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    # the seal sits on the anchor text: 乙方（盖章） starts 330 pt right of and 250 pt above
    # the bottom-left corner of the A4 page (helpers/pdf.py), i.e. ≈ 116 mm right, ≈ 207 mm down
    (spot,) = json.loads(res.stdout)["documents"][0]["signatures"][0]["spots"]
    assert spot["page"] == 1 and 116 < spot["x_mm"] < 150 and abs(spot["y_mm"] - 207) < 10, spot
    # ... and its appearance is the drawn picture (an image XObject in the widget's appearance)
    from pyhanko.pdf_utils.reader import PdfFileReader

    def has_image(form, depth: int = 0) -> bool:  # type: ignore[no-untyped-def]
        if depth > 6 or "/Resources" not in form or "/XObject" not in form["/Resources"]:
            return False
        xobjects = form["/Resources"]["/XObject"]
        for name in xobjects:
            obj = xobjects[name]  # pyHanko's dictionaries resolve references on []
            kind = obj.get("/Subtype")  # a name, never a reference
            if kind == "/Image" or (kind == "/Form" and has_image(obj, depth + 1)):
                return True
        return False

    with out.open("rb") as fh:
        (emb,) = PdfFileReader(fh).embedded_signatures
        field = emb.sig_field
        widgets = [field] + ([k.get_object() for k in field["/Kids"]] if "/Kids" in field else [])
        assert any("/AP" in w and has_image(w["/AP"]["/N"]) for w in widgets), "no seal picture"
    pdfsig = shutil.which("pdfsig")
    if pdfsig:
        check = _run([pdfsig, str(out)])
        assert "Signature Validation: Signature is Valid." in check.stdout, check.stdout + check.stderr


@slow
def test_bundle_leaves_out_what_nothing_loads(bundle: Path) -> None:
    """What build.spec cuts (issue 19) stays cut; what replaces it is the system's."""
    internal = bundle / "_internal"
    files = {str(p.relative_to(internal)) for p in internal.rglob("*") if p.is_file() or p.is_symlink()}
    names = {os.path.basename(f) for f in files}
    # Qt: no JPEG/GIF image plugin (seals reach Qt as PNG), one Wayland shell (xdg-shell)
    assert not [n for n in names if re.match(r"libq(jpeg|gif)\.so$", n)]
    shells = sorted(os.path.basename(f) for f in files if "/wayland-shell-integration/" in f)
    assert shells == ["libxdg-shell.so"] or not shells, shells
    assert "libQt6WlShellIntegration.so.6" not in names
    # Pillow: no LittleCMS; FreeType, zstd, xz (and libxcb) from the system when the build
    # machine's had every symbol (build.spec prints what it kept otherwise)
    assert not [n for n in names if re.match(r"lib(lcms2|brotli\w*|png16|xcb|Xau)-[0-9a-f]{8}\.so", n)], names
    if sys.platform.startswith("linux"):
        for module, system, private in (("_imagingft", "libfreetype.so.6", "libfreetype-"),
                                        ("_imaging", "libopenjp2.so.7", "libopenjp2-")):
            needed = _run(["readelf", "-d", str(next((internal / "PIL").glob(f"{module}.*.so")))]).stdout
            if f"[{system}]" in needed:  # re-pointed: the private copy is gone
                assert not [n for n in names if n.startswith(private)], names
        assert not [f for f in files if "/xcbglintegrations/" in f]
    # pure-Python fallbacks of aiohttp & co. instead of their compiled speed-ups
    assert not [f for f in files if re.match(r"(aiohttp|multidict|yarl|frozenlist|propcache)/", f)
                and (f.endswith(".so") or ".cpython-" in f)], files
    viewer = PYINSTALLER.with_name("pyi-archive_viewer")
    res = _run([str(viewer), "-r", "-b", str(bundle / "zhenglian")])
    assert res.returncode == 0, res.stderr
    modules = {line.strip() for line in res.stdout.splitlines()}
    cut = [m for m in modules if re.match(r"(cffi|pycparser|pdb|doctest|PIL\.ImageCms)(\.|$)", m)]
    assert not cut, cut
    # modules no client path imports (build.spec UNREACHED, tests/test_bundle_imports.py)
    cut = [m for m in modules if re.match(r"(charset_normalizer|reportlab\.graphics|aiohttp\.web|xml\.dom)(\.|_|$)", m)]
    assert not cut, cut
    assert not [n for n in names if n.startswith("md.cpython-") or n.startswith("md__mypyc")], names
    # Pillow: the readers of formats no seal comes in
    assert not [m for m in modules if re.match(r"PIL\.(Eps|Tga|Ico|Psd|Pdf)ImagePlugin$", m)]
    # Qt: the one translation the UI loads
    assert [f for f in files if "/translations/" in f] == ["PySide6/Qt/translations/qtbase_zh_CN.qm"], files
    # ... and what must stay stays: cryptography's cffi runtime, pyHanko's XMP writer (lxml)
    assert any(n.startswith("_cffi_backend.") for n in names)
    assert {"pyhanko.pdf_utils.metadata.xmp_xml", "pyhanko.sign.signers.pdf_signer", "aiohttp",
            "aiohttp.client", "reportlab.platypus", "PIL.PngImagePlugin", "PIL.JpegImagePlugin",
            "PIL.MpoImagePlugin", "PIL.TiffImagePlugin"} <= modules
    etree = [f for f in files if f.startswith("lxml/etree.")]
    assert etree
    if sys.platform.startswith("linux"):
        # lxml is the one built against the system's libxml2 and libxslt (scripts/setup.sh),
        # which the .deb depends on, not the PyPI wheel with its own copies linked in
        needed = _run(["readelf", "-d", str(internal / etree[0])]).stdout
        assert "[libxml2.so.2]" in needed and "[libxslt.so.1]" in needed, needed
        assert not [n for n in names if re.match(r"lib(xml2|xslt|exslt)\.so", n)], names
        # its _elementpath is the pure-Python module (build.spec), in the PYZ
        assert "lxml._elementpath" in modules
        assert not [f for f in files if f.startswith("lxml/_elementpath.")], files


# --- Windows installer script --------------------------------------------------------------


def _nsis_stub(base: Path, with_gui: bool = True) -> Path:
    stub = base / "bundle"
    (stub / "_internal" / "resources").mkdir(parents=True)
    (stub / "zhenglian.exe").write_bytes(b"MZ stub")
    if with_gui:
        (stub / "zhenglian-gui.exe").write_bytes(b"MZ stub")
    (stub / "_internal" / "resources" / "x.txt").write_text("x", encoding="utf-8")
    return stub


def _makensis(stub: Path, out: Path) -> subprocess.CompletedProcess[str]:
    exe = _need("makensis", "nsis")
    vi = ".".join((re.findall(r"\d+", __version__) + ["0"] * 4)[:4])
    return _run([exe, "-V2", "-WX", f"-DVERSION={__version__}", f"-DVI_VERSION={vi}", f"-DBUNDLE_DIR={stub}",
                 f"-DOUT_FILE={out}", str(NSI)], timeout=300)


@slow
def test_nsis_script_compiles(tmp_path: Path) -> None:
    out = tmp_path / f"zhenglian-{__version__}-setup.exe"
    res = _makensis(_nsis_stub(tmp_path), out)
    assert res.returncode == 0, res.stdout + res.stderr
    assert out.read_bytes()[:2] == b"MZ"
    text = NSI.read_text(encoding="utf-8-sig")
    assert "Unicode true" in text and "$PROGRAMFILES64" in text and "证联客户端" in text


@slow
def test_nsis_script_refuses_a_bundle_without_the_windowed_exe(tmp_path: Path) -> None:
    res = _makensis(_nsis_stub(tmp_path, with_gui=False), tmp_path / "x.exe")
    assert res.returncode != 0
    assert "zhenglian-gui.exe not found" in res.stdout + res.stderr


def test_the_font_the_deb_depends_on_is_one_the_forms_can_embed() -> None:
    """apt installs the first alternative of the font dependency: the paper forms need a
    TrueType CJK font (reportlab cannot embed Noto CJK's CFF outlines)."""
    from zhenglian.lifecycle import fonts

    files = {"fonts-arphic-uming": "/usr/share/fonts/truetype/arphic/uming.ttc",
             "fonts-wqy-zenhei": "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "fonts-wqy-microhei": "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"}
    text = BUILD_DEB.read_text(encoding="utf-8")
    line = next(m.group(1) for m in re.finditer(r'^\s*"(fonts-[^"]+)"', text, re.M))
    alternatives = [a.strip() for a in line.split("|")]
    assert alternatives, line
    for package in alternatives:
        assert package in files, f"{package}: which TrueType file does it install? (lifecycle/fonts.py)"
        assert files[package] in fonts._UNIX, f"lifecycle/fonts.py does not look for {files[package]}"
