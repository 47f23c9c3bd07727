"""Key calls made from another thread run on the thread that holds the key session.

A signing batch logs in on one thread and holds the module's lock there for the
whole session (:mod:`zhenglian.tokens.module`).  A pipelined batch
(:mod:`zhenglian.pdf.overlap`) prepares and finishes documents on helper
threads; when one of them reaches the key, the call is handed to the session's
own thread through :data:`KEY_THREAD` and its result handed back.  Outside a
pipelined batch :data:`KEY_THREAD` is unset and the call runs where it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

KEY_THREAD: ContextVar[Callable[[Callable[[], Any]], Any] | None] = ContextVar("zhenglian_key_thread", default=None)


def on_key_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on the thread that holds the key session (here, when there is no other)."""
    via = KEY_THREAD.get()
    if via is None:
        return fn()
    result: T = via(fn)
    return result
