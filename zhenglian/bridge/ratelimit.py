"""Token buckets: a bounded number of requests per second, with a short burst.

The bridge is reachable by every page the browser opens (they are refused,
but they still cost a thread); the buckets keep a misbehaving page from
keeping the client busy or flooding the user with dialogs.

:class:`OriginBuckets` gives each allowed origin a bucket of its own, and
puts every other origin (foreign pages, ``null``, malformed) in one shared
bucket and requests without ``Origin`` (local programs, the address bar) in
another, so no page the browser opens can spend the signing page's budget.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

FOREIGN = "(foreign)"  # every origin that is not allowed, together
NO_ORIGIN = "(none)"  # requests without an Origin header
MAX_KEYS = 64  # allowed origins come from the settings: bounded, but the settings may change


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """One token if there is one (True), else False; never waits."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class OriginBuckets:
    """One :class:`TokenBucket` per key (an allowed origin, :data:`FOREIGN` or :data:`NO_ORIGIN`).

    The caller maps every origin that is not allowed to :data:`FOREIGN`, so
    the number of keys stays bounded by the allow-list; the least recently
    used keys beyond :data:`MAX_KEYS` are dropped (a settings change).
    """

    def __init__(self, rate_per_s: float, burst: int, *, foreign_rate_per_s: float | None = None,
                 foreign_burst: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = float(rate_per_s), int(burst)
        self.foreign_rate = float(foreign_rate_per_s if foreign_rate_per_s is not None else rate_per_s)
        self.foreign_burst = int(foreign_burst if foreign_burst is not None else burst)
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def bucket(self, key: str) -> TokenBucket:
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if key in (FOREIGN, NO_ORIGIN):
                    b = TokenBucket(self.foreign_rate, self.foreign_burst, self._clock)
                else:
                    b = TokenBucket(self.rate, self.burst, self._clock)
                self._buckets[key] = b
                while len(self._buckets) > MAX_KEYS:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return b

    def take(self, key: str) -> bool:
        return self.bucket(key).take()
