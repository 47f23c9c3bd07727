"""Qt for Python's signature support as compiled bytecode, for the bundle (build.spec).

At every start, shiboken6 loads its ``shibokensupport`` package (the signature
loader PySide6 needs for any Qt import) from a zip embedded in its library and
*compiles the sources*: ≈ 25 ms of CPU before the first Qt module, a sixth of
the tray's launch.  Where a ``files.dir`` folder sits beside ``shiboken6``'s
``__init__``, shiboken6 imports the package from there instead — PySide6's own
"de-virtualised" layout (``SBK_EMBED=0``).  This module produces that folder
for the bundle, compiled: sourceless ``.pyc`` files, so the installed program
neither compiles them nor tries to write a cache into its read-only folder.

The sources come from the build environment's own shiboken6: a copy of the
package is imported once with ``SBK_EMBED=0``, which unpacks them beside the
copy (the build environment is left as it is).
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

_SKIP = shutil.ignore_patterns("__pycache__", "files.dir", "include", "*.pyi")


def _unpack(work: Path) -> Path | None:
    """The embedded sources, unpacked beside a copy of the build's shiboken6 (None: not supported)."""
    spec = importlib.util.find_spec("shiboken6")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    copy = work / "site"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(package, copy / "shiboken6", ignore=_SKIP)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import shiboken6; "
             "assert shiboken6.__file__.startswith(sys.argv[1]), shiboken6.__file__")
    env = dict(os.environ, SBK_EMBED="0")
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-c", probe, str(copy)], env=env, capture_output=True, text=True,
                         timeout=300)
    unpacked = copy / "shiboken6" / "files.dir"
    if res.returncode != 0 or not (unpacked / "shibokensupport" / "__init__.py").is_file():
        print(f"shiboken_support: shiboken6 did not unpack its support files (exit {res.returncode}); "
              f"the bundle compiles them at each start\n{res.stderr[-1000:]}", file=sys.stderr)
        return None
    return unpacked


def compiled_files_dir(work: Path) -> Path | None:
    """A ``files.dir`` of sourceless bytecode for the bundle's ``shiboken6/`` (None: left as shipped)."""
    unpacked = _unpack(work)
    if unpacked is None:
        return None
    out = work / "files.dir"
    shutil.rmtree(out, ignore_errors=True)
    for src in sorted((unpacked / "shibokensupport").rglob("*.py")):  # what shiboken6 imports from there
        rel = src.relative_to(unpacked)
        target = out / rel.with_suffix(".pyc")
        target.parent.mkdir(parents=True, exist_ok=True)
        # the hash, not the source's mtime, in the header: the same sources give the same files
        py_compile.compile(str(src), cfile=str(target), dfile=str(Path("shiboken6") / "files.dir" / rel),
                           doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return out
