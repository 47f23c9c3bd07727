"""``zhenglian demo run``: demo keys + reference signing server + tray app.

Headless-friendly: with no display (Linux), an Xvfb screen and the trayer
tray host are started so the real tray app runs; ``--seconds N`` stops
everything after N seconds (used by CI as a smoke test).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from zhenglian import paths
from zhenglian.config import Settings

SERVER_PORT = 8765


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


def _wait_port(port: int, timeout: float = 20) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            s.settimeout(0.3)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def run(port: int = SERVER_PORT, gui: bool = True, seconds: float | None = None, tasks: int = 4,
        out=print) -> int:  # type: ignore[no-untyped-def]
    home = paths.data_dir()
    procs: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ, ZHENGLIAN_HOME=str(home))
    conf = home / "softhsm" / "softhsm2.conf"
    env["SOFTHSM2_CONF"] = str(conf)

    def stop(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    previous = signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if not (home / "softhsm" / "tokens").exists() or not any((home / "softhsm" / "tokens").iterdir()):
            subprocess.run([sys.executable, "-m", "zhenglian", "demo", "init"], env=env, check=True)
        server_dir = home / "reference-server"
        seeded = (server_dir / "server.sqlite3").exists()
        if not seeded:
            subprocess.run([sys.executable, "-m", "zhenglian.reference.server", "demo-seed", "--data", str(server_dir),
                            "--tasks", str(tasks)], env=env, check=True, stdout=subprocess.DEVNULL)
        if not _port_free(port):
            out(f"端口 {port} 已被占用 / port {port} is in use (another demo running?)")
            return 1
        procs.append(subprocess.Popen([sys.executable, "-m", "zhenglian.reference.server", "run", "--data",
                                       str(server_dir), "--port", str(port)], env=env))
        if not _wait_port(port):
            out("参考签署服务器未能启动 / the reference signing server did not start")
            return 1
        est_port = port + 1 if _port_free(port + 1) else 0
        if est_port:
            procs.append(subprocess.Popen([sys.executable, "-m", "zhenglian.reference.est", "--port", str(est_port)],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        settings = Settings.load()
        if est_port and _wait_port(est_port):
            settings.est_url = f"http://127.0.0.1:{est_port}/.well-known/est"
            out(f"演示 CA 在线续期（EST）/ demo CA renewal (EST): {settings.est_url}")
        settings.server_url = url
        settings.demo = True
        if url not in settings.allowed_origins:
            settings.allowed_origins.append(url)
        settings.save()
        out(f"参考签署服务器 / reference signing server: {url}  (OpenAPI: {url}/docs)")
        out("演示 PIN / demo PINs: NETCA-DEMO 12345678, SZCA-DEMO Szca@2026demo, GDCA-DEMO Gdca@2026demo, "
            "SM2-DEMO Sm2@2026demo (SM2)")
        if gui:
            if sys.platform.startswith("linux") and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
                if not shutil.which("Xvfb"):
                    out("没有显示器且未安装 Xvfb / no display and no Xvfb: install xvfb or use --no-gui")
                    return 1
                n = _free_display()
                procs.append(subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                env["DISPLAY"] = f":{n}"
                time.sleep(1)
                if shutil.which("trayer"):
                    procs.append(subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--SetDockType",
                                                   "true", "--height", "32"], env=env,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                out(f"无显示器：托盘程序运行在虚拟屏幕 DISPLAY=:{n} / headless: the tray app runs on DISPLAY=:{n}")
            procs.append(subprocess.Popen([sys.executable, "-m", "zhenglian"], env=env))
            out("托盘程序已启动 / the tray app is running — Ctrl+C 结束 / to stop")
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            if gui and procs[-1].poll() is not None:
                out("托盘程序已退出 / the tray app has quit")
                break
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop()
