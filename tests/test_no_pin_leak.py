"""No PIN ever reaches a log, an exception's text, the output or a file of the data directory.

Login, a failed login, a change and an SO unlock run with distinctive known
PINs, in this process (root logger captured at DEBUG, plus a log file under
ZHENGLIAN_HOME/logs) and through the CLI in child processes (their own log
file under the same ZHENGLIAN_HOME).  Then every file under ZHENGLIAN_HOME
is searched byte-wise for each PIN in UTF-8, UTF-16-LE and UTF-16-BE.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import pins as support
from helpers.pins import find, netca_spec

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.tokens import pin
from zhenglian.tokens.pincache import PinCache
from zhenglian.tokens.secret import PinBuffer

USER = "LeakUser#2026q"
WRONG = "LeakWrong#2026z"
NEW = "LeakNew#2026x"
NEWER = "LeakNewer#2026y"
SO_PIN = "LeakSo#Probe2026"
ALL = (USER, WRONG, NEW, NEWER, SO_PIN)


def encodings(secret: str) -> list[bytes]:
    return [secret.encode("utf-8"), secret.encode("utf-16-le"), secret.encode("utf-16-be")]


def assert_clean(text_or_bytes: str | bytes, where: str) -> None:
    data = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
    for secret in ALL:
        for enc in encodings(secret):
            assert enc not in data, f"PIN found in {where}"


def test_no_pin_in_logs_errors_output_or_files(tmp_path: Path, monkeypatch, make_key, lockproxy, caplog) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ZHENGLIAN_HOME", str(home))
    (home / "logs").mkdir()
    file_handler = logging.FileHandler(home / "logs" / "zhenglian.log", encoding="utf-8")
    root = logging.getLogger()
    root.addHandler(file_handler)
    caplog.set_level(logging.DEBUG)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    messages: list[str] = []
    try:
        serial = make_key(netca_spec(user_pin=USER, so_pin=SO_PIN)).serial
        mgr = lockproxy.manager()
        key, module, manifest = find(mgr, serial)

        with pin.user_session(KeyHandle(module, key, manifest), PinBuffer(USER)):
            pass
        for bad in (WRONG, "x"):  # wrong, and refused by the rules
            with pytest.raises(errors.ZhenglianError) as exc, \
                    pin.user_session(KeyHandle(module, key, manifest), PinBuffer(bad)):
                pass
            messages += [str(exc.value), repr(exc.value), exc.value.user_message(), str(exc.value.to_dict())]
        with pytest.raises(errors.PinPolicyViolation) as exc:
            pin.change(KeyHandle(module, key, manifest), PinBuffer(USER), PinBuffer(USER), PinBuffer(USER))
        messages.append(exc.value.user_message())
        pin.change(KeyHandle(module, key, manifest), PinBuffer(USER), PinBuffer(NEW), PinBuffer(NEW))
        with pytest.raises(errors.WrongSoPin) as exc:
            pin.unlock(KeyHandle(module, key, manifest), PinBuffer(WRONG), PinBuffer(NEWER), PinBuffer(NEWER))
        messages.append(exc.value.user_message())
        pin.unlock(KeyHandle(module, key, manifest), PinBuffer(SO_PIN), PinBuffer(NEWER), PinBuffer(NEWER))
        cache = PinCache(idle_s=60)
        cache.put(serial, PinBuffer(NEWER))
        messages.append(repr(cache.get(serial)))
        cache.close()

        # The same through the command line (its own log file under the same home).
        env = dict(os.environ, ZHENGLIAN_HOME=str(home), **lockproxy.child_env())
        base = [sys.executable, "-m", "zhenglian", "pin"]
        tail = ["--key", serial, "--pin-stdin", "--module", str(lockproxy.path)]
        outputs = []
        for action, stdin in (("verify", WRONG), ("verify", NEWER), ("change", f"{NEWER}\n{USER}\n{USER}"),
                              ("change", f"{WRONG}\n{NEW}\n{NEW}"), ("unlock", f"{SO_PIN}\n{NEW}\n{NEW}"),
                              ("verify", NEW)):
            r = subprocess.run([*base, action, *tail], input=stdin + "\n", capture_output=True, text=True,
                               env=env, timeout=60, cwd=support.ROOT)
            assert "Traceback" not in r.stderr
            outputs.append(r.stdout + r.stderr)
        assert [o.count("PIN 错误") for o in outputs] == [1, 0, 0, 1, 0, 0]
    finally:
        root.removeHandler(file_handler)
        file_handler.close()
        root.setLevel(old_level)

    assert caplog.records, "nothing was logged: the capture would prove nothing"
    assert_clean("\n".join(r.getMessage() for r in caplog.records), "the root logger")
    assert_clean("\n".join(messages), "an exception or repr")
    assert_clean("\n".join(outputs), "the CLI's output")
    files = [p for p in home.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "zhenglian.log" in names and "pin-tries.json" in names
    assert (home / "logs" / "zhenglian.log").stat().st_size > 0
    for f in files:
        assert_clean(f.read_bytes(), str(f.relative_to(home)))


def test_the_grep_would_find_a_leak(tmp_path: Path) -> None:
    """The search above can fail: a PIN written in UTF-16 is found."""
    f = tmp_path / "leak.bin"
    f.write_bytes(b"header" + USER.encode("utf-16-le"))
    with pytest.raises(AssertionError):
        assert_clean(f.read_bytes(), "leak.bin")


# --- renew reads its PIN the way the pin commands do ------------------------------------------

_RENEW_CHILD = """
import gc, os, sys
from zhenglian.cli.cmd_renew import _read_pin
pin = _read_pin(True)
assert len(pin) == int(sys.argv[1])
pin.wipe(); del pin; gc.collect()
print("ready", flush=True)
os.read(0, 1)  # wait while the parent searches our memory
"""


def _copies_in_memory(pid: int, needles: list[bytes]) -> tuple[int, int]:
    """(copies of any needle, bytes scanned) in the writable mappings of process ``pid``."""
    import re

    found = scanned = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for row in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", row)
            if m is None or "rw" not in m.group(3):
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, OverflowError):
                continue
            scanned += len(data)
            found += sum(data.count(n) for n in needles)
    return found, scanned


def test_renew_pin_stdin_leaves_no_copy_in_memory() -> None:
    """``renew --pin-stdin`` reads fd 0 byte by byte like ``pin``: after wipe() no copy is left.

    sys.stdin.readline() left the PIN in stdin's buffers and in a str that cannot be wiped.
    """
    import secrets
    import string

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/PID/mem")
    secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(18)) + "#Q"
    needles = [secret.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-32-le")]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    child = subprocess.Popen([sys.executable, "-c", _RENEW_CHILD, str(len(secret))], cwd=root, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(secret.encode() + b"\n")
        child.stdin.flush()
        if child.stdout.readline().strip() != b"ready":
            child.stdin.close()
            pytest.fail(child.communicate(timeout=30)[1].decode(errors="replace")[-2000:])
        try:
            found, scanned = _copies_in_memory(child.pid, needles)
        except PermissionError:
            pytest.skip("no permission to read another process's memory here")
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    assert scanned > 5_000_000
    assert found == 0


def test_renew_without_pin_stdin_refuses_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the pin commands: no terminal, no PIN prompt (getpass would fall back to reading stdin)."""
    import getpass

    from zhenglian.cli.cmd_renew import _read_pin

    def never(prompt: str = "") -> str:
        raise AssertionError("getpass must not be reached without a terminal")

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.setattr(getpass, "getpass", never)
    with pytest.raises(errors.UsageError) as exc:
        _read_pin(False)
    assert "--pin-stdin" in exc.value.message_en()
