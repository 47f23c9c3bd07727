"""One retry schedule for everything that waits before trying again (server calls, uploads, sync).

Exponential: ``first``, then doubled each time up to ``maximum``; ``reset()`` after a success.
With ``jitter`` each wait is spread ±25 % so that many clients do not retry in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    first: float
    maximum: float
    jitter: bool = False
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def next(self) -> float:
        """The wait before the next try (and doubles the one after it)."""
        wait, self._next = self._next, min(self.maximum, self._next * 2)
        return wait * (0.75 + random.random() / 2) if self.jitter else wait

    def reset(self) -> None:
        self._next = self.first
