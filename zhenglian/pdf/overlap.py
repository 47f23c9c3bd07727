"""Keep the key busy: a batch's documents overlap around the key, never on it.

A USB key takes 100–300 ms for one signature; the client's own work on a
document (fetch, parse, place, hash, write, check, upload) is tens of
milliseconds.  Done one after the other, that work adds straight on top of the
key's time.  :class:`Overlap` runs each document's work in a small pool of
threads, so that while the key signs document *k*, document *k+1* is being
read, placed and hashed and document *k−1* is being written, checked and
handed on.

What does not change, because two turnstiles keep the documents in order:

- **the key** (:meth:`Ticket.enter_key`): one document at a time, in the batch's
  order.  One PKCS#11 session signs one thing at a time; the backend's lock
  already serialises the calls, the turnstile also keeps their order, so
  the key signs documents 1, 2, 3 … exactly as a sequential batch would;
- **publishing** (:meth:`Ticket.publish`): a signed document becomes visible
  (renamed into place, committed to the outbox, entered in the seal-use
  register) in the batch's order, one at a time.

A document leaves both turnstiles when its work ends, whatever happens
(:meth:`Ticket.finish`), so a document that fails early (download refused,
anchor missing) never holds the others up.  :meth:`Overlap.stop` ends the
batch at a document: later documents that have not yet reached the key (or
publishing) raise :class:`Stopped` and leave nothing behind — after a key
failure or the first failure of a local batch, the outputs are exactly those
a sequential batch would have made.  Outcomes are delivered in the batch's
order, on the caller's thread.

The key itself is only ever called on the thread that created the
:class:`Overlap` — the thread that logged in and holds the module's lock for
the session.  A helper thread that reaches the key hands the call to it
(:mod:`zhenglian.keys.owner`), and that thread runs key calls while it waits
for outcomes.

The pool is small (:data:`WORKERS`): one document at the key, two being
prepared (:data:`AHEAD`), one being finished.  Python runs one thread at a time, but the key
waits in C (ctypes releases the GIL) and files and sockets wait in the
kernel, which is where the overlap comes from.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from zhenglian.keys.owner import KEY_THREAD
from zhenglian.pdf.preload import pdf_stack

log = logging.getLogger(__name__)

WORKERS = 4  # threads: one waiting at the key, two being prepared, one being finished
AHEAD = 2  # documents prepared ahead of the one at the key
SWITCH_INTERVAL_S = 0.0005  # sys.setswitchinterval while the key works (see Overlap._run_key_call)
_IDLE_SWITCH_S = sys.getswitchinterval()  # Python's own (5 ms), restored after each key call
T = TypeVar("T")
R = TypeVar("R")


class Stopped(Exception):  # noqa: N818 - a state, not a failure of this document
    """The batch was stopped before this document reached the key (or publishing)."""


class Turnstile:
    """Documents pass one at a time, in their index order; ``leave`` may come without ``enter``."""

    def __init__(self, name: str, cancel: threading.Event | None = None) -> None:
        self.name = name
        self.cancel = cancel  # once set, nobody enters any more (the one inside finishes)
        self._cond = threading.Condition()
        self._next = 0  # the lowest index not yet done
        self._done: set[int] = set()
        self._stop_after: int | None = None

    def enter(self, index: int) -> None:
        """Wait for ``index``'s turn; :class:`Stopped` if the batch stopped before it."""
        with self._cond:
            while True:
                if self._stop_after is not None and index > self._stop_after:
                    raise Stopped(self.name)
                if self.cancel is not None and self.cancel.is_set():
                    raise Stopped(self.name)
                if self._next >= index:
                    return
                # A cancel is an Event set from anywhere, without our condition: look again now and then.
                self._cond.wait(None if self.cancel is None else 0.2)

    def try_enter(self, index: int) -> bool:
        """Without waiting: True if it is ``index``'s turn; :class:`Stopped` as :meth:`enter`."""
        with self._cond:
            if self._stop_after is not None and index > self._stop_after:
                raise Stopped(self.name)
            if self.cancel is not None and self.cancel.is_set():
                raise Stopped(self.name)
            return self._next >= index

    def leave(self, index: int) -> None:
        """``index`` is done here (idempotent): the next one may pass."""
        with self._cond:
            if index < self._next or index in self._done:
                return
            self._done.add(index)
            while self._next in self._done:
                self._done.discard(self._next)
                self._next += 1
            self._cond.notify_all()

    def stop_after(self, index: int) -> None:
        """No document after ``index`` passes any more (the earliest stop wins)."""
        with self._cond:
            if self._stop_after is None or index < self._stop_after:
                self._stop_after = index
            self._cond.notify_all()

    @property
    def position(self) -> int:
        """The index whose turn it is (or who is inside)."""
        with self._cond:
            return self._next


class Ticket:
    """One document's place in the batch."""

    def __init__(self, index: int, key: Turnstile, publisher: Turnstile,
                 owner: Callable[[Callable[[], Any]], Any] | None = None,
                 submit_key: Callable[[Ticket, Callable[[], Any]], Any] | None = None) -> None:
        self.index = index
        self._key = key
        self._publisher = publisher
        self._in_key = False
        self._owner = owner
        self._submit_key = submit_key
        # Called once, at the key, right after this document's last signature (the batch
        # reports "signed" there: what the operator sees is what the key has done).
        self.after_key: Callable[[], None] | None = None
        # The signer sets this before the document's last signature: once the key has
        # made it, the next document may use the key (a document with several seals
        # keeps the key from its first signature to its last).
        self.final_key_call = True

    def key_call(self, fn: Callable[[], R]) -> R:
        """One call to the key for this document: in its turn, on the session's thread.

        The turn is taken at the call itself, so everything before (hashing, the
        signed attributes) and after (the CMS, writing it) overlaps with the key's
        work for the neighbours.  In a pipelined batch the session's thread queues
        the calls and runs each as soon as its turn comes, so the key goes from one
        document's signature to the next without waiting for any other thread.
        On failure the turn is kept until the batch has decided whether to stop
        (:meth:`Overlap._run`).
        """
        if self._submit_key is not None:
            result: R = self._submit_key(self, fn)
            return result
        self.enter_key()
        result = fn()
        if self.final_key_call:
            self.leave_key()
        return result

    def on_owner(self, fn: Callable[[], R]) -> R:
        """``fn()`` on the thread that holds the key session (a server re-login signs with the key)."""
        if self._owner is None:
            return fn()
        result: R = self._owner(fn)
        return result

    def enter_key(self) -> None:
        """Wait for this document's turn at the key (again for a second seal: no-op)."""
        if not self._in_key:
            self._key.enter(self.index)
            self._in_key = True

    def leave_key(self) -> None:
        """This document is done with the key: the next one may sign."""
        if self._in_key and self.after_key is not None:
            hook, self.after_key = self.after_key, None
            try:
                hook()
            except Exception:  # noqa: BLE001 - a report must not break signing
                log.exception("after-key hook failed")
        self._key.leave(self.index)

    @contextlib.contextmanager
    def publish(self) -> Iterator[None]:
        """Publishing this document (rename, outbox, register), in the batch's order."""
        self._publisher.enter(self.index)
        try:
            yield
        finally:
            self._publisher.leave(self.index)

    def finish(self) -> None:
        self._key.leave(self.index)
        self._publisher.leave(self.index)


class SoloTicket(Ticket):
    """A document signed alone: every turn is its own at once."""

    def __init__(self) -> None:
        super().__init__(0, Turnstile("key"), Turnstile("publish"))


@dataclass
class Outcome(Generic[T, R]):
    """What became of one item: ``result`` or ``error`` (:class:`Stopped` if it was not reached)."""

    index: int
    item: T
    result: R | None = None
    error: BaseException | None = None

    @property
    def stopped(self) -> bool:
        return isinstance(self.error, Stopped)


class Overlap(Generic[T, R]):
    """Run ``work(item, ticket)`` for every item on a few threads; outcomes come back in order.

    ``stops(error)`` says whether an item's error ends the batch (a key failure;
    for local files, any failure).  ``cancel``: once set, no document goes to the
    key any more (the one there finishes and is published).
    Use as a context manager: leaving it stops what has not started and waits
    for every thread, so the key session can be closed safely afterwards.
    """

    def __init__(self, work: Callable[[T, Ticket], R], *, stops: Callable[[BaseException], bool] = lambda e: True,
                 workers: int = WORKERS, cancel: threading.Event | None = None) -> None:
        pdf_stack()  # imported and asn1crypto's tables built here, before workers race to do it
        self.work = work
        self.stops = stops
        self.workers = max(1, workers)
        self.key = Turnstile("key", cancel)
        self.publisher = Turnstile("publish")
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="zhenglian-overlap")
        self._pending: deque[tuple[int, T, Future[R]]] = deque()
        self._all: list[Future[R]] = []
        self._count = 0
        self._owner = threading.get_ident()  # holds the key session: the only thread that calls the key
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._key_calls: list[tuple[Ticket, Callable[[], Any], Future[Any]]] = []  # waiting for their turn
        # Until the first document asks for the key (or one ends), it is prepared alone: run
        # side by side, the first documents share Python's lock and the key waits three times
        # as long for its first call (≈ 60 ms with a 150 ms key); the next ones start as it goes in.
        self._ramped = False
        # taken at import, not now: another batch may be at its key at this moment
        self._idle_switch = _IDLE_SWITCH_S
        self._key_switch = min(_IDLE_SWITCH_S, SWITCH_INTERVAL_S)

    # --- the owner thread runs the key calls -----------------------------------

    def on_owner(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the owner thread and wait for its result (there: run it now)."""
        if threading.get_ident() == self._owner:
            return fn()
        fut: Future[Any] = Future()
        self._inbox.put((fn, fut))
        return fut.result()

    def _submit_key(self, ticket: Ticket, fn: Callable[[], Any]) -> Any:
        """From a pool thread: queue a key call for the owner, wait for its result."""
        fut: Future[Any] = Future()
        self._inbox.put(("key", ticket, fn, fut))
        return fut.result()

    @staticmethod
    def _call(fn: Callable[[], Any], fut: Future[Any]) -> None:
        try:
            fut.set_result(fn())
        except Exception as exc:  # noqa: BLE001 - the calling thread raises it
            fut.set_exception(exc)
        except BaseException as exc:  # Ctrl-C while the key works: both sides stop
            fut.set_exception(exc)
            raise

    def _run_key_call(self) -> bool:
        """Run the queued key call whose turn has come, if any (calls go in turn order)."""
        for entry in sorted(self._key_calls, key=lambda e: e[0].index):
            ticket, fn, fut = entry
            try:
                ready = ticket._in_key or self.key.try_enter(ticket.index)
            except Stopped as exc:
                self._key_calls.remove(entry)
                fut.set_exception(exc)
                return True
            if not ready:
                return False  # the first in order must wait: so must every later one
            self._key_calls.remove(entry)
            ticket._in_key = True
            # While the key works, pool threads hash and build; when it returns this thread
            # needs Python's lock back from one of them, and by default waits up to 5 ms for
            # it, every signature.  The short switch interval is set for the key's call only:
            # kept for the whole batch it made the pool threads hand the lock round every
            # 0.5 ms, which with a fast key (a soft token) cost more than the key itself.
            sys.setswitchinterval(self._key_switch)
            try:
                try:
                    result = fn()
                finally:
                    sys.setswitchinterval(self._idle_switch)
            except Exception as exc:  # noqa: BLE001 - the document's thread raises it; the turn stays
                fut.set_exception(exc)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
            else:
                if ticket.final_key_call:
                    ticket.leave_key()  # before its thread wakes: the next call can go at once
                fut.set_result(result)
            return True
        return False

    def _serve_until(self, done: Callable[[], bool], refill: Callable[[], None] | None = None) -> None:
        """On the owner thread: run handed-over calls (key calls in turn) until ``done()``.

        ``refill`` starts new items as running ones finish, also while this thread
        is busy at the key: the next documents must be ready when the key is.
        """
        while True:
            if refill is not None:
                refill()
            ran = self._run_key_call()
            if done():
                return
            if ran:
                continue
            item = self._inbox.get()
            if item is None:
                continue  # a thread finished (its turns opened): look again
            if item[0] == "key":
                self._key_calls.append(item[1:])
                self._ramped = True  # refilled at the top of the loop, before this call runs
                continue
            fn, fut = item
            if fut.set_running_or_notify_cancel():
                self._call(fn, fut)

    def _submit(self, index: int, item: T) -> Future[R]:
        fut = self._pool.submit(self._run, index, item)
        fut.add_done_callback(self._item_done)
        self._all.append(fut)
        return fut

    def _item_done(self, _fut: Future[R]) -> None:
        self._ramped = True
        self._inbox.put(None)

    def _run(self, index: int, item: T) -> R:
        ticket = Ticket(index, self.key, self.publisher, self.on_owner, self._submit_key)
        KEY_THREAD.set(ticket.key_call)  # this pool thread's key calls: in turn, on the owner thread
        try:
            return self.work(item, ticket)
        except BaseException as exc:
            if not isinstance(exc, Stopped) and self.stops(exc):
                self.stop_after(index)  # before this ticket's turns open for the next document
            raise
        finally:
            ticket.finish()

    def stop_after(self, index: int) -> None:
        self.key.stop_after(index)
        self.publisher.stop_after(index)

    def stop(self) -> None:
        """Cancel: the document at the key now finishes; none after it is signed."""
        self.stop_after(self.key.position)

    def map(self, items: Iterable[T], *, ahead: int | None = None,
            keep_going: Callable[[], bool] = lambda: True) -> Iterator[Outcome[T, R]]:
        """Outcomes of ``items`` in order; ``ahead`` (default :data:`AHEAD`) being prepared for the key.

        ``keep_going()`` is asked before each new item is started; when it says no,
        the batch stops (as :meth:`stop`) and the items not started are not yielded.
        """
        limit = max(1, ahead or AHEAD)
        source = iter(items)
        exhausted = False

        def refill() -> None:
            # ``limit`` items on their way to the key (not yet at it) and at most two pools'
            # worth unfinished (a submission waits for a free thread); finished ones wait, in order, to be yielded.  Asked before
            # every key call, so the next documents are being prepared while the key works.
            nonlocal exhausted
            while not exhausted:
                at = self.key.position
                unfinished = [i for i, _t, f in self._pending if not f.done()]
                if len(unfinished) >= 2 * self.workers or sum(1 for i in unfinished if i > at) >= limit:
                    return
                if not self._ramped and unfinished:
                    return  # the first document alone until it reaches the key (see __init__)
                if not keep_going():
                    self.stop()
                    exhausted = True
                    return
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    return
                index = self._count
                self._count += 1
                self._pending.append((index, item, self._submit(index, item)))

        while True:
            refill()
            if not self._pending:
                return
            index, item, fut = self._pending[0]
            self._serve_until(fut.done, refill)
            self._pending.popleft()
            exc = fut.exception()
            yield Outcome(index, item, error=exc) if exc is not None else Outcome(index, item, result=fut.result())

    def close(self) -> None:
        """Stop what is not at the key yet and wait for every thread (serving their key calls)."""
        if any(not f.done() for f in self._all):
            self.stop()
            self._serve_until(lambda: all(f.done() for f in self._all))
        self._pool.shutdown(wait=True, cancel_futures=False)
        self._pending.clear()
    def __enter__(self) -> Overlap[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["WORKERS", "Outcome", "Overlap", "SoloTicket", "Stopped", "Ticket", "Turnstile"]
