"""Hot-plug of SKF keys through SKF_WaitForDevEvent (skfsoft), and the polling fallback.

The watcher's interval and backstop are set far beyond the test's life, so a key seen promptly
was seen because the library's wait woke the watcher; every event says which path saw it.
Waits are on the event queue (a failing test gives up after a generous timeout), never sleeps.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.skf import SkfOnly

from zhenglian import errors
from zhenglian.reference import skfsoft
from zhenglian.tokens.skf.backend import _Shared
from zhenglian.tokens.skf.library import SkfLibrary
from zhenglian.tokens.watcher import KeyEvent, KeyWatcher

NEVER = 3600.0  # no polling round comes by itself while a test runs
PATIENCE = 120.0  # a loaded CI machine; a passing test waits only for the event


@pytest.fixture(autouse=True)
def fresh_hubs() -> Iterator[None]:
    """A hub that gave up stays given up for its process: each test starts with none."""
    yield
    for shared in list(_Shared._all.values()):
        shared.events = None


def _next(events: queue.Queue[KeyEvent], serial: str) -> KeyEvent:
    while True:
        ev = events.get(timeout=PATIENCE)
        if ev.key is not None and ev.key.serial == serial:
            return ev


def test_remove_and_reinsert_seen_through_the_device_event(skf_only: SkfOnly, make_skf_key,
                                                           skf_root: Path) -> None:
    k = make_skf_key()
    events: queue.Queue[KeyEvent] = queue.Queue()
    watcher = KeyWatcher(skf_only.manager(), events.put, interval=NEVER, use_usb=False, event_backstop=NEVER)
    watcher.start()
    try:
        first = _next(events, k.serial)
        assert (first.kind, first.initial, first.via) == ("inserted", True, "poll")  # the first look
        assert watcher.hotplug_modes()[str(skf_only.lib)] == "event"
        skfsoft.unplug(skf_root, k.name)
        gone = _next(events, k.serial)
        assert (gone.kind, gone.via) == ("removed", "event")
        assert not any(key.serial == k.serial for key in watcher.snapshot().keys)
        skfsoft.plug_in(skf_root, k.name)
        back = _next(events, k.serial)
        assert (back.kind, back.via, back.initial) == ("inserted", "event", False)
        assert back.key is not None and back.key.backend == "skf" and back.key.pin_tries_left == 10
    finally:
        # stop() cancels the blocked SKF_WaitForDevEvent and returns once both threads ended.
        assert watcher.stop(timeout=PATIENCE) is True
    assert not any(t.name.startswith("zhenglian-skf-events") for t in threading.enumerate())


def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SkfLibrary, "supports_wait", property(lambda self: False))


def _failing_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """SKF_WaitForDevEvent answering an error: the event path is given up, the key still seen."""
    def broken(self: SkfLibrary) -> None:
        raise errors.SkfError(op="SKF_WaitForDevEvent", sar_code=0x0A000003, sar_zh="不支持",
                              sar_en="not supported", sar_name="SAR_NOTSUPPORTYETERR")

    monkeypatch.setattr(SkfLibrary, "wait_for_event", broken)


@pytest.mark.parametrize("break_wait", [_no_wait, _failing_wait], ids=["library-without-the-wait", "failing-wait"])
def test_without_a_working_wait_the_library_is_polled(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                                      monkeypatch: pytest.MonkeyPatch, break_wait) -> None:  # type: ignore[no-untyped-def]
    break_wait(monkeypatch)
    k = make_skf_key(plug_in=False)
    events: queue.Queue[KeyEvent] = queue.Queue()
    watcher = KeyWatcher(skf_only.manager(), events.put, interval=0.05, use_usb=False, event_backstop=NEVER)
    watcher.start()
    try:
        skfsoft.plug_in(skf_root, k.name)
        ev = _next(events, k.serial)
        assert (ev.kind, ev.via) == ("inserted", "poll")
        assert watcher.hotplug_modes()[str(skf_only.lib)] == "poll"
    finally:
        assert watcher.stop(timeout=PATIENCE) is True


def test_a_wait_that_returns_without_events_is_given_up(skf_lib, make_skf_device, skf_root: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stub that returns at once with no event would spin a core: after a few, the hub gives up."""
    from zhenglian.tokens.skf.events import MAX_EMPTY_RETURNS, DeviceEventHub

    calls = {"n": 0}

    def empty(self: SkfLibrary) -> None:
        calls["n"] += 1

    monkeypatch.setattr(SkfLibrary, "wait_for_event", empty)
    hub = DeviceEventHub(skf_lib)
    failed: queue.Queue[str] = queue.Queue()
    assert hub.subscribe(lambda ev: None, failed.put) is not None
    assert failed.get(timeout=PATIENCE) == "returns without an event"
    assert calls["n"] == MAX_EMPTY_RETURNS and hub.failed and not hub.running
    assert hub.subscribe(lambda ev: None, failed.put) is None  # later watchers poll straight away
