"""Make the icon files: the application's from resources/icons/zhenglian.svg, the tray's PNGs.

    .venv/bin/python scripts/icons.py          # writes zhenglian.png, zhenglian.ico and png/tray-*.png
    .venv/bin/python scripts/icons.py --check  # exit 1 if the committed files are stale

The tray's icons (resources/icons/tray-*.svg) are also pre-rendered to
resources/icons/png/<name>-<size>.png by zhenglian.ui.icons.render, the code
that paints them at run time: the tray shows its first icon from those PNGs
without loading QtSvg (docs/performance.md, "The tray: the icon first").

Each size is rendered from the SVG on its own (QSvgRenderer), not scaled down
from the largest, so small sizes stay sharp; Pillow packs them into one .ico.
The generated files are committed: packaging does not need Qt to run this.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "zhenglian.svg"
PNG_SIZE = 256
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG rendered at ``size`` x ``size`` pixels, as PNG bytes (transparent background)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """A multi-size .ico holding each rendered size as is."""
    from PIL import Image

    images = [Image.open(io.BytesIO(pngs[s])).convert("RGBA") for s in sorted(pngs, reverse=True)]
    out = io.BytesIO()
    images[0].save(out, format="ICO", sizes=[im.size for im in images], append_images=images[1:])
    return out.getvalue()


def outputs(svg: Path = SVG) -> dict[Path, bytes]:
    pngs = {s: render_png(svg, s) for s in ICO_SIZES}
    return {
        svg.with_suffix(".png"): pngs[PNG_SIZE],
        svg.with_suffix(".ico"): build_ico(pngs),
    }


def tray_outputs() -> dict[Path, bytes]:
    """Each tray-*.svg at each of zhenglian.ui.icons.SIZES, as zhenglian.ui.icons.render paints it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))  # this tree's zhenglian, whatever is installed
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication

    from zhenglian.ui import icons

    _app = QGuiApplication.instance() or QGuiApplication([])
    out = {}
    for svg in sorted(ICONS.glob("tray-*.svg")):
        for size in icons.SIZES:
            data = QByteArray()
            buf = QBuffer(data)
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            icons.render(svg.name, size).save(buf, "PNG")
            buf.close()
            out[ICONS / "png" / f"{svg.stem}-{size}.png"] = bytes(data.data())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files are up to date")
    args = parser.parse_args(argv)
    stale = []
    for path, data in (outputs() | tray_outputs()).items():
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(path)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            print(f"{path.relative_to(ROOT)}: {len(data)} bytes")
    if stale:
        print("stale, run scripts/icons.py: " + ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
