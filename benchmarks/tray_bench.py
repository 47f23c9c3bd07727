"""Tray application figures: launch to tray icon, idle RSS, idle CPU with one key in.

Run:  .venv/bin/python benchmarks/tray_bench.py [--idle-seconds 60] [--launches 5] [--exe dist/zhenglian/zhenglian]
Runs the app under Xvfb with the trayer tray host (both from Debian) so the
tray icon is real.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="zhenglian-traybench-"))
os.environ["ZHENGLIAN_HOME"] = str(TMP / "home")
os.environ["ZHENGLIAN_USB_SYSFS"] = str(TMP / "no-usb")

from zhenglian.reference import provision, softhsm  # noqa: E402

CONF = softhsm.write_conf(TMP / "softhsm" / "softhsm2.conf")
os.environ["SOFTHSM2_CONF"] = str(CONF)
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# The floor: a bare PySide6 program that shows a tray icon (Python + Qt start-up and nothing else).
_BARE_TRAY = """
import os, sys, time
from pathlib import Path
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
app = QApplication(sys.argv[:1])
pm = QPixmap(22, 22)
pm.fill(QColor("red"))
icon = QSystemTrayIcon(QIcon(pm))
menu = QMenu()
menu.addAction("Quit")
icon.setContextMenu(menu)
icon.show()
Path(os.environ["ZHENGLIAN_STARTUP_MARK"]).write_text(repr(time.time()), encoding="utf-8")
Path(os.environ["ZHENGLIAN_STARTUP_MARK"] + ".up").write_text("", encoding="utf-8")
app.exec()
"""


def launch(cmd: list[str], env: dict[str, str], mark: Path) -> tuple[float, subprocess.Popen[bytes]]:
    """Start ``cmd`` once; ms from process start to the icon shown, and the process, once the
    whole app is up (``<mark>.up``: the rest of the app built and, at the first run, its settings
    saved)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=dict(env, ZHENGLIAN_STARTUP_MARK=str(mark)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not mark.exists():
        time.sleep(0.005)
        if time.time() - t0 > 30:
            raise SystemExit("the app did not start")
    up = mark.with_name(mark.name + ".up")
    while not up.exists():
        time.sleep(0.005)
        if proc.poll() is not None or time.time() - t0 > 60:
            raise SystemExit("the app did not come up")
    return (float(mark.read_text()) - t0) * 1000, proc


def launches(cmds: dict[str, list[str]], env: dict[str, str], n: int) -> tuple[dict[str, list[float]],
                                                                               subprocess.Popen[bytes]]:
    """Each command n + 1 times, taking turns (the first round is not counted), so a machine that
    slows down or speeds up meanwhile weighs on all of them alike.  Every process is stopped once
    it is up, but the last command's last one, which runs on."""
    times: dict[str, list[float]] = {tag: [] for tag in cmds}
    proc = None
    last = list(cmds)[-1]
    for i in range(-1, n):
        for tag, cmd in cmds.items():
            ms, proc = launch(cmd, env, TMP / f"{tag}-{i}")
            if i >= 0:
                times[tag].append(ms)
            if not (tag == last and i == n - 1):
                proc.terminate()
                proc.wait()
    assert proc is not None
    return times, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--exe", type=Path, help="an installed program to start (e.g. dist/zhenglian/zhenglian) "
                                             "instead of this source tree's 'python -m zhenglian'")
    args = ap.parse_args()
    provision.provision_key(provision.DEMO_KEYS[1], CONF)  # one key in

    # Compiled bytecode, as an installed client has it (a shell's PYTHONDONTWRITEBYTECODE
    # would make every launch compile ~200 modules).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", str(TMP / "pycache"))
    display = next(f":{n}" for n in range(91, 200)
                   if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists())
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24"], stderr=subprocess.DEVNULL)
    time.sleep(1)
    tray = None
    if shutil.which("trayer"):
        tray = subprocess.Popen(["trayer", "--edge", "top", "--SetDockType", "true"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    try:
        cmd = [str(args.exe)] if args.exe else [sys.executable, "-m", "zhenglian"]
        times, proc = launches({"bare": [sys.executable, "-c", _BARE_TRAY], "mark": cmd}, env, args.launches)
        app, floor = times["mark"], times["bare"]
        print(f"launch to tray icon (process start → icon shown, {'trayer' if tray else 'no tray host'}): "
              f"median {statistics.median(app):.0f} ms (min {min(app):.0f}, max {max(app):.0f}); "
              f"a bare PySide6 tray icon: median {statistics.median(floor):.0f} ms")
        assert proc is not None
        # Idle = after the app gave its start-up memory back (ui/app.py writes <mark>.settled).
        settled = TMP / f"mark-{args.launches - 1}.settled"
        waiting = time.time()
        while not settled.exists():
            time.sleep(0.1)
            if proc.poll() is not None or time.time() - waiting > 120:
                raise SystemExit("the app did not settle")
        time.sleep(1)  # the mark is written right after malloc_trim: let the event loop go idle
        rss = rss_mb(proc.pid)
        c0, w0 = cpu_seconds(proc.pid), time.time()
        time.sleep(args.idle_seconds)
        cpu, wall = cpu_seconds(proc.pid) - c0, time.time() - w0
        print(f"idle RSS with one key in: {rss:.1f} MB (after settling; {rss_mb(proc.pid):.1f} MB "
              f"{wall:.0f} s later)")
        print(f"idle CPU over {wall:.0f} s with one key in: {100 * cpu / wall:.2f} % of one core")
        proc.terminate()
        proc.wait()
    finally:
        if tray:
            tray.terminate()
        xvfb.terminate()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
