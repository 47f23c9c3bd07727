"""What a task batch needs from the server, fetched ahead of the documents' turn.

Two waits used to sit in front of the key:

- a USB key takes about 0.3 s to log in (``C_Login``), and only then did the batch
  ask the server for its seals and its first documents;
- each task's fetch and download ran inside the task's own work, two documents
  ahead of the key: while the server was busy checking the last upload (tens of
  ms), both documents being prepared waited for it and the key with them.

:class:`Prefetch` asks for the task list (when the batch was given none), the
server's seals, and then the tasks and their documents in the batch's order, on
a thread of its own: started while the key checks the PIN when a server token is
already held, else right after the batch's server login. It stays at most
:data:`WINDOW` documents and :data:`MAX_BYTES` bytes ahead of what the batch has
taken, so memory stays bounded and a task is fetched well under a second before
its turn.

Nothing here touches the key or the PIN, and nothing is decided here: each
answer is used exactly as the batch's own call would have used it (the download
is hash-checked by :meth:`ServerClient.download` as always; a task found already
waiting in the outbox is not fetched; a task the server says is not pending is
left for the batch to fetch again and report). Any failure (token expired,
server down) stops the prefetching and only means the batch makes the calls
itself, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from zhenglian import errors
from zhenglian.server.models import Task

log = logging.getLogger(__name__)

WINDOW = 6  # documents fetched ahead of the batch's takes
MAX_BYTES = 64 * 1024 * 1024  # documents held here, not yet taken (one larger document is still fetched alone)

Fetched = tuple[Task, bytes] | None


class Prefetch:
    """Server answers fetched on a helper thread; each is taken at most once."""

    def __init__(self, client: Any, outbox: Any, task_ids: Sequence[str] | None, *,
                 window: int = WINDOW, max_bytes: int = MAX_BYTES) -> None:
        self.client = client
        self.outbox = outbox
        self.window = max(1, window)
        self.max_bytes = max(0, max_bytes)
        self._given = list(dict.fromkeys(task_ids)) if task_ids is not None else None
        self._ids: Future[list[str] | None] = Future()
        self._seals: Future[list[Any] | None] = Future()
        self._docs: dict[str, Future[Fetched]] = {}  # not yet taken
        self._order: list[tuple[str, Future[Fetched]]] = []  # every task, in the batch's order
        self._cond = threading.Condition()
        self._index: dict[str, int] = {}
        self._reach = -1  # the furthest document the batch has asked for
        self._held = 0  # bytes fetched and not yet taken
        self._stopped = False
        self._started = False
        self._thread = threading.Thread(target=self._run, name="zhenglian-prefetch", daemon=True)
        if self._given is not None:
            self._expect(self._given)

    def start(self) -> Prefetch:
        """Start fetching (again: no-op)."""
        with self._cond:
            if not self._started:
                self._started = True
                self._thread.start()
        return self

    # --- the helper thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._given is not None:
                ids = self._given
            else:
                ids = list(dict.fromkeys(t.id for t in self.client.tasks().tasks))
                self._expect(ids)  # before the list is handed over: the batch's take() waits for these
            self._ids.set_result(ids)
            try:
                self._seals.set_result(list(self.client.seals()))
            except errors.AuthRequired:
                raise
            except errors.ZhenglianError as exc:  # the batch asks again (and may use the key's own seals)
                log.debug("prefetch: seals not fetched: %s", exc.code)
                self._seals.set_result(None)
            for index, (tid, fut) in enumerate(self._order):
                if not self._wait_for_room(index):
                    return
                fetched = self._document(tid)
                with self._cond:
                    if not fut.done():
                        if fetched is not None:
                            self._held += len(fetched[1])
                        fut.set_result(fetched)
        except errors.ZhenglianError as exc:  # token expired, server down …: the batch asks itself
            log.debug("prefetch stopped: %s", exc.code)
        except Exception:  # noqa: BLE001 - a helper must never break the batch
            log.debug("prefetch failed", exc_info=True)
        finally:
            with self._cond:
                for fut in (self._ids, self._seals, *(f for _tid, f in self._order)):
                    if not fut.done():
                        fut.set_result(None)  # "not fetched": the batch makes the call itself

    def _wait_for_room(self, index: int) -> bool:
        """Wait until document ``index`` is within the window (False: stop fetching).

        A document the batch already asks for is fetched whatever is held: ``take`` never
        waits on the byte bound (held bytes ≤ MAX_BYTES + the documents being asked for)."""
        with self._cond:
            while not self._stopped and index > self._reach and (
                    index - max(self._reach, 0) >= self.window or (self._held >= self.max_bytes and self._held > 0)):
                self._cond.wait()
            return not self._stopped

    def _expect(self, ids: Sequence[str]) -> None:
        with self._cond:
            for tid in ids:
                fut: Future[Fetched] = Future()
                self._index[tid] = len(self._order)
                self._docs[tid] = fut
                self._order.append((tid, fut))

    def _document(self, tid: str) -> Fetched:
        if self.outbox.find(self.client.origin, tid) is not None:
            return None  # signed earlier and waiting: the batch hands that file on, nothing to fetch
        task = self.client.task(tid)
        if task.status != "pending":
            return None  # the batch fetches it again and reports it skipped
        return task, self.client.download(task)

    # --- the batch's side --------------------------------------------------------

    def task_ids(self) -> list[str] | None:
        """The task list (when the batch was given none), or None: ask the server."""
        return self._ids.result()

    def seals(self) -> list[Any] | None:
        """The server's seals, or None: ask the server."""
        return self._seals.result()

    def take(self, tid: str) -> Fetched:
        """(task, original document) for ``tid``; None: fetch it yourself.

        Waits while the thread fetches it (and any before it not fetched yet), each call
        within the client's deadline; a failure there answers None.
        """
        with self._cond:
            fut = self._docs.pop(tid, None)
            if fut is None or not self._started:
                return None
            self._reach = max(self._reach, self._index.get(tid, -1))
            self._cond.notify_all()
        fetched = fut.result()
        with self._cond:
            if fetched is not None:
                self._held -= len(fetched[1])
            self._cond.notify_all()
        return fetched

    def discard(self) -> None:
        """The batch wants nothing more from here: the thread stops after its current call (not waited for)."""
        with self._cond:
            self._stopped = True
            for fut in self._docs.values():
                if not fut.done():
                    fut.set_result(None)
            self._docs.clear()
            self._held = 0
            self._cond.notify_all()


__all__ = ["MAX_BYTES", "WINDOW", "Prefetch"]
