"""zhenglian.memo.BoundedMemo: bounded, least recently used out first, thread-safe."""

from __future__ import annotations

import threading

from zhenglian.memo import BoundedMemo


def test_least_recently_used_goes_first() -> None:
    memo = BoundedMemo(2)
    memo.put(b"a", 1)
    memo.put(b"b", 2)
    assert memo.get(b"a") == 1  # a is now the most recent
    memo.put(b"c", 3)
    assert memo.get(b"b") is None and memo.get(b"a") == 1 and memo.get(b"c") == 3 and len(memo) == 2


def test_default_and_falsy_values() -> None:
    memo = BoundedMemo(4)
    missing = object()
    assert memo.get(b"x", missing) is missing
    memo.put(b"x", "")
    assert memo.get(b"x", missing) == ""


def test_many_threads_never_exceed_the_bound() -> None:
    memo = BoundedMemo(16)
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        for i in range(500):
            memo.put((n, i), i)
            memo.get((n, i - 1))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(memo) == 16
