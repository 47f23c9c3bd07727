"""Keep the list of pending tasks current, driven by the server's events (Qt-free).

:class:`TaskSync` runs one background thread: list the pending tasks, upload
whatever waits in the outbox, then long-poll ``/events`` until something
changes (a new task, a task signed or rejected elsewhere) and start over —
but not more often than every ``min_refresh_s`` while events keep coming (a
batch uploading, a colleague signing on the web): a listing may be 16 MiB of
JSON, and a burst of events is answered by one listing of the state after it.
A :meth:`TaskSync.wake` (a login, a batch's end, the operator asking) is
answered at once.
It reports through callbacks — the tray turns them into Qt signals — a
:class:`TaskSummary` ("3 个待签署任务"), the tasks that are new since the last
look (for a notification), and errors.  Network trouble is retried with a
bounded backoff; when the server wants a login the summary says
``needs_login`` and the loop waits for :meth:`TaskSync.login` (which needs
the key's PIN, so only the UI can start it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zhenglian import errors
from zhenglian.backoff import Backoff
from zhenglian.server.models import Task
from zhenglian.server.session import ServerSession
from zhenglian.tasks.outbox import Outbox

log = logging.getLogger(__name__)


def _count(n: int, noun: str) -> str:
    """"1 pending task", "2 pending tasks" (English; the Chinese text has no plural)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class TaskSummary:
    origin: str
    pending: int = 0
    tasks: tuple[Task, ...] = ()
    outbox_queued: int = 0
    outbox_failed: int = 0
    needs_login: bool = False
    online: bool = False
    error: errors.ZhenglianError | None = None
    updated_at: float = field(default_factory=time.time)

    def text_zh(self) -> str:
        if self.needs_login:
            return "需要登录签署服务器"
        parts = [f"{self.pending} 个待签署任务" if self.online else "签署服务器暂不可用"]
        if self.outbox_queued:
            parts.append(f"{self.outbox_queued} 个已签文件等待上传")
        if self.outbox_failed:
            parts.append(f"{self.outbox_failed} 个文件被服务器拒收")
        return "，".join(parts)

    def text_en(self) -> str:
        if self.needs_login:
            return "Log in to the signing server"
        parts = [_count(self.pending, "pending task") if self.online else "signing server unavailable"]
        if self.outbox_queued:
            parts.append(_count(self.outbox_queued, "signed file") + " waiting to upload")
        if self.outbox_failed:
            parts.append(_count(self.outbox_failed, "file") + " refused by the server")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "pending": self.pending, "outbox_queued": self.outbox_queued,
                "outbox_failed": self.outbox_failed, "needs_login": self.needs_login, "online": self.online,
                "text_zh": self.text_zh(), "text_en": self.text_en(),
                "error": self.error.to_dict() if self.error else None,
                "tasks": [t.to_dict() for t in self.tasks]}


class TaskSync:
    """Background task list for one (server, key); see the module docstring."""

    def __init__(self, session: ServerSession, outbox: Outbox, *,
                 on_summary: Callable[[TaskSummary], None] | None = None,
                 on_new_tasks: Callable[[list[Task]], None] | None = None,
                 on_error: Callable[[errors.ZhenglianError], None] | None = None,
                 wait_s: float = 10.0, retry_s: float = 2.0, max_retry_s: float = 120.0,
                 min_refresh_s: float = 2.0) -> None:
        self.session = session
        self.outbox = outbox
        self.on_summary = on_summary
        self.on_new_tasks = on_new_tasks
        self.on_error = on_error
        self.wait_s = wait_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.min_refresh_s = min_refresh_s
        self._listed_at = float("-inf")  # time.monotonic() of the last listing asked for
        self.summary = TaskSummary(session.origin)
        self._seen: set[str] | None = None  # the ids of the last listing (see refresh)
        self._seq = -1
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- control ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="zhenglian-tasksync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the loop to end; a long poll in flight ends within ``wait_s`` (the thread is a daemon)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look again now (after a login, a batch, or the user asking)."""
        self._wake.set()

    def refresh_now(self) -> None:
        """List now, on the caller's thread (a worker, for the operator's 刷新): the loop may be
        in a long poll for up to ``wait_s``, and a wake is only seen after it.  Errors go to
        ``on_error``; the listing itself is serialised with the loop's."""
        try:
            self.refresh()
        except errors.ZhenglianError as exc:
            self._error(exc)

    def login(self, p11session: Any) -> None:
        """Log in with the key (the UI got the PIN) and resume."""
        self.session.login(p11session)
        self.wake()

    # --- one pass -----------------------------------------------------------------

    def _publish(self, summary: TaskSummary) -> None:
        self.summary = summary
        if self.on_summary is not None:
            try:
                self.on_summary(summary)
            except Exception:  # noqa: BLE001
                log.exception("on_summary callback failed")

    def _error(self, exc: errors.ZhenglianError) -> None:
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:  # noqa: BLE001
                log.exception("on_error callback failed")

    def _outbox_counts(self) -> tuple[int, int]:
        origin = self.session.origin
        return len(self.outbox.pending(origin)), len(self.outbox.failed(origin))

    def refresh(self) -> TaskSummary:
        """List pending tasks and flush the outbox once; publishes and returns the summary."""
        with self._lock:
            origin = self.session.origin
            if not self.session.logged_in:
                queued, failed = self._outbox_counts()
                summary = TaskSummary(origin, outbox_queued=queued, outbox_failed=failed, needs_login=True)
                self._publish(summary)
                return summary
            client = self.session.client
            try:
                report = self.outbox.flush(client, origin)  # first: uploads change the pending list
                if report.auth_required:
                    raise errors.AuthRequired(origin=origin)
                self._listed_at = time.monotonic()
                listing = client.tasks("pending")
            except errors.AuthRequired:
                self.session.forget()
                queued, failed = self._outbox_counts()
                summary = TaskSummary(origin, outbox_queued=queued, outbox_failed=failed, needs_login=True)
                self._publish(summary)
                return summary
            except (errors.ServerUnreachable, errors.ServerError, errors.ServerRefused) as exc:
                queued, failed = self._outbox_counts()
                summary = TaskSummary(origin, self.summary.pending, self.summary.tasks, queued, failed,
                                      online=False, error=exc)
                self._publish(summary)
                raise
            self._seq = max(self._seq, listing.seq)
            ids = {t.id for t in listing.tasks}
            if self._seen is not None and self.on_new_tasks is not None:
                new = [t for t in listing.tasks if t.id not in self._seen]
                if new:
                    try:
                        self.on_new_tasks(new)
                    except Exception:  # noqa: BLE001
                        log.exception("on_new_tasks callback failed")
            # Only the last listing's ids are kept, not every id ever seen (that grew over weeks of tray
            # uptime): a task is "new" when the previous listing lacked it. One that left the pending
            # list (signed, rejected, withdrawn) and comes back is waiting for a signature again, so
            # it is announced again, which is what the operator needs to hear. The set is as large as
            # the listing, which the summary holds anyway.
            self._seen = ids
            queued, failed = self._outbox_counts()
            summary = TaskSummary(origin, len(listing.tasks), tuple(listing.tasks), queued, failed, online=True,
                                  error=report.error)
            self._publish(summary)
            return summary

    # --- the loop -------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        wait = Backoff(self.retry_s, self.max_retry_s)
        while not self._stop.is_set():
            try:
                self._wake.clear()  # this listing answers a wake that came before it (during a long poll)
                if self._stop.is_set():  # stop() sets it before the wake this may have cleared
                    break
                summary = self.refresh()
                if summary.needs_login:
                    self._pause(self.max_retry_s)  # until login() wakes us
                    continue
                if summary.outbox_queued and summary.error is not None:
                    self._pause(wait.next())  # uploads failed: try again soon
                    continue
                wait.reset()
                if self._wake.is_set():
                    self._wake.clear()
                    continue
                events = self.session.client.events(self._seq, wait=self.wait_s)
                self._seq = max(self._seq, events.seq)
                rest = self._listed_at + self.min_refresh_s - time.monotonic()
                if rest > 0:
                    self._pause(rest)  # a burst of events: one listing after it (a wake ends the wait)
            except errors.AuthRequired:
                self.session.forget()
            except errors.ZhenglianError as exc:
                if self._stop.is_set():
                    break
                self._error(exc)
                delay = wait.next()
                log.info("task sync: %s; retrying in %.0fs", exc.code, delay)
                self._pause(delay)
            except Exception:  # noqa: BLE001 - the loop must survive anything
                if self._stop.is_set():
                    break
                log.exception("task sync failed")
                self._pause(wait.next())
