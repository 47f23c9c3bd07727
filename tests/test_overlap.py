"""The pipelined batch's order and stop rules (zhenglian.pdf.overlap), without a key.

Every test waits on events, never on time: a "slow key" here is a call that
blocks until the test lets it go, so the overlap is proven by what has
happened while the key is busy, not by a stopwatch.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from zhenglian.keys.owner import on_key_thread
from zhenglian.pdf.overlap import Overlap, SoloTicket, Stopped, Ticket, Turnstile

WAIT = 30  # seconds: only a broken pipeline ever waits this long


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, int]] = []

    def add(self, what: str, i: int) -> None:
        with self.lock:
            self.events.append((what, i))

    def of(self, what: str) -> list[int]:
        with self.lock:
            return [i for w, i in self.events if w == what]


def test_turnstile_passes_in_order_and_leave_without_enter_opens_it() -> None:
    t = Turnstile("key")
    assert t.try_enter(0) and not t.try_enter(1)
    t.leave(1)  # 1 finished early (never needed the key): it must not hold up 2 once 0 is done
    assert not t.try_enter(2)
    t.leave(0)
    assert t.try_enter(2) and t.position == 2
    t.stop_after(2)
    with pytest.raises(Stopped):
        t.enter(3)
    t.enter(2)  # the one at the stop still passes


def test_key_calls_run_on_the_owner_thread_in_order_while_others_prepare() -> None:
    """Item k+1 is prepared while item k is at the key; the key sees 0, 1, 2 … on one thread."""
    rec = Recorder()
    owner = threading.get_ident()
    key_threads: set[int] = set()
    at_key = [threading.Event() for _ in range(6)]
    release = [threading.Event() for _ in range(6)]
    prepared = [threading.Event() for _ in range(6)]

    def work(i: int, ticket: Ticket) -> int:
        rec.add("prepared", i)
        prepared[i].set()

        def key() -> int:
            key_threads.add(threading.get_ident())
            rec.add("key", i)
            at_key[i].set()
            assert release[i].wait(WAIT)  # the slow key
            return i * 10

        signature = on_key_thread(key)
        rec.add("written", i)
        return signature

    def driver() -> None:  # plays the key's time: lets item i go once item i+1 is prepared
        for i in range(6):
            assert at_key[i].wait(WAIT)
            if i + 1 < 6:
                assert prepared[i + 1].wait(WAIT)
            release[i].set()

    threading.Thread(target=driver, daemon=True).start()
    with Overlap(work, workers=3) as ov:
        outcomes = list(ov.map(range(6)))
    assert [o.result for o in outcomes] == [0, 10, 20, 30, 40, 50]
    assert rec.of("key") == [0, 1, 2, 3, 4, 5]
    assert key_threads == {owner}


def test_first_failure_stops_later_items_before_the_key_and_before_publishing() -> None:
    rec = Recorder()

    def work(i: int, ticket: Ticket) -> int:
        if i == 2:
            raise ValueError("document 2 is broken")
        on_key_thread(lambda: rec.add("key", i))
        with ticket.publish():
            rec.add("published", i)
        return i

    with Overlap(work, workers=3) as ov:
        outcomes = list(ov.map(range(6)))
    assert [o.result for o in outcomes[:2]] == [0, 1]
    assert isinstance(outcomes[2].error, ValueError)
    assert all(o.stopped for o in outcomes[3:]), [o.error for o in outcomes]
    assert rec.of("key") == [0, 1] and rec.of("published") == [0, 1]


def test_an_error_that_does_not_stop_lets_the_others_through() -> None:
    def work(i: int, ticket: Ticket) -> int:
        if i == 1:
            raise KeyError("one task refused")
        return on_key_thread(lambda: i)

    with Overlap(work, stops=lambda e: not isinstance(e, KeyError), workers=2) as ov:
        outcomes = list(ov.map(range(4)))
    assert [o.result for o in outcomes] == [0, None, 2, 3]
    assert isinstance(outcomes[1].error, KeyError)


def test_cancel_lets_the_item_at_the_key_finish_and_stops_the_rest() -> None:
    cancel = threading.Event()
    rec = Recorder()

    def work(i: int, ticket: Ticket) -> int:
        def key() -> int:
            rec.add("key", i)
            if i == 1:
                cancel.set()  # the operator cancels while document 1 is being signed
            return i

        result = on_key_thread(key)
        with ticket.publish():
            rec.add("published", i)
        return result

    with Overlap(work, workers=3, cancel=cancel) as ov:
        outcomes = list(ov.map(range(8), keep_going=lambda: not cancel.is_set()))
    assert rec.of("key") == [0, 1]
    assert rec.of("published") == [0, 1]
    assert [o.result for o in outcomes[:2]] == [0, 1]
    assert all(o.stopped for o in outcomes[2:])


def test_after_key_hook_runs_before_the_next_item_reaches_the_key() -> None:
    rec = Recorder()

    def work(i: int, ticket: Ticket) -> int:
        ticket.after_key = lambda: rec.add("signed", i)
        on_key_thread(lambda: rec.add("key", i))
        return i

    with Overlap(work, workers=3) as ov:
        list(ov.map(range(5)))
    with rec.lock:
        seq = [w for w, _ in rec.events]
    assert seq == ["key", "signed"] * 5
    assert rec.of("signed") == [0, 1, 2, 3, 4]


def test_a_document_with_several_signatures_keeps_the_key_until_its_last() -> None:
    rec = Recorder()

    def work(i: int, ticket: Ticket) -> int:
        for n in range(3):
            ticket.final_key_call = n == 2
            on_key_thread(lambda n=n: rec.add("key", i * 10 + n))
        return i

    with Overlap(work, workers=3) as ov:
        list(ov.map(range(3)))
    assert rec.of("key") == [0, 1, 2, 10, 11, 12, 20, 21, 22]


def test_key_failure_keeps_the_turn_so_nothing_after_it_reaches_the_key() -> None:
    rec = Recorder()

    class Removed(Exception):
        pass

    def work(i: int, ticket: Ticket) -> int:
        def key() -> int:
            rec.add("key", i)
            if i == 1:
                raise Removed()
            return i

        return on_key_thread(key)

    with Overlap(work, stops=lambda e: isinstance(e, Removed), workers=3) as ov:
        outcomes = list(ov.map(range(5)))
    assert rec.of("key") == [0, 1]
    assert isinstance(outcomes[1].error, Removed)
    assert all(o.stopped for o in outcomes[2:])


def test_owner_calls_and_leaving_early_close_all_threads() -> None:
    """Leaving the batch (an exception in the consumer) stops it and waits for the threads."""
    started = threading.Event()

    def work(i: int, ticket: Ticket) -> Any:
        started.set()
        return ticket.on_owner(lambda: threading.get_ident())

    ov = Overlap(work, workers=2)
    with pytest.raises(RuntimeError), ov:
        for outcome in ov.map(range(10)):
            assert outcome.result == threading.get_ident()
            raise RuntimeError("the consumer gives up")
    assert started.is_set()
    assert ov._pool._shutdown  # every thread joined


def test_solo_ticket_needs_no_pool() -> None:
    t = SoloTicket()
    assert t.key_call(lambda: 7) == 7
    with t.publish():
        pass
    t.finish()


def test_the_first_item_is_prepared_alone_and_the_next_start_while_it_is_at_the_key() -> None:
    started: list[int] = []
    second_started = threading.Event()

    def work(i: int, ticket: Ticket) -> int:
        started.append(i)
        if i == 1:
            second_started.set()
        if i == 0:
            assert started == [0]  # nothing else shares the CPU with the first document

            def key() -> int:  # the key waits here until the next document is on its way
                assert second_started.wait(WAIT)
                return 0

            return int(on_key_thread(key))
        return int(on_key_thread(lambda: i))

    with Overlap(work, workers=3) as ov:
        outcomes = list(ov.map(range(4)))
    assert [o.result for o in outcomes] == [0, 1, 2, 3]
