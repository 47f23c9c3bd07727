"""What the tray shows, computed without Qt so it can be tested and reused.

The tray has four states, most important first:
- attention: something needs the operator (PIN locked, certificate expired or
  about to, a key plugged in whose driver is missing);
- pending: documents wait for the seal (a badge with the count);
- ready: a key is in, nothing waits;
- no_key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.snapshot import UnrecognisedKey

EXPIRY_ATTENTION_DAYS = 30


@dataclass(frozen=True)
class Attention:
    kind: str  # pin_locked | cert_expired | cert_expiring | driver_missing
    key_serial: str | None
    organization: str | None
    days_left: int | None = None
    detail_zh: str = ""
    detail_en: str = ""


@dataclass(frozen=True)
class TrayState:
    kind: str  # no_key | ready | pending | attention
    keys: tuple[KeyInfo, ...] = ()
    pending: int = 0
    attention: tuple[Attention, ...] = field(default=())


def attention_items(keys: tuple[KeyInfo, ...] | list[KeyInfo], unrecognised: tuple[UnrecognisedKey, ...] | list[UnrecognisedKey],
                    now: datetime | None = None, expiry_days: int = EXPIRY_ATTENTION_DAYS) -> list[Attention]:
    now = now or datetime.now(UTC)
    out: list[Attention] = []
    for key in keys:
        org = key.organization()
        if key.flags.locked:
            out.append(Attention("pin_locked", key.serial, org))
        cert = key.signing_certificate()
        if cert is None:
            continue
        days = cert.info.days_left(now)
        if days < 0:
            out.append(Attention("cert_expired", key.serial, org, days))
        elif days <= expiry_days:
            out.append(Attention("cert_expiring", key.serial, org, days))
    for u in unrecognised:
        out.append(Attention("driver_missing", None, None, None, u.message_zh(), u.message_en()))
    return out


def compute(keys: tuple[KeyInfo, ...] | list[KeyInfo], unrecognised: tuple[UnrecognisedKey, ...] | list[UnrecognisedKey] = (),
            pending: int = 0, now: datetime | None = None) -> TrayState:
    attention = attention_items(keys, unrecognised, now)
    if attention:
        kind = "attention"
    elif pending > 0:
        kind = "pending"
    elif keys:
        kind = "ready"
    else:
        kind = "no_key"
    return TrayState(kind, tuple(keys), pending, tuple(attention))
