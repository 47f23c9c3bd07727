""""Keep the PIN for this batch": in memory only, wiped early and for sure.

When the operator signs a batch of documents, asking for the PIN for each
one is both tiresome and, with a key that logs out between documents,
unavoidable.  The operator may therefore tick "keep the PIN for this batch".
The PIN then lives here, and only here:

- in memory, in a :class:`~zhenglian.tokens.secret.PinBuffer` (never a
  string, never disk, keyring, log or clipboard);
- until the batch ends (:meth:`PinCache.forget` / :meth:`PinCache.batch`),
  the key is removed (:meth:`PinCache.on_key_event`, a KeyWatcher
  listener), the PIN is changed or turns out wrong, or the cache sat idle
  for ``idle_s`` seconds (``settings.pin_cache_idle_s``) — whichever comes
  first.  Idle expiry runs in a timer thread, so the PIN is wiped even when
  nobody asks for it again; every read also checks the deadline.

Qt-free and thread-safe: the tray app calls it from worker threads and the
watcher thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from zhenglian.tokens.secret import PinBuffer


@dataclass
class _Entry:
    pin: PinBuffer
    deadline: float


def _serial(key: Any) -> str:
    """A key serial from a serial string or anything with a ``serial`` (KeyInfo)."""
    return key if isinstance(key, str) else str(key.serial)


class PinCache:
    def __init__(self, idle_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = float(idle_s)
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- the PIN ------------------------------------------------------------

    def put(self, key: Any, pin: PinBuffer) -> None:
        """Keep a copy of ``pin`` for this key (the caller still wipes its own)."""
        if self.idle_s <= 0 or self._closed:
            return
        serial = _serial(key)
        with self._cond:
            old = self._entries.pop(serial, None)
            if old is not None:
                old.pin.wipe()
            self._entries[serial] = _Entry(pin.copy(), self._clock() + self.idle_s)
            self._ensure_timer()
            self._cond.notify_all()

    def get(self, key: Any) -> PinBuffer | None:
        """A fresh copy of the kept PIN (the caller wipes it), or None.  Restarts the idle time."""
        serial = _serial(key)
        with self._cond:
            self._expire_locked()
            entry = self._entries.get(serial)
            if entry is None:
                return None
            entry.deadline = self._clock() + self.idle_s
            self._cond.notify_all()
            return entry.pin.copy()

    def has(self, key: Any) -> bool:
        with self._cond:
            self._expire_locked()
            return _serial(key) in self._entries

    def forget(self, key: Any) -> None:
        """Wipe the PIN kept for this key (batch over, PIN wrong or changed, key removed)."""
        with self._cond:
            entry = self._entries.pop(_serial(key), None)
            if entry is not None:
                entry.pin.wipe()
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            for entry in self._entries.values():
                entry.pin.wipe()
            self._entries.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            self._expire_locked()
            return len(self._entries)

    @contextmanager
    def batch(self, key: Any) -> Iterator[PinCache]:
        """``with cache.batch(key):`` — whatever was kept for the key is wiped at the end."""
        try:
            yield self
        finally:
            self.forget(key)

    # --- hooks --------------------------------------------------------------

    def on_key_event(self, event: Any) -> None:
        """KeyWatcher listener: a removed key's PIN is wiped at once."""
        if getattr(event, "kind", None) == "removed" and getattr(event, "key", None) is not None:
            self.forget(event.key)

    def close(self) -> None:
        """Wipe everything and stop the timer thread (application exit)."""
        with self._cond:
            self._closed = True
        self.clear()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    # --- idle expiry ----------------------------------------------------------

    def _expire_locked(self) -> None:
        now = self._clock()
        for serial in [s for s, e in self._entries.items() if e.deadline <= now]:
            self._entries.pop(serial).pin.wipe()

    def _ensure_timer(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="zhenglian-pin-cache", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while not self._closed and self._entries:
                self._expire_locked()
                if not self._entries:
                    break
                wait = min(e.deadline for e in self._entries.values()) - self._clock()
                self._cond.wait(timeout=max(wait, 0.01))
            self._thread = None
