"""What a task batch needs from the server, fetched while the key checks the PIN.

A USB key takes about 0.3 s to log in (``C_Login``), and until now the batch
asked the server for its seals and its first documents only after that: the key
then waited for the network before its first signature.  With a server token
already held (no login with the key needed), :class:`Prefetch` asks for the task
list (when the batch was given none), the server's seals and the first few tasks
and their documents on a thread of its own while the PIN is being checked.

Nothing here touches the key or the PIN, and nothing is decided here: each
answer is used exactly as the batch's own call would have used it (the download
is hash-checked by :meth:`ServerClient.download` as always; a task found already
waiting in the outbox is not fetched; a task the server says is not pending is
left for the batch to fetch again and report).  Any failure (token expired,
server down) only means the batch makes the call itself, as before.
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

DOCUMENTS = 3  # the first documents: enough to keep the key busy until the pipeline has caught up


class Prefetch:
    """Server answers fetched on a helper thread; each is taken at most once."""

    def __init__(self, client: Any, outbox: Any, task_ids: Sequence[str] | None, *,
                 documents: int = DOCUMENTS) -> None:
        self.client = client
        self.outbox = outbox
        self.documents = max(0, documents)
        self._given = list(dict.fromkeys(task_ids)) if task_ids is not None else None
        self._ids: Future[list[str]] = Future()
        self._seals: Future[list[Any]] = Future()
        self._docs: dict[str, Future[tuple[Task, bytes] | None]] = {}  # not yet taken
        self._expected: list[tuple[str, Future[tuple[Task, bytes] | None]]] = []  # every one, in order
        self._lock = threading.Lock()
        if self._given is not None:
            self._expect(self._given)
        self._thread = threading.Thread(target=self._run, name="zhenglian-prefetch", daemon=True)

    def start(self) -> Prefetch:
        self._thread.start()
        return self

    # --- the helper thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._given is not None:
                ids = self._given
            else:
                ids = list(dict.fromkeys(t.id for t in self.client.tasks().tasks))
                self._expect(ids)  # before the list is handed over: the batch's first take() waits
            self._ids.set_result(ids)
            try:
                self._seals.set_result(list(self.client.seals()))
            except errors.AuthRequired:
                raise
            except errors.ZhenglianError as exc:  # the batch asks again (and may use the key's own seals)
                log.debug("prefetch: seals not fetched: %s", exc.code)
                self._seals.set_result(None)
            for tid, fut in self._expected:
                fut.set_result(self._document(tid))
        except errors.ZhenglianError as exc:  # token expired, server down …: the batch asks itself
            log.debug("prefetch stopped: %s", exc.code)
        except Exception:  # noqa: BLE001 - a helper must never break the batch
            log.debug("prefetch failed", exc_info=True)
        finally:
            for fut in (self._ids, self._seals, *(f for _tid, f in self._expected)):
                if not fut.done():
                    fut.set_result(None)  # "not fetched": the batch makes the call itself

    def _expect(self, ids: Sequence[str]) -> None:
        with self._lock:
            for tid in ids[:self.documents]:
                fut: Future[tuple[Task, bytes] | None] = Future()
                self._docs[tid] = fut
                self._expected.append((tid, fut))

    def _document(self, tid: str) -> tuple[Task, bytes] | None:
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

    def take(self, tid: str) -> tuple[Task, bytes] | None:
        """(task, original document) for ``tid`` if fetched here (once), else None."""
        with self._lock:
            fut = self._docs.pop(tid, None)
        return None if fut is None else fut.result()

    def discard(self) -> None:
        """The batch no longer wants anything from here (it does not wait for the thread)."""
        with self._lock:
            self._docs.clear()


__all__ = ["DOCUMENTS", "Prefetch"]
