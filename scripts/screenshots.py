"""Screenshots of the tray app as an operator sees it, on a real X screen.

Run under Xvfb with a tray host (trayer), e.g.:
    xvfb-run -s "-screen 0 1280x800x24" sh -c 'trayer --edge top --align right --SetDockType true & \
        .venv/bin/python scripts/screenshots.py build/screenshots'
The docs' pictures come from the scenario tests (``ZHENGLIAN_SHOTS=docs/images``, the ``shoot``
fixture); the one that needs a real tray host, docs/images/app-tray-menu.png, is copied from
this script's output.  Without an argument it writes to build/screenshots, never over the docs.
Starts a private demo (keys, reference server with tasks) and the tray app in
this process, logs in with the demo key's published PIN through the same
worker path as a PIN dialog would, and saves: app-tray-menu.png,
app-keys.png, app-tasks.png (task list with the document preview and the
seal), app-pin.png (PIN dialog), app-apps.png.  tests/test_ui_screens.py
runs it and checks the pictures.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "build/screenshots").resolve()
TMP = Path(tempfile.mkdtemp(prefix="zhenglian-shots-"))
os.environ["ZHENGLIAN_HOME"] = str(TMP / "home")
os.environ["SOFTHSM2_CONF"] = str(TMP / "home" / "softhsm" / "softhsm2.conf")
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "zhenglian", "demo", "run", "--no-gui", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from zhenglian.config import Settings

        deadline = time.monotonic() + 90
        while True:  # the server answers and the demo has saved its address in the settings
            with socket.socket() as s:
                # (the shipped deployment preset names a server from the start: wait for the demo's)
                if s.connect_ex(("127.0.0.1", port)) == 0 and f":{port}" in (Settings.load().server_url or ""):
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                print("demo server did not start", file=sys.stderr)
                return 1
            time.sleep(0.3)
        return shoot()
    finally:
        server.terminate()
        server.wait(10)


def shoot() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from zhenglian.config import Settings
    from zhenglian.services import Context
    from zhenglian.tokens import pin as pinops
    from zhenglian.tokens.secret import PinBuffer
    from zhenglian.ui import i18n
    from zhenglian.ui.app import TrayApp

    app = QApplication([])
    settings = Settings.load()
    i18n.install_translator(app, settings.language)
    tray = TrayApp(Context.create(settings=settings), app)
    tray.start()

    def wait(cond, seconds: float = 30) -> bool:  # type: ignore[no-untyped-def]
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.02)
        return False

    def grab(widget, name: str) -> None:  # type: ignore[no-untyped-def]
        wait(lambda: False, 0.4)
        widget.grab().save(str(OUT / name))
        print("saved", OUT / name)

    def screen(name: str, crop: str = "") -> None:
        """The whole X screen (tray host and menu included), optionally cropped (WxH+X+Y)."""
        wait(lambda: False, 0.6)
        subprocess.run(["import", "-window", "root", *(["-crop", crop] if crop else []), str(OUT / name)],
                       check=True)
        print("saved", OUT / name)

    # The three SoftHSM demo keys (and SKF-DEMO where skfsoft could be built).
    if not wait(lambda: {"NETCA-DEMO", "SZCA-DEMO", "GDCA-DEMO"} <= {k.label for k in tray.controller.current_keys()},
                30):
        print("keys not seen", file=sys.stderr)
        return 1
    win = tray.window
    win.resize(1180, 720)
    win.show_page("keys")
    grab(win, "app-keys.png")

    # Log in with the SZCA demo key (its PIN is published), as the PIN dialog would.
    view = tray.tasks_view
    szca = next(i for i, k in enumerate(view.keys) if k.label == "SZCA-DEMO")
    view.key_box.setCurrentIndex(szca)

    class Scripted:
        keep_pin = False

        def ask_pin(self, st):  # type: ignore[no-untyped-def]
            return PinBuffer("Szca@2026demo")

        def confirm_final_try(self, st):  # type: ignore[no-untyped-def]
            return False

        def locked(self, st, error):  # type: ignore[no-untyped-def]
            raise error

        def pinpad(self, st):  # type: ignore[no-untyped-def]
            raise AssertionError("no PIN pad on the demo key")

    view.workspace.login(Scripted())
    view.refresh()
    if not wait(lambda: view.table.rowCount() > 0, 40):
        print("no tasks listed", file=sys.stderr)
        return 1
    win.show_page("tasks")
    view.table.selectRow(0)
    wait(lambda: getattr(view, "current_preview", None) is not None and view.preview.view.seal is not None, 30)
    view.preview.fit()
    grab(win, "app-tasks.png")
    win.show_page("apps")
    grab(win, "app-apps.png")

    from zhenglian.ui.pin_dialogs import PinDialog

    key = view.workspace.key
    st = pinops.status(view.workspace.handle)
    dlg = PinDialog(key, st)
    dlg.show()
    grab(dlg, "app-pin.png")
    dlg.reject()

    win.hide()
    tray.tray.menu.popup(tray.tray.icon.geometry().bottomLeft() if tray.tray.icon.geometry().isValid()
                         else win.geometry().topRight())
    screen("app-tray-menu.png", "420x260+860+0")
    tray.tray.menu.hide()
    QTimer.singleShot(0, tray.quit)
    tray.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
