"""Hot-plug: notice keys being inserted and removed.

Most drivers offer no usable ``C_WaitForSlotEvent`` (SoftHSM: not
supported), so PKCS#11 modules are polled: every ``interval`` seconds, per
library, list the present tokens (cheap) and read certificates only for a
key that is new or changed.  A module whose lock is held (a signing session
in use) is skipped for that round, so the watcher never disturbs a session.
USB devices are polled less often, for keys whose driver is missing.

An SKF library that exports ``SKF_WaitForDevEvent`` and
``SKF_CancelWaitForDevEvent`` is watched through them instead
(:mod:`zhenglian.tokens.skf.events`): a thread blocked in the wait wakes the
watcher, which looks at that library at once (events say ``via="event"``);
between events the library is only looked at every ``event_backstop`` seconds
(PIN counts changed by another program) or when asked (:meth:`KeyWatcher.wake`).
When the wait fails, the library is polled like the others.  :meth:`stop`
cancels the wait and returns once the threads ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zhenglian import errors
from zhenglian.tokens import usb
from zhenglian.tokens.manager import Backend, TokenManager
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.snapshot import Snapshot, UnrecognisedKey, unrecognised_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyEvent:
    kind: str  # inserted | removed | changed | unrecognised | unrecognised_gone
    key: KeyInfo | None = None
    unrecognised: UnrecognisedKey | None = None
    at: float = 0.0
    initial: bool = False  # found by the first look, not plugged in while watching
    via: str = "poll"  # "event": the library's SKF_WaitForDevEvent said so; "poll": a polling round saw it

    def describe_zh(self) -> str:
        if self.key is not None:
            verb = {"inserted": "已插入", "removed": "已拔出", "changed": "状态变化"}[self.kind]
            return f"UKey {verb}：{self.key.display_name()}（序列号 {self.key.serial}）"
        assert self.unrecognised is not None
        if self.kind == "unrecognised":
            return self.unrecognised.message_zh()
        return f"未识别的 UKey 已拔出（{self.unrecognised.device.id}）"

    def describe_en(self) -> str:
        if self.key is not None:
            who = self.key.organization() or self.key.label
            return f"Key {self.kind}: {self.key.ca_name_en or 'unknown CA'} · {who} (serial {self.key.serial})"
        assert self.unrecognised is not None
        if self.kind == "unrecognised":
            return self.unrecognised.message_en()
        return f"Unrecognised key removed ({self.unrecognised.device.id})"


Listener = Callable[[KeyEvent], None]


class KeyWatcher:
    def __init__(self, manager: TokenManager, on_event: Listener | None = None,
                 interval: float = 0.5, usb_interval: float = 2.0, use_usb: bool = True,
                 event_backstop: float = 5.0) -> None:
        self.manager = manager
        self.on_event = on_event
        self.interval = interval
        self.usb_interval = usb_interval
        self.use_usb = use_usb
        self._keys: dict[tuple[str, str, str], KeyInfo] = {}
        self._unrecognised: dict[str, UnrecognisedKey] = {}
        self._devices: list[usb.UsbDevice] = []
        self._last_usb = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._stale: set[tuple[str, str, str]] = set()  # keys to read again in full on the next round
        self.primed = False
        # SKF device events: library path -> "event" | "poll", the hubs subscribed to, what woke us
        self.event_backstop = event_backstop
        self._hotplug: dict[str, str] = {}
        self._subs: dict[str, tuple[Any, int]] = {}
        self._triggered: set[str] = set()
        self._wake_all = False
        self._busy: set[str] = set()
        self._last_full = 0.0

    # --- state -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._state_lock:
            return Snapshot(tuple(self._keys.values()), tuple(self._unrecognised.values()), tuple(self._devices))

    # --- polling -----------------------------------------------------------

    def hotplug_modes(self) -> dict[str, str]:
        """Library path -> how its keys' coming and going is noticed: "event" or "poll"."""
        with self._state_lock:
            modes = dict(self._hotplug)
        for module in self.manager.modules:
            modes.setdefault(str(module.path), "poll")
        return modes

    def _poll_module(self, module: Backend) -> list[KeyInfo] | None:
        """Keys of one module now, or None when it is busy (keep what we had)."""
        if not module.lock.acquire(blocking=False):
            self._busy.add(str(module.path))
            return None
        try:
            if not module.refresh():
                return None
            present = module.present_tokens()
            out = []
            for slot_id, token in present:
                facts = module.token_facts(token)
                ident = (str(module.path), str(facts["serial"]), module.kind)
                old = None if ident in self._stale else self._keys.get(ident)
                self._stale.discard(ident)
                if (old is not None and old.slot_id == int(slot_id) and old.label == facts["label"]
                        and old.flags.raw == facts["flags"].raw  # type: ignore[attr-defined]
                        and old.pin_tries_left == facts.get("tries_left")):
                    out.append(old)
                    continue
                key = self.manager.read_key(module, slot_id, token)
                if key is not None:
                    out.append(key)
            return out
        except errors.ZhenglianError as exc:
            log.info("polling %s: %s", module.path, exc.code)
            return None
        finally:
            module.lock.release()

    def poll_once(self, skip: frozenset[str] = frozenset(), via: frozenset[str] = frozenset()) -> list[KeyEvent]:
        """One round: compare what is there now with what was there before.

        Libraries in ``skip`` keep their previous keys this round (watched through device events,
        nothing happened); events for keys of a library in ``via`` are marked ``via="event"``.
        """
        now = time.monotonic()
        events: list[KeyEvent] = []
        if not self.primed:
            self.manager.load_all()
        current: dict[tuple[str, str, str], KeyInfo] = {}
        self._busy = set()
        for module in self.manager.modules:
            if not module.loaded:
                continue
            keys = None if str(module.path) in skip else self._poll_module(module)
            if keys is None:  # busy: carry the previous state of this module
                keys = [k for k in self._keys.values()
                        if k.module_path == str(module.path) and k.backend == module.kind]
            for k in keys:
                current[k.identity] = k
        # A key reachable through a PKCS#11 module and an SKF library is one key.
        current = {k.identity: k for k in self.manager.one_per_key(list(current.values()))}
        def how(key: KeyInfo) -> str:
            return "event" if key.module_path in via else "poll"

        with self._state_lock:
            for ident, key in current.items():
                old = self._keys.get(ident)
                if old is None:
                    events.append(KeyEvent("inserted", key=key, at=now, initial=not self.primed, via=how(key)))
                elif old.fingerprint != key.fingerprint:
                    events.append(KeyEvent("changed", key=key, at=now, via=how(key)))
            for ident, key in self._keys.items():
                if ident not in current:
                    events.append(KeyEvent("removed", key=key, at=now, via=how(key)))
            self._keys = current

        if self.use_usb and (now - self._last_usb >= self.usb_interval or not self.primed):
            self._last_usb = now
            devices = usb.scan()
            unrec = {u.device.id: u for u in unrecognised_keys(self.manager.manifests, list(current.values()), devices)}
            with self._state_lock:
                self._devices = devices
                for uid, u in unrec.items():
                    if uid not in self._unrecognised:
                        events.append(KeyEvent("unrecognised", unrecognised=u, at=now, initial=not self.primed))
                for uid, u in self._unrecognised.items():
                    if uid not in unrec:
                        events.append(KeyEvent("unrecognised_gone", unrecognised=u, at=now))
                self._unrecognised = unrec
        self.primed = True
        return events

    # --- thread ------------------------------------------------------------

    def _emit(self, events: list[KeyEvent]) -> None:
        if self.on_event is None:
            return
        for ev in events:
            try:
                self.on_event(ev)
            except Exception:  # a listener's bug must not kill the watcher
                log.exception("key event listener failed")

    # --- SKF device events ----------------------------------------------------

    def _start_events(self) -> None:
        """Subscribe to the device events of every SKF library that has them (before the first look,
        so nothing plugged in meanwhile is missed)."""
        for module in self.manager.modules:
            path = str(module.path)
            hub = module.device_events() if module.kind == "skf" and module.loaded else None  # type: ignore[union-attr]
            token = None
            if hub is not None:
                token = hub.subscribe(lambda _ev, p=path: self._on_device_event(p),
                                      lambda why, p=path: self._on_events_failed(p, why))
            with self._state_lock:
                # The wait may have failed already, its "poll" reported before we got here: an
                # "event" written now would hide that, and nothing would look for this library's keys.
                if token is not None and hub.failed is None:
                    self._subs[path] = (hub, token)
                    self._hotplug[path] = "event"
                elif module.kind == "skf":
                    self._hotplug[path] = "poll"

    def _on_device_event(self, path: str) -> None:
        with self._state_lock:
            self._triggered.add(path)
        self._wake.set()

    def _on_events_failed(self, path: str, why: str) -> None:
        with self._state_lock:
            self._subs.pop(path, None)
            self._hotplug[path] = "poll"
        self._wake.set()

    def _round(self) -> list[KeyEvent]:
        """One round of the thread: event-watched libraries only when woken, or at the backstop."""
        with self._state_lock:
            triggered, self._triggered = self._triggered, set()
            wake_all, self._wake_all = self._wake_all, False
            watched = {p for p, m in self._hotplug.items() if m == "event"}
        now = time.monotonic()
        skip: frozenset[str] = frozenset()
        if self.primed and not wake_all and now - self._last_full < self.event_backstop:
            skip = frozenset(watched - triggered)
        else:
            self._last_full = now
        events = self.poll_once(skip=skip, via=frozenset(triggered))
        busy = triggered & self._busy
        if busy:  # woken for a library in use: look again next round
            with self._state_lock:
                self._triggered |= busy
        return events

    def _run(self) -> None:
        try:
            self.manager.load_all()  # here, not on the caller's thread: a driver may be slow to load
            self._start_events()
        except Exception:
            log.exception("key watcher start failed")
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a wake during it makes the next one come at once
            try:
                self._emit(self._round())
            except Exception:
                log.exception("key watcher round failed")
            self._wake.wait(self.interval)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="zhenglian-key-watcher", daemon=True)
        self._thread.start()

    def reread(self, identity: tuple[str, str]) -> None:
        """Read this key again in full on the next round (its certificates changed: renewal,
        unlock), then poll now — token flags alone do not show a new certificate."""
        with self._state_lock:
            self._stale.add(identity)
        self.wake()

    def wake(self) -> None:
        """Poll every library now instead of at the end of the interval (the user pressed retry)."""
        with self._state_lock:
            self._wake_all = True
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the thread and cancel the device-event waits; True when every thread ended in time."""
        self._stop.set()
        self._wake.set()
        ended = True
        thread, self._thread = self._thread, None
        if thread is not None:  # first: it may still be subscribing
            thread.join(timeout)
            ended = not thread.is_alive()
        with self._state_lock:
            subs, self._subs = list(self._subs.values()), {}
            self._hotplug.clear()
        for hub, token in subs:
            ended = hub.unsubscribe(token, timeout) and ended
        return ended
