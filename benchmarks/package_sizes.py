"""Print the sizes of the packaged client: bundle, .deb, Windows installer.

    .venv/bin/python benchmarks/package_sizes.py            # measure what is in dist/
    .venv/bin/python benchmarks/package_sizes.py --build    # build bundle + .deb (+ installer
                                                            # stub check) in a temp dir first
    .venv/bin/python benchmarks/package_sizes.py --bundle DIR --deb FILE --installer FILE

Targets: installed ≤ 100 MB (issue 19; issue 9 had 120 MB), .deb ≤ 50 MB (issue 9).  The installer line
appears only where one was built (Windows CI), the legacy line where
installer/linux/build-legacy.sh made one (dist/legacy/).  "installed" is the sum of the
file sizes; "on disk" is what ``du`` reports (block rounding).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
TARGET_INSTALLED_MB = 100  # issue 19 (docs/performance.md, "The bundle")
TARGET_DEB_MB = 50


def tree_bytes(path: Path) -> int:
    """Sum of regular file sizes under ``path`` (symlinks counted once, not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            p = Path(dirpath, name)
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def top_parts(bundle: Path, n: int = 12) -> list[tuple[str, int]]:
    """The biggest contributors: the executables, and the folders under _internal/."""
    parts: Counter[str] = Counter()
    for dirpath, _dirs, files in os.walk(bundle):
        for name in files:
            p = Path(dirpath, name)
            if p.is_symlink():
                continue
            rel = p.relative_to(bundle).parts
            if rel[0] == "_internal" and len(rel) > 1:
                rel = rel[1:]
            key = "/".join(rel[:3]) if rel[0] == "PySide6" and len(rel) > 3 else rel[0]
            parts[key] += p.stat().st_size
    return parts.most_common(n)


def deb_installed_kb(deb: Path) -> int | None:
    try:
        out = subprocess.run(["dpkg-deb", "-f", str(deb), "Installed-Size"], capture_output=True,
                             text=True, check=True).stdout
        return int(out.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def build(work: Path) -> tuple[Path, Path]:
    dist = work / "dist"
    subprocess.run([str(ROOT / ".venv" / "bin" / "pyinstaller"), "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work / "build"), str(ROOT / "build.spec")],
                   check=True)
    out = subprocess.run([str(ROOT / "installer" / "linux" / "build-deb.sh"), "--bundle",
                          str(dist / "zhenglian"), "--out", str(dist)],
                         check=True, capture_output=True, text=True).stdout
    return dist / "zhenglian", Path(out.strip().splitlines()[-1])


def deb_line(label: str, deb: Path | None) -> None:
    if not (deb and deb.is_file()):
        print(f"{label} not built")
        return
    size = deb.stat().st_size
    kb = deb_installed_kb(deb)
    inst = f", Installed-Size {kb / 1024:.1f} MB" if kb else ""
    ok = lambda n, target: "ok" if n <= target else "OVER"  # noqa: E731
    size_ok = ok(size / MB, TARGET_DEB_MB)
    inst_ok = f", installed target ≤ {TARGET_INSTALLED_MB} MB: {ok(kb / 1024, TARGET_INSTALLED_MB)}" if kb else ""
    print(f"{label} {deb.name}: {size / MB:.1f} MB{inst} (target ≤ {TARGET_DEB_MB} MB: {size_ok}{inst_ok})")


def report(bundle: Path | None, deb: Path | None, installer: Path | None,
           legacy_deb: Path | None = None) -> None:
    if bundle and bundle.is_dir():
        size = tree_bytes(bundle)
        du = subprocess.run(["du", "-sk", str(bundle)], capture_output=True, text=True).stdout.split()
        on_disk = f", on disk {int(du[0]) / 1024:.1f} MB" if du else ""
        ok = "ok" if size / MB <= TARGET_INSTALLED_MB else "OVER"
        print(f"bundle     {bundle}: {size / MB:.1f} MB installed{on_disk} "
              f"(target ≤ {TARGET_INSTALLED_MB} MB: {ok})")
        for name, n in top_parts(bundle):
            print(f"    {n / MB:6.1f} MB  {name}")
    else:
        print("bundle     not built")
    deb_line(".deb      ", deb)
    if legacy_deb and legacy_deb.is_file():
        deb_line("legacy    ", legacy_deb)
    if installer and installer.is_file():
        print(f"installer  {installer.name}: {installer.stat().st_size / MB:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="build the bundle and the .deb first")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--deb", type=Path)
    parser.add_argument("--installer", type=Path)
    parser.add_argument("--legacy-deb", type=Path,
                        help="the glibc-2.28 package (default dist/legacy/; built by "
                             "installer/linux/build-legacy.sh, as root)")
    args = parser.parse_args(argv)
    dist = ROOT / "dist"
    if args.build:
        with tempfile.TemporaryDirectory(prefix="zhenglian-sizes-") as tmp:
            bundle, deb = build(Path(tmp))
            report(bundle, deb, args.installer, args.legacy_deb)
        return 0
    bundle = args.bundle or dist / "zhenglian"
    deb = args.deb or next(iter(sorted(dist.glob("zhenglian_*.deb"))), None)
    installer = args.installer or next(iter(sorted(dist.glob("zhenglian-*-setup.exe"))), None)
    legacy = args.legacy_deb or next(iter(sorted((dist / "legacy").glob("zhenglian_*.deb"))), None)
    report(bundle, deb, installer, legacy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
