"""End to end in a real browser: web page → bridge → tray app → signing server → the page shows it signed.

- the reference signing server (child process) serves the institution's page at /web/;
- headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core
  (tests/e2e/sign_flow.mjs; ``npm ci --prefix tests/e2e``) clicks 开始签名;
- the real tray app (``python -m zhenglian``, Qt offscreen) runs with the
  TEST-ONLY hook: its confirmation dialog is shown and then accepted (or
  declined), and the PIN it asks for is typed from a pipe this test writes.

Needs: apt chromium, node + npm, tests/e2e/node_modules.  Skipped with the
reason when one is missing, unless ZHENGLIAN_REQUIRE_E2E=1 (CI) makes that
a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import RunningServer, start_server, terminate

from zhenglian.bridge.protocol import FALLBACK_PORTS
from zhenglian.bridge.testhook import BANNER
from zhenglian.reference.provision import DEMO_KEYS

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SZCA = DEMO_KEYS[1]

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    if shutil.which("node") is None:
        return "node not installed"
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        return "playwright-core not installed (npm ci --prefix tests/e2e)"
    return None


@pytest.fixture(scope="module", autouse=True)
def _prerequisites() -> None:
    why = _missing()
    if why:
        if os.environ.get("ZHENGLIAN_REQUIRE_E2E") == "1":
            pytest.fail(f"browser end-to-end test cannot run: {why}")
        pytest.skip(why)


def browse(**opts: Any) -> dict[str, Any]:
    proc = subprocess.run(["node", str(E2E / "sign_flow.mjs"), json.dumps(opts)], capture_output=True, text=True,
                          timeout=180, cwd=E2E)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Tray:
    """The real tray app in a child process, with the test hook and a PIN pipe."""

    def __init__(self, home: Path, server: RunningServer, confirm: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.json").write_text(json.dumps({"server_url": server.url, "allowed_origins": [server.url],
                                                        "language": "zh_CN"}), encoding="utf-8")
        self.read_fd, self.write_fd = os.pipe()
        env = dict(os.environ, ZHENGLIAN_HOME=str(home), QT_QPA_PLATFORM="offscreen",
                   ZHENGLIAN_TEST_HOOKS="1", ZHENGLIAN_TEST_CONFIRM=confirm,
                   ZHENGLIAN_TEST_PIN_FD=str(self.read_fd),
                   PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
        self.home = home
        self.log = home / "tray.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "zhenglian"], env=env, cwd=ROOT,
                                         stdout=log, stderr=subprocess.STDOUT, pass_fds=(self.read_fd,))
        os.close(self.read_fd)
        self.port = self._wait_for_bridge()

    def _wait_for_bridge(self, timeout: float = 40.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tray app exited: {self.text()[-3000:]}")
            for port in (21881, *FALLBACK_PORTS):
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=0.5)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200 and r.json().get("app") == "zhenglian" and f"{port}" in self.text():
                    return port
            time.sleep(0.2)
        raise AssertionError(f"the bridge did not come up: {self.text()[-3000:]}")

    def give_pin(self, pin: str) -> None:
        os.write(self.write_fd, pin.encode() + b"\n")

    def text(self) -> str:
        """The tray's output and its log file (zhenglian/logsetup.py)."""
        parts = [self.log.read_text(encoding="utf-8", errors="replace")]
        parts += [f.read_text(encoding="utf-8", errors="replace") for f in sorted(self.home.rglob("zhenglian.log*"))]
        return "\n".join(parts)

    def stop(self) -> None:
        os.close(self.write_fd)
        terminate(self.proc)


@pytest.fixture
def server(tmp_path: Path, demo_keys):  # type: ignore[no-untyped-def]
    s = start_server(tmp_path / "server")
    yield s
    s.stop()


def test_page_signs_through_the_tray_app(server: RunningServer, tmp_path: Path) -> None:
    tid = server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("贷款合同",))[0]
    page = f"{server.url}/web/"
    # No client yet: the page says how to install it.
    missing = browse(url=page, institution=SZCA.uscc, taskId=tid, expect="install", timeoutMs=30000,
                     screenshot=str(tmp_path / "no-client.png"))
    assert missing["ok"], missing
    assert missing["installVisible"] and "未检测到证联客户端" in missing["client"]
    assert server.store.task(tid).status == "pending"

    tray = Tray(tmp_path / "home", server, confirm="accept")
    try:
        tray.give_pin(SZCA.user_pin)
        shot = tmp_path / "signed.png"
        seen = browse(url=page, institution=SZCA.uscc, taskId=tid, expect="signed", screenshot=str(shot))
        log = tray.text()
    finally:
        tray.stop()
    assert seen["ok"], (seen, log[-4000:])
    assert seen["before"] == "待签署" and seen["after"] == "已签署"
    assert "已签署" in seen["message"] and f"端口 {tray.port}" in seen["client"]
    task = server.store.task(tid)
    assert task.status == "signed" and server.uploads_per_task() == {tid: 1}
    signed = server.store.read_file(task.signed_sha256)
    assert signed.startswith(server.store.read_file(task.doc_sha256))
    # The hook announced itself; the PIN went nowhere but the key.
    assert BANNER in log and "TEST HOOK: the confirmation" in log
    assert SZCA.user_pin not in log
    assert shot.stat().st_size > 10000
    if os.environ.get("ZHENGLIAN_E2E_SHOTS"):
        shutil.copy(shot, Path(os.environ["ZHENGLIAN_E2E_SHOTS"]) / "bridge-page-signed.png")


def test_declined_in_the_client_is_shown_on_the_page(server: RunningServer, tmp_path: Path) -> None:
    tid = server.add_tasks(SZCA.uscc, SZCA.organization, 1)[0]
    tray = Tray(tmp_path / "home", server, confirm="reject")
    try:
        tray.give_pin(SZCA.user_pin)  # the login before the confirmation (no stored login)
        seen = browse(url=f"{server.url}/web/", institution=SZCA.uscc, taskId=tid, expect="declined")
        log = tray.text()
    finally:
        tray.stop()
    assert seen["ok"], (seen, log[-4000:])
    assert "已在证联客户端中取消签署" in seen["message"] and seen["after"] == "待签署"
    assert server.store.task(tid).status == "pending" and server.uploads_per_task() == {}
