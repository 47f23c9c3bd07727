"""The README's demo, end to end, headless: keys, server, tray app."""

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_run_starts_keys_server_and_tray_app(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("SOFTHSM2_CONF", "DISPLAY")}
    env["ZHENGLIAN_HOME"] = str(tmp_path / "demo")
    proc = subprocess.Popen([sys.executable, "-m", "zhenglian", "demo", "run", "--port", str(port), "--seconds", "12"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: dict[str, object] = {}

    def probe() -> None:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and "openapi" not in seen:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1) as r:
                    seen["openapi"] = r.status
            except OSError:
                time.sleep(0.3)

    t = threading.Thread(target=probe)
    t.start()
    out, _ = proc.communicate(timeout=120)
    t.join()
    assert proc.returncode == 0, out
    assert seen.get("openapi") == 200, out
    assert "NETCA-DEMO" in out and "SZCA-DEMO" in out and "GDCA-DEMO" in out and "SM2-DEMO" in out
    assert "托盘程序已启动" in out
    assert "Traceback" not in out
    log = (tmp_path / "demo" / "logs" / "zhenglian.log").read_text(encoding="utf-8")
    assert "tray application up after" in log  # the whole app, not only the icon
    keys = subprocess.run([sys.executable, "-m", "zhenglian", "keys", "--json"], cwd=ROOT, capture_output=True,
                          text=True, env=dict(env, SOFTHSM2_CONF=str(tmp_path / "demo/softhsm/softhsm2.conf")))
    listed = __import__("json").loads(keys.stdout)["keys"]
    assert len(listed) == 5  # three SoftHSM keys, the SM2 demo key (SM2 token) and the SKF demo key
    assert "SM2-DEMO" in keys.stdout
    assert [k["backend"] for k in listed if k["label"] == "SKF-DEMO"] == ["skf"]
