"""Hot-plug: a key created or deleted by another process is noticed within 1 s."""

import json
import queue
import time
from pathlib import Path

from zhenglian.reference import softhsm
from zhenglian.services import Context
from zhenglian.tokens.watcher import KeyEvent, KeyWatcher


def _wait_for(events: "queue.Queue[KeyEvent]", kind: str, label: str, timeout: float) -> float:
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        assert left > 0, f"no {kind} event for {label} within {timeout} s"
        ev = events.get(timeout=left)
        if ev.kind == kind and ev.key is not None and ev.key.label == label:
            return time.monotonic() - start


def test_insert_and_removal_seen_within_one_second(softhsm_conf: Path, demo_keys) -> None:
    events: queue.Queue[KeyEvent] = queue.Queue()
    ctx = Context.create()
    watcher = KeyWatcher(ctx.tokens, events.put, interval=0.25, use_usb=False)
    watcher.start()
    try:
        # The keys already present are reported first.
        _wait_for(events, "inserted", "SZCA-DEMO", 5)
        label = "HOTPLUG-1"
        softhsm.init_token(softhsm_conf, label, "so-pin-1234", "user-pin-1234")  # another process
        seen_in = _wait_for(events, "inserted", label, 1.0)
        assert seen_in < 1.0
        assert any(k.label == label for k in watcher.snapshot().keys)
        softhsm.delete_token(softhsm_conf, label)
        gone_in = _wait_for(events, "removed", label, 1.0)
        assert gone_in < 1.0
        assert not any(k.label == label for k in watcher.snapshot().keys)
    finally:
        watcher.stop()


def test_watcher_never_disturbs_a_session_in_use(softhsm_conf: Path, demo_keys) -> None:
    from pkcs11 import Attribute, ObjectClass

    ctx = Context.create()
    watcher = KeyWatcher(ctx.tokens, None, interval=0.1, use_usb=False)
    watcher.poll_once()
    key = next(k for k in watcher.snapshot().keys if k.label == "NETCA-DEMO")
    module = ctx.tokens.module_for(key)
    label = "HOTPLUG-2"
    with module.session(key.serial) as session:
        before = len(list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})))
        watcher.start()  # runs in its own thread: must skip the busy module
        softhsm.init_token(softhsm_conf, label, "so-pin-1234", "user-pin-1234")
        time.sleep(0.6)
        # Still the same, working session: a re-initialisation would have closed it.
        after = len(list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})))
        assert before == after >= 2
        assert not any(k.label == label for k in watcher.snapshot().keys)  # skipped while busy
    deadline = time.monotonic() + 2
    while not any(k.label == label for k in watcher.snapshot().keys):
        assert time.monotonic() < deadline, "new key not seen after the session closed"
        time.sleep(0.05)
    watcher.stop()
    softhsm.delete_token(softhsm_conf, label)


def test_usb_key_without_driver_raises_event(tmp_path: Path, monkeypatch, demo_keys) -> None:
    sysfs = tmp_path / "sys"
    monkeypatch.setenv("ZHENGLIAN_USB_SYSFS", str(sysfs))
    sysfs.mkdir()
    watcher = KeyWatcher(Context.create().tokens, None, interval=0.1, usb_interval=0)
    assert not [e for e in watcher.poll_once() if e.kind == "unrecognised"]
    dev = sysfs / "3-1"
    dev.mkdir()
    (dev / "idVendor").write_text("096e")
    (dev / "idProduct").write_text("0309")
    events = watcher.poll_once()
    unrec = [e for e in events if e.kind == "unrecognised"]
    assert len(unrec) == 1 and unrec[0].unrecognised.manifest.id == "szca"
    assert unrec[0].describe_zh() == "检测到深圳CA UKey（096E:0309），但未安装驱动"
    for f in dev.iterdir():
        f.unlink()
    dev.rmdir()
    assert [e.kind for e in watcher.poll_once()] == ["unrecognised_gone"]


def test_cli_watch_prints_events(run_cli, demo_keys) -> None:
    r = run_cli("keys", "watch", "--json", "--count", "3", "--interval", "0.1", timeout=30)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 3
    assert {x["event"] for x in lines} == {"inserted"}
    assert all(x["serial"] and x["message_zh"].startswith("UKey 已插入") for x in lines)
