"""The tray's login read from the keyring in a short-lived child (server/tokenstore.py).

The tray app idles for hours; on Linux the keyring's Secret Service client brings D-Bus
code and cryptography that it would keep for one read at start-up.  These tests use the
file keyring of tests/helpers/server.py, which a child process finds through
PYTHON_KEYRING_BACKEND as the real desktop keyring would be found.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.server import FileKeyring, file_keyring  # noqa: F401

from zhenglian import selfexec
from zhenglian.server import tokenstore
from zhenglian.server.tokenstore import StoredToken, TokenStore

ORIGIN = "https://sign.example.org"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child read is Linux only")


class Runs:
    """Counts the children selfexec starts (and can make them fail)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: BaseException | None = None) -> None:
        self.calls: list[list[str]] = []
        real = selfexec.run

        def run(flag: str, args: list[str], timeout_s: float) -> Any:
            self.calls.append([flag, *args])
            if fail is not None:
                raise fail
            return real(flag, args, timeout_s)

        monkeypatch.setattr(selfexec, "run", run)


def _stored(file_keyring: FileKeyring, serial: str) -> StoredToken:  # noqa: F811
    token = StoredToken("tok-" + serial, time.time() + 3600, "91441900MA00000001")
    TokenStore().put(ORIGIN, serial, token)  # written in this process, as after a login
    assert serial in file_keyring.path.read_text()
    return token


def test_the_read_runs_in_a_child_and_finds_the_login(file_keyring, monkeypatch) -> None:  # noqa: F811
    token = _stored(file_keyring, "SER1")
    runs = Runs(monkeypatch)
    store = TokenStore(isolated=True)
    got = store.get(ORIGIN, "SER1")
    assert got is not None and (got.token, got.uscc) == (token.token, token.uscc)
    assert runs.calls == [["--read-keyring-token", f"{ORIGIN}#SER1"]]
    assert store.get(ORIGIN, "SER1") == got and len(runs.calls) == 1  # kept in memory afterwards


def test_nothing_stored_is_asked_once_and_not_deleted_at_quit(file_keyring, monkeypatch) -> None:  # noqa: F811
    _stored(file_keyring, "OTHER")
    runs = Runs(monkeypatch)
    deletes: list[str] = []
    monkeypatch.setattr(FileKeyring, "delete_password", lambda self, s, u: deletes.append(u))
    store = TokenStore(isolated=True)
    assert store.get(ORIGIN, "SER2") is None
    assert store.get(ORIGIN, "SER2") is None  # the sync asks at every pass while logged out
    assert len(runs.calls) == 1
    store.delete(ORIGIN, "SER2")  # the key removed, or quitting: nothing to delete
    assert deletes == []
    # After a login the token is written, found in memory, and deleted from the keyring again.
    store.put(ORIGIN, "SER2", StoredToken("new", time.time() + 3600))
    assert store.get(ORIGIN, "SER2").token == "new" and len(runs.calls) == 1
    store.delete(ORIGIN, "SER2")
    assert deletes == [f"{ORIGIN}#SER2"]


def test_a_child_that_cannot_start_reads_here(file_keyring, monkeypatch) -> None:  # noqa: F811
    token = _stored(file_keyring, "SER3")
    runs = Runs(monkeypatch, fail=OSError("no such file"))
    assert TokenStore(isolated=True).get(ORIGIN, "SER3").token == token.token
    assert len(runs.calls) == 1


def test_a_keyring_that_does_not_answer_means_log_in_again(file_keyring, monkeypatch) -> None:  # noqa: F811
    _stored(file_keyring, "SER4")
    reads: list[str] = []
    monkeypatch.setattr(FileKeyring, "get_password", lambda self, s, u: reads.append(u))
    Runs(monkeypatch, fail=subprocess.TimeoutExpired(["x"], tokenstore.READ_TIMEOUT_S))
    assert TokenStore(isolated=True).get(ORIGIN, "SER4") is None
    assert reads == []  # not asked a second time here (the desktop may be showing its unlock prompt)


def test_no_keyring_in_the_child_keeps_the_login_in_memory(monkeypatch, caplog) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    store = TokenStore(isolated=True)
    with caplog.at_level("WARNING"):
        assert store.get(ORIGIN, "SER5") is None
    assert not store.persistent and "memory" in caplog.text
    store.put(ORIGIN, "SER5", StoredToken("mem", time.time() + 3600))
    assert store.get(ORIGIN, "SER5").token == "mem"


def test_the_child_answers_one_line(file_keyring) -> None:  # noqa: F811
    token = _stored(file_keyring, "SER6")
    proc = subprocess.run(selfexec.command("--read-keyring-token", f"{ORIGIN}#SER6"), capture_output=True,
                          env=selfexec.environment(), timeout=120, check=True)
    answer = json.loads(proc.stdout.decode().strip())
    assert answer["keyring"] is True and json.loads(answer["value"])["token"] == token.token
    bad = subprocess.run(selfexec.command("--read-keyring-token"), capture_output=True,
                         env=selfexec.environment(), timeout=120)
    assert bad.returncode == 2 and bad.stdout == b""


def test_the_tray_process_never_loads_the_keyring(file_keyring, tmp_path: Path) -> None:  # noqa: F811
    """What the tray's task board does at start-up: a workspace with the isolated store whose
    login is read by the sync thread.  The keyring stays out of the process."""
    _stored(file_keyring, "SER7")
    code = f"""
import sys
from zhenglian.server.api import ServerClient
from zhenglian.server.session import ServerSession
from zhenglian.server.tokenstore import TokenStore
from types import SimpleNamespace
key = SimpleNamespace(serial="SER7")  # all the session reads of the key before a login
session = ServerSession(ServerClient({ORIGIN!r}), key, TokenStore(isolated=True))
print(session.logged_in, session.uscc, "keyring" in sys.modules, "cryptography" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=selfexec.environment(), cwd=tmp_path)
    assert out.stdout.split() == ["True", "91441900MA00000001", "False", "False"], out.stderr[-2000:]
