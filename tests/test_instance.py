"""One client per user: the single-instance guard (zhenglian.instance), without Qt."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
from multiprocessing.connection import Client

import pytest

from zhenglian import instance


@pytest.fixture(autouse=True)
def own_endpoint(tmp_path, monkeypatch):
    """Each test its own endpoint (the name follows ZHENGLIAN_HOME)."""
    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "home"))


def _claim(received: queue.Queue) -> instance.InstanceServer | None:
    return instance.claim(received.put)


def test_first_claims_second_wakes_it() -> None:
    got: queue.Queue = queue.Queue()
    server = _claim(got)
    assert server is not None
    try:
        assert _claim(queue.Queue()) is None  # a second launch
        assert got.get(timeout=30) == "show"
        assert instance.notify_running("show") is True
        assert got.get(timeout=30) == "show"
    finally:
        server.close()


def test_endpoint_is_free_after_close() -> None:
    server = _claim(queue.Queue())
    assert server is not None
    server.close()
    server.close()  # idempotent
    assert instance.notify_running() is False
    again = _claim(queue.Queue())
    assert again is not None
    again.close()


def test_names_differ_per_profile(tmp_path, monkeypatch) -> None:
    first = instance.endpoint()
    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "other"))
    assert instance.endpoint() != first


def test_the_name_is_the_one_earlier_versions_use(tmp_path, monkeypatch) -> None:
    """The name is hashed without hashlib now (no OpenSSL before the tray icon): it must stay the
    same digest, or a new launch would not find an older client already running."""
    import getpass
    import hashlib

    monkeypatch.setenv("ZHENGLIAN_HOME", str(tmp_path / "profile"))
    tag = hashlib.sha256(f"{getpass.getuser()}|{tmp_path / 'profile'}".encode()).hexdigest()[:12]
    address, _family = instance.endpoint()
    assert f"zhenglian-{tag}" in address


def test_a_silent_or_noisy_client_does_not_stop_the_guard() -> None:
    got: queue.Queue = queue.Queue()
    server = _claim(got)
    assert server is not None
    try:
        address, family = instance.endpoint()
        silent = Client(address, family)  # connects and never speaks
        noisy = Client(address, family)
        noisy.send_bytes(b"x" * 10_000)  # longer than any message
        noisy.close()
        t0 = time.monotonic()
        assert instance.notify_running() is True
        assert got.get(timeout=10) == "show"
        assert time.monotonic() - t0 < 2 * instance.READ_TIMEOUT_S + 3
        silent.close()
        assert got.empty()
    finally:
        server.close()


@pytest.mark.skipif(sys.platform == "win32", reason="the Unix-socket endpoint")
def test_a_client_that_stalls_mid_message_does_not_stop_the_guard() -> None:
    """A length header and then nothing: the guard gives up on it after its read timeout."""
    import socket
    import struct

    got: queue.Queue = queue.Queue()
    server = _claim(got)
    assert server is not None
    address, _family = instance.endpoint()
    staller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        staller.connect(address)
        staller.sendall(struct.pack("!i", 4) + b"sh")  # promises 4 bytes, sends 2, stays open
        assert instance.notify_running() is True
        assert got.get(timeout=10) == "show"
        assert got.empty()
    finally:
        staller.close()
        server.close()


@pytest.mark.skipif(sys.platform == "win32", reason="the Unix-socket endpoint")
def test_an_instance_of_the_previous_version_is_still_found() -> None:
    """Before the plain socket, the endpoint was multiprocessing's Listener: same address, same
    framing, so a launch of this version still wakes a running older one (and the reverse is
    test_a_silent_or_noisy_client_does_not_stop_the_guard's Client)."""
    from multiprocessing.connection import Listener

    address, family = instance.endpoint()
    old = Listener(address, family)
    got: queue.Queue = queue.Queue()

    def serve() -> None:
        with old.accept() as conn:
            got.put(conn.recv_bytes(instance.MAX_MESSAGE))

    import threading

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert instance.claim(lambda _m: None) is None  # it is running: no second owner
        assert got.get(timeout=10) == b"show"
    finally:
        t.join(timeout=5)
        old.close()


def test_a_failing_handler_does_not_stop_the_guard() -> None:
    calls: list[str] = []

    def handler(msg: str) -> None:
        calls.append(msg)
        if len(calls) == 1:
            raise RuntimeError("boom")

    server = instance.claim(handler)
    assert server is not None
    try:
        assert instance.notify_running()
        assert instance.notify_running()
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls == ["show", "show"]
    finally:
        server.close()


HOLDER = textwrap.dedent("""
    import queue, sys, time
    from zhenglian import instance
    got = queue.Queue()
    server = instance.claim(got.put)
    print("owner" if server else "woke", flush=True)
    if server:
        deadline = time.monotonic() + float(sys.argv[1])
        n = 0
        while time.monotonic() < deadline:
            try:
                got.get(timeout=0.1)
                n += 1
            except queue.Empty:
                pass
        print(f"shown {n}", flush=True)
""")


def _holder(seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_simultaneous_launches_end_with_one_owner() -> None:
    """Five launches at once (a double double-click): one owner; the others wake it."""
    procs = [_holder(6) for _ in range(5)]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    firsts = [o[0] for o in outs]
    assert firsts.count("owner") == 1, outs
    assert firsts.count("woke") == 4, outs
    owner = outs[firsts.index("owner")]
    assert owner[1:] == ["shown", "4"], owner


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_instance_leaves_nothing_behind() -> None:
    proc = _holder(60)
    assert proc.stdout.readline().strip() == "owner"
    assert instance.notify_running() is True
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    server = _claim(queue.Queue())
    assert server is not None, "the dead instance's endpoint blocks a new start"
    server.close()
