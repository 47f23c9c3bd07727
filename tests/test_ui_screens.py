"""Smoke test on a real X screen with a tray host: the app shows the tray menu,
the window with tasks and the preview, and the PIN dialog (scripts/screenshots.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _display() -> int:
    for n in range(150, 250):
        if not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free display")


@pytest.mark.slow
def test_screenshots_under_xvfb_with_trayer(tmp_path: Path) -> None:
    for tool in ("Xvfb", "trayer", "import"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (scripts/setup.sh installs it)")
    n = _display()
    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "ZHENGLIAN_HOME")}
    env.update(DISPLAY=f":{n}", QT_QPA_PLATFORM="xcb")
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24"], stderr=subprocess.DEVNULL)
    time.sleep(1)
    tray = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--SetDockType", "true", "--height", "32"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        r = subprocess.run([sys.executable, "scripts/screenshots.py", str(tmp_path)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    finally:
        tray.terminate()
        xvfb.terminate()
    assert r.returncode == 0, r.stdout + r.stderr
    shots = {p.name: Image.open(p).convert("RGB") for p in tmp_path.glob("app-*.png")}
    assert set(shots) >= {"app-tray-menu.png", "app-keys.png", "app-tasks.png", "app-pin.png"}

    def red_pixels(img: Image.Image) -> int:
        raw = img.tobytes()
        return sum(1 for i in range(0, len(raw), 3) if raw[i] > 180 and raw[i + 1] < 80 and raw[i + 2] < 80)

    assert red_pixels(shots["app-tasks.png"]) > 500  # the seal drawn on the document preview
    assert red_pixels(shots["app-tray-menu.png"]) > 20  # the tray icon in the tray host
    w, h = shots["app-pin.png"].size
    assert w > 200 and h > 100
