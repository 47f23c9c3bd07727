"""When an expiring certificate is due for a reminder (pure functions).

Thresholds are whole days before expiry (default 90, 30, 15, 7, 3, 1 —
``settings.reminder_days``).  A threshold *t* is crossed once the time left
is at most *t* days.  When several are crossed at once (a key first seen 20
days before expiry) only the smallest crossed one fires: one reminder, not
three.  Expiry itself is threshold 0.

"稍后提醒" (remind me later) shows the same reminder again after
``SNOOZE_DAYS`` days, or at the next threshold if that comes first — so the
user is never reminded less often than the schedule says, and never more
than once a day by a snooze.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

DEFAULT_THRESHOLDS: tuple[int, ...] = (90, 30, 15, 7, 3, 1)
EXPIRED = 0  # the threshold that stands for "has expired"
SNOOZE_DAYS = 1
# The window shows a banner this many days before expiry (and after).
BANNER_DAYS = 30

_DAY = timedelta(days=1)


def normalise(days: Iterable[object] | None) -> tuple[int, ...]:
    """Positive whole days, largest first, no duplicates; defaults if none usable."""
    out = sorted({int(d) for d in (days or ()) if isinstance(d, int) and not isinstance(d, bool) and d > 0},
                 reverse=True)
    return tuple(out) or DEFAULT_THRESHOLDS


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days left, rounded up (23 hours left is "1 day"); negative once expired.

    The one rule of :func:`zhenglian.pki.cert.days_until` (the key card counts the same way)."""
    from zhenglian.pki.cert import days_until

    return days_until(not_after, now)


def current_threshold(not_after: datetime, now: datetime, thresholds: tuple[int, ...]) -> int | None:
    """The smallest threshold crossed at ``now`` (EXPIRED once expired), or None."""
    remaining = not_after - now
    if remaining < timedelta(0):
        return EXPIRED
    crossed = [t for t in thresholds if remaining <= timedelta(days=t)]
    return min(crossed) if crossed else None


def next_threshold_at(not_after: datetime, now: datetime, thresholds: tuple[int, ...]) -> datetime:
    """The moment the next threshold (or expiry) is crossed after ``now``."""
    candidates = [not_after - timedelta(days=t) for t in thresholds]
    candidates.append(not_after)
    later = [c for c in candidates if c > now]
    return min(later) if later else now


def snooze_until(not_after: datetime, now: datetime, thresholds: tuple[int, ...],
                 snooze_days: int = SNOOZE_DAYS) -> datetime:
    """When a snoozed reminder comes back: after ``snooze_days`` or at the next threshold."""
    back = now + timedelta(days=max(snooze_days, 1))
    if now > not_after:
        return back
    return min(back, next_threshold_at(not_after, now, thresholds))
