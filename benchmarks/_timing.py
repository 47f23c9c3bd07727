"""The benchmarks' one timing helper: the median wall time of a call, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], rounds: int, *, warm_up: bool = False) -> float:
    """Median of ``rounds`` timed calls of ``fn`` (after one untimed call with ``warm_up``)."""
    if warm_up:
        fn()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000
