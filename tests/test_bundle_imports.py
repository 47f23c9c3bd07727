"""What build.spec leaves out of the bundle because the client never imports it (issue 19).

build.spec's ``UNREACHED`` lists modules of the packages the client ships (reportlab, aiohttp,
charset_normalizer, ...) that no path of the client imports.  This test walks the paths that use
those packages — the way a user runs them, ``python -m zhenglian`` in a child process — and records
every module each process imported:

- sign a PDF that carries XMP metadata with a timestamp from the demo TSA (pyHanko, its
  aiohttp client, and lxml, which brings the XMP up to date), then verify it;
- the renewal paper form (reportlab: platypus, pdfgen, TrueType font embedding);
- the seal-use register's PDF report of that signature (reportlab platypus tables).

A module listed in ``UNREACHED`` that shows up here is a module the installed client would miss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.spec import spec_excludes_literal, spec_list

ROOT = Path(__file__).resolve().parent.parent

# Runs the CLI exactly as ``python -m zhenglian`` does and writes sys.modules at exit.
_TRACE = (
    "import atexit, json, os, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['ZL_MODULES_OUT'], 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv = ['zhenglian', *sys.argv[1:]]\n"
    "runpy.run_module('zhenglian', run_name='__main__', alter_sys=True)\n"
)


def _traced(tmp_path: Path, name: str, *args: str, stdin: str | None = None) -> tuple[set[str], str]:
    out = tmp_path / f"{name}.modules.json"
    env = dict(os.environ, ZL_MODULES_OUT=str(out), PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", _TRACE, *args], input=stdin, capture_output=True, text=True,
                         env=env, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, f"zhenglian {' '.join(args)}:\n{res.stdout}\n{res.stderr}"
    return set(json.loads(out.read_text(encoding="utf-8"))), res.stdout


def _reached(modules: set[str], cut: list[str]) -> list[str]:
    return sorted(m for m in modules for c in cut if m == c or m.startswith(c + "."))


def test_unreached_is_part_of_the_excludes() -> None:
    unreached = spec_list("UNREACHED")
    assert unreached, "build.spec: UNREACHED is empty"
    text = (ROOT / "build.spec").read_text(encoding="utf-8")
    assert "\nEXCLUDES += UNREACHED" in text  # so PyInstaller leaves them out


@pytest.mark.slow
def test_client_paths_never_import_what_the_bundle_leaves_out(make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding
    from helpers import pdf as ph

    from zhenglian.reference import provision, softhsm, tsa

    if not ph.have_cjk_font():
        pytest.skip("needs fonts-noto-cjk to make the test document")
    unreached = spec_list("UNREACHED")
    key = make_key(provision.DEMO_KEYS[2])  # one seal on it
    # a document with XMP metadata: signing updates it through lxml (pyHanko's writer)
    src = ph.with_xmp(ph.make_contract(tmp_path / "plain.pdf", 1), tmp_path / "in.pdf")
    assert ph.xmp_modify_date(src) == ph.XMP_OLD_MODIFY_DATE
    out = tmp_path / "out.pdf"
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(key.chain[-1].public_bytes(Encoding.PEM))
    seen: dict[str, set[str]] = {}
    with tsa.serve() as server:
        seen["sign --timestamp"], _ = _traced(
            tmp_path, "sign", "sign", str(src), "-o", str(out), "--module", str(softhsm.module_path()),
            "--key", key.serial, "--pin-stdin", "--page", "1", "--at", "100,100", "--timestamp", server.url,
            stdin=key.spec.user_pin + "\n")
        assert server.requests_served >= 1  # the timestamp really went through pyHanko's HTTP client
    modified = ph.xmp_modify_date(out)
    assert modified and modified != ph.XMP_OLD_MODIFY_DATE, modified
    seen["verify"], report = _traced(tmp_path, "verify", "verify", str(out), "--trust", str(root_pem), "--json")
    (sig,) = json.loads(report)["signatures"]
    assert sig["status"] == "valid"
    form = tmp_path / "form.pdf"
    seen["forms renew"], _ = _traced(tmp_path, "forms", "forms", "renew", "--key", key.serial, "--years", "3",
                                     "-o", str(form))
    assert form.read_bytes()[:5] == b"%PDF-"
    report_pdf = tmp_path / "register.pdf"
    seen["register export --pdf"], _ = _traced(tmp_path, "register", "register", "export", "--pdf",
                                               str(report_pdf))
    assert report_pdf.read_bytes()[:5] == b"%PDF-"
    # the paths did reach the packages whose parts are cut
    everything = set().union(*seen.values())
    assert {"reportlab.platypus", "reportlab.pdfgen.canvas", "aiohttp.client", "lxml.etree",
            "pyhanko.pdf_utils.metadata.xmp_xml", "pyhanko.sign.timestamps"} <= everything, sorted(everything)
    reached = {path: hit for path, mods in seen.items() if (hit := _reached(mods, unreached))}
    assert not reached, f"build.spec UNREACHED, yet imported: {reached}"


# In a child process: Pillow without the format plugins build.spec leaves out (None in
# sys.modules makes their import fail as in the bundle), then the seal import of each picture.
_SEALS_WITHOUT_PLUGINS = (
    "import base64, json, sys\n"
    "for name in json.loads(sys.argv[1]):\n"
    "    sys.modules[name] = None\n"
    "from zhenglian import errors\n"
    "from zhenglian.seals.model import normalise_picture\n"
    "out = {}\n"
    "for fmt, data in json.loads(sys.stdin.read()).items():\n"
    "    try:\n"
    "        out[fmt] = normalise_picture(base64.b64decode(data))[:8].hex()\n"
    "    except errors.SealInvalid as exc:\n"
    "        out[fmt] = 'SealInvalid: ' + str(exc)\n"
    "print(json.dumps(out))\n"
)


def test_seal_pictures_without_the_pillow_plugins_the_bundle_leaves_out() -> None:
    """The formats a seal comes in still import; one whose Pillow reader is left out is refused
    with the seal error (as an undecodable picture is), never an ImportError or a traceback."""
    import base64
    import io

    from PIL import Image

    dropped = [m for m in spec_excludes_literal() if m.startswith("PIL.") and m.endswith("ImagePlugin")]
    assert "PIL.EpsImagePlugin" in dropped and "PIL.PngImagePlugin" not in dropped
    img = Image.new("RGB", (40, 40), (255, 255, 255))
    img.paste((230, 0, 18), (10, 10, 30, 30))
    pictures = {}
    for fmt in ("PNG", "JPEG", "BMP", "GIF", "TIFF", "TGA", "ICO", "PCX", "SGI"):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        pictures[fmt] = base64.b64encode(buf.getvalue()).decode()
    res = subprocess.run([sys.executable, "-c", _SEALS_WITHOUT_PLUGINS, json.dumps(dropped)],
                         input=json.dumps(pictures), capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    png = b"\x89PNG\r\n\x1a\n".hex()
    for fmt in ("PNG", "JPEG", "BMP", "GIF", "TIFF"):
        assert out[fmt] == png, (fmt, out[fmt])  # normalised to PNG
    for fmt in ("TGA", "ICO", "PCX", "SGI"):
        assert out[fmt].startswith("SealInvalid"), (fmt, out[fmt])
