"""Shrink the ICU data library that PySide6's Linux wheels ship (about 31 MB).

Qt Core links ICU for four things only (see ``nm -D --undefined-only
libQt6Core.so.6``): character-set converters (ucnv_*), collation (ucol_*),
case mapping (u_strToUpper/Lower) and time-zone ids and names (ucal_*).  The
data for everything else — break iterators, unit / currency / language /
region display names, number spell-out, transliteration — the locales other
than Chinese and English, and the mainframe (EBCDIC) converters are never read
by the client.  Removing them saves about 24 MB installed.

How: take the data package out of ``libicudata.so.NN`` (its ``.rodata`` is the
``icudtNNl.dat`` package), drop items with ICU's own ``icupkg``, and assemble
a new library that exports the same ``icudtNN_dat`` symbol under the same
soname.  Needs objcopy (binutils), icupkg (icu-devtools) and gcc; without them
the build keeps the full library and says so.  Windows wheels use the
system's ICU, so this is Linux only.

Usage from build.spec: ``trim(src, workdir)`` returns the new library's path,
or None (with the reason printed) when it could not be made.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

# Whole data trees Qt never opens.
DROP_TREES = ("brkitr/", "curr/", "lang/", "rbnf/", "region/", "translit/", "unit/")
# Trees where only the kept locales stay (plus each tree's index and pool).
LOCALE_TREES = ("", "coll/", "zone/")
KEEP_LOCALES = re.compile(r"^(root|zh|en)(_\w*)?\.res$")
LOCALE_NAME = re.compile(r"^[a-z]{2,3}(_\w*)?\.res$")
ALWAYS_KEEP = {"res_index.res", "pool.res"}
# Converters for IBM mainframes (EBCDIC, the CJK ones alone are ~1 MB) and for
# Taiwan's EUC/CNS 11643 (0.8 MB): never met on a Chinese office desktop.  GB18030,
# GBK, GB2312, ISO-2022-CN, Big5, Big5-HKSCS, the Windows and ISO-8859 code pages
# and the Unicode forms stay.
DROP_CONVERTERS = re.compile(
    r"^(ibm-(37|273|277|278|280|284|285|290|297|420|424|500|803|838|870|871|875|918|930|933|"
    r"935|937|939|1025|1026|1047|1097|1112|1122|1123|1130|1132|1137|114\d|115[3-8]|1160|1164|"
    r"1364|1371|1388|1390|1399|4517|4899|4971|5123|8482|9005|12712|13125|16684|16804|20780)"
    r"[_-].*|ebcdic-.*|euc-tw-.*|cns-11643-.*|ibm-964_.*|"
    # Japanese and Korean (Shift_JIS, EUC-JP, ISO-2022-JP's JIS X 0212, EUC-KR, UHC,
    # ISO-2022-KR; 1 MB) and X11's COMPOUND_TEXT (0.8 MB, which Qt 6's xcb plugin no
    # longer speaks): the client asks Qt for no converter by name, and a Chinese
    # desktop's locale codec is UTF-8 or GB18030.
    r"ibm-(942|943|954|33722|949|970|971|1363)_.*|euc-jp-.*|jisx-.*|windows-949-.*|"
    r"icu-internal-25546|icu-internal-compound-.*)\.cnv$"
)
# Data of ICU services Qt never calls (its libQt6Core imports only the ucnv_, ucol_,
# ucal_ and u_strTo{Upper,Lower} functions): character names (u_charName), StringPrep
# profiles, IDNA (Qt's QUrl has its own) and spoof checks.  0.5 MB.
DROP_ITEMS = re.compile(r"^(unames\.icu|[\w-]+\.spp|confusables\.cfu|uts46\.nrm)$")


def wanted(item: str) -> bool:
    """Whether the package item ``item`` (e.g. ``coll/de.res``, without the prefix) stays."""
    if item.startswith(DROP_TREES) or DROP_CONVERTERS.match(item) or DROP_ITEMS.match(item):
        return False
    tree, _, name = item.rpartition("/")
    tree = tree + "/" if tree else ""
    if tree in LOCALE_TREES and LOCALE_NAME.match(name) and name not in ALWAYS_KEEP:
        return bool(KEEP_LOCALES.match(name))
    return True


def _tools() -> dict[str, str] | str:
    found = {t: shutil.which(t) for t in ("objcopy", "icupkg", "gcc")}
    missing = [t for t, p in found.items() if not p]
    if missing:
        return "missing " + ", ".join(missing) + " (apt-get install binutils icu-devtools gcc)"
    return {t: str(p) for t, p in found.items()}


def trim(src: Path, workdir: Path) -> Path | None:
    """A smaller copy of the ICU data library ``src`` in ``workdir``, or None."""
    m = re.match(r"libicudata\.so\.(\d+)$", src.name)
    if not m:
        print(f"icu_trim: {src.name} is not libicudata.so.NN, kept as is", file=sys.stderr)
        return None
    tools = _tools()
    if isinstance(tools, str):
        print(f"icu_trim: {tools}; shipping the full ICU data", file=sys.stderr)
        return None
    major = m.group(1)
    workdir.mkdir(parents=True, exist_ok=True)
    # icupkg names the package after the output file: both must be icudtNNl.dat.
    (workdir / "full").mkdir(parents=True, exist_ok=True)
    dat = workdir / "full" / f"icudt{major}l.dat"
    small = workdir / f"icudt{major}l.dat"
    out = workdir / src.name
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: E731
    run(tools["objcopy"], "-O", "binary", "--only-section=.rodata", str(src), str(dat))
    items = run(tools["icupkg"], "-l", str(dat)).stdout.split()
    drop = [i for i in items if not wanted(i)]
    if not items or len(drop) == len(items):
        print("icu_trim: unexpected package contents; shipping the full ICU data", file=sys.stderr)
        return None
    drop_list = workdir / "drop.txt"
    drop_list.write_text("\n".join(drop) + "\n", encoding="ascii")
    small.unlink(missing_ok=True)
    run(tools["icupkg"], "-r", str(drop_list), str(dat), str(small))
    asm = workdir / "icudata.S"
    asm.write_text(
        "\t.section .rodata\n"
        f"\t.globl icudt{major}_dat\n"
        f"\t.type icudt{major}_dat, @object\n"
        "\t.balign 16\n"
        f"icudt{major}_dat:\n"
        f'\t.incbin "{small.name}"\n'
        f"\t.size icudt{major}_dat, . - icudt{major}_dat\n"
        '\t.section .note.GNU-stack,"",@progbits\n',
        encoding="ascii",
    )
    subprocess.run(
        [tools["gcc"], "-shared", "-nostdlib", f"-Wl,-soname,{src.name}", "-o", str(out), asm.name],
        check=True, capture_output=True, text=True, cwd=workdir,
    )
    print(f"icu_trim: {src.stat().st_size // 1024} KiB -> {out.stat().st_size // 1024} KiB "
          f"({len(items) - len(drop)} of {len(items)} items kept)", file=sys.stderr)
    return out
