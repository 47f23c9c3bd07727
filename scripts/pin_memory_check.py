"""Count copies of a PIN left in the client's memory after the PIN dialogs (issue 15.7).

Starts a child process running the real Qt PIN dialogs (offscreen) against a
private SoftHSM key: the PIN dialog checks the current PIN, then the change
dialog changes it — typed as key presses, as an operator would.  The child
then idles in its Qt event loop like the tray app.  At the given times after
the change, this process reads the child's memory (``/proc/PID/mem``, every
writable mapping; ``gcore`` is not needed) and counts the old and the new PIN
as UTF-8 and as UTF-16 (Qt's QString) byte strings.

The PINs reach the child through a pipe, one byte at a time into a
bytearray that is wiped after typing: neither the command line, the
environment nor a Python ``str`` of the child holds them, so what is counted
is what the client (or the driver: SoftHSM here) left behind.

Run:  .venv/bin/python scripts/pin_memory_check.py [--at 3,30,150] [--source DIR]
``--source`` runs the child on another checkout (e.g. the code before the fix)
for a before/after figure.  Linux only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _random_pin() -> bytes:
    """A fresh PIN that meets the CA's rules; made at run time, so no source text holds it."""
    import secrets
    import string

    pick = secrets.choice
    body = [pick(string.ascii_uppercase), pick(string.ascii_lowercase), pick(string.digits), pick("#%@!")]
    body += [pick(string.ascii_letters + string.digits) for _ in range(8)]
    return "".join(body).encode()


# Made in the parent only (the child is this file too, and must not hold them as constants).
OLD_PIN = _random_pin() if "--child" not in sys.argv else b""
NEW_PIN = _random_pin() if "--child" not in sys.argv else b""
LABEL = "MEMCHECK"
CHUNK = 16 << 20


# --- the child: the real dialogs ------------------------------------------------------------


def _read_line_bytes() -> bytearray:
    buf = bytearray()
    while True:
        b = os.read(0, 1)
        if not b or b == b"\n":
            return buf
        buf += b


def child(label: str) -> int:
    old, new = _read_line_bytes(), _read_line_bytes()
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from zhenglian.services import Context
    from zhenglian.tokens import pin as pinops
    from zhenglian.ui.pin_dialogs import ChangePinDialog, DialogPrompter, PinDialog

    app = QApplication([])
    ctx = Context.create()
    key = ctx.tokens.find_key(label)
    module = ctx.tokens.module_for(key)
    manifest = ctx.tokens.pin_policy_manifest(key)

    def type_into(widget: object, secret: bytearray) -> None:
        for i in range(len(secret)):
            QTest.keyClick(widget, chr(secret[i]))  # one key press per character

    def when_open(cls: type, answer: object) -> None:
        def poll() -> None:
            w = QApplication.activeModalWidget()
            if isinstance(w, cls) and w.isVisible():
                answer(w)  # type: ignore[operator]
            else:
                QTimer.singleShot(20, poll)
        QTimer.singleShot(20, poll)

    def answer_pin(d: PinDialog) -> None:
        type_into(d.field, old)
        d.ok_button.click()

    def answer_change(d: ChangePinDialog) -> None:
        type_into(d.old, old)
        type_into(d.new, new)
        type_into(d.repeat, new)
        d.ok_button.click()

    prompter = DialogPrompter(key, None)
    when_open(PinDialog, answer_pin)
    pinops.interactive_verify(module, key, manifest, prompter)
    when_open(ChangePinDialog, answer_change)
    pinops.interactive_change(module, key, manifest, prompter)
    for secret in (old, new):
        for i in range(len(secret)):
            secret[i] = 0
    import gc

    gc.collect()
    app.processEvents()
    os.write(1, b"READY\n")

    # Idle like the tray: the event loop runs, a timer ticks, until the parent closes stdin.
    import threading

    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), done.set()), daemon=True).start()
    ticker = QTimer()
    ticker.timeout.connect(lambda: app.quit() if done.is_set() else None)
    ticker.start(200)
    app.exec()
    return 0


# --- the parent: set up, start, scan ------------------------------------------------------------


@dataclasses.dataclass
class Counts:
    at_s: float
    old_utf8: int
    old_utf16: int
    new_utf8: int
    new_utf16: int
    scanned_mb: float


def _patterns() -> dict[str, bytes]:
    return {"old_utf8": OLD_PIN, "old_utf16": OLD_PIN.decode().encode("utf-16-le"),
            "new_utf8": NEW_PIN, "new_utf16": NEW_PIN.decode().encode("utf-16-le")}


def scan(pid: int) -> tuple[dict[str, int], int]:
    """Occurrences of each pattern in the writable memory of ``pid``; bytes scanned."""
    pats = _patterns()
    counts = dict.fromkeys(pats, 0)
    overlap = max(len(p) for p in pats.values()) - 1
    scanned = 0
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            parts = line.split()
            perms = parts[1]
            name = parts[5] if len(parts) > 5 else ""
            if not perms.startswith("rw") or name in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            pos, tail = start, b""
            while pos < end:
                n = min(CHUNK, end - pos)
                try:
                    mem.seek(pos)
                    data = mem.read(n)
                except OSError:
                    break
                if not data:
                    break
                window = tail + data
                for k, p in pats.items():
                    # a match wholly inside the carried tail was counted with the previous chunk
                    counts[k] += sum(1 for m in re.finditer(re.escape(p), window) if m.end() > len(tail))
                tail = window[-overlap:] if overlap else b""
                scanned += len(data)
                pos += len(data)
    return counts, scanned


def setup(tmp: Path) -> dict[str, str]:
    os.environ["ZHENGLIAN_HOME"] = str(tmp / "home")
    from zhenglian.reference import provision, softhsm

    conf = softhsm.write_conf(tmp / "softhsm" / "softhsm2.conf")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    spec = dataclasses.replace(provision.DEMO_KEYS[1], label=LABEL, user_pin=OLD_PIN.decode())
    provision.provision_key(spec, conf)
    return {"ZHENGLIAN_HOME": str(tmp / "home"), "SOFTHSM2_CONF": str(conf),
            "ZHENGLIAN_USB_SYSFS": str(tmp / "no-usb"), "QT_QPA_PLATFORM": "offscreen"}


def run(at: list[float], source: Path) -> list[Counts]:
    tmp = Path(tempfile.mkdtemp(prefix="zhenglian-pinmem-"))
    try:
        env = dict(os.environ, **setup(tmp))
        env["PYTHONPATH"] = str(source)
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", LABEL],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=source)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(OLD_PIN + b"\n" + NEW_PIN + b"\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if line.strip() != b"READY":
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            proc.kill()
            raise SystemExit(f"the child did not get through the dialogs:\n{err[-3000:]}")
        ready = time.monotonic()
        out: list[Counts] = []
        for t in sorted(at):
            delay = ready + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # a measurement schedule, not a test wait
            counts, scanned = scan(proc.pid)
            out.append(Counts(round(time.monotonic() - ready, 1), scanned_mb=round(scanned / 1e6, 1), **counts))
        proc.stdin.close()
        proc.wait(timeout=30)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", metavar="LABEL", help=argparse.SUPPRESS)
    ap.add_argument("--at", default="3,30,150", help="seconds after the change to look (default 3,30,150)")
    ap.add_argument("--source", type=Path, default=ROOT, help="the checkout the child runs (default: this one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    if not sys.platform.startswith("linux"):
        print("Linux only (/proc/PID/mem)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    results = run([float(x) for x in args.at.split(",") if x], args.source.resolve())
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results]))
        return 0
    print(f"source: {args.source}")
    print("after change   old PIN utf-8  utf-16   new PIN utf-8  utf-16   scanned")
    for r in results:
        print(f"{r.at_s:8.1f} s    {r.old_utf8:13d} {r.old_utf16:7d}   {r.new_utf8:13d} {r.new_utf16:7d}"
              f"   {r.scanned_mb:6.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
