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
from typing import Any

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
        if is_locked(key):
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


def _manifest_of(key: KeyInfo) -> Any:
    from zhenglian.manifest import load_all

    global _MANIFESTS
    if _MANIFESTS is None:
        _MANIFESTS = load_all()
    return _MANIFESTS.by_id(key.ca_id) if key.ca_id else None


_MANIFESTS: Any = None


def pin_state(key: KeyInfo) -> str:
    """The PIN state an operator is shown: the key's flags AND the client's own count of wrong
    PINs (many drivers, SoftHSM among them, never raise LOCKED): locked / final_try / count_low /
    to_be_changed / ok.  The same rule as the PIN dialogs (zhenglian.tokens.pin.PinStatus)."""
    from zhenglian.tokens import pincounter
    from zhenglian.tokens.pin import PinStatus, policy_of

    st = PinStatus(key.serial, False, key.flags, pincounter.failures(key.serial), policy_of(_manifest_of(key)).max_tries,
                   pincounter.reports(key.serial))
    if st.locked:
        return "locked"
    if key.flags.final_try or st.tries_left == 1:
        return "final_try"
    if st.effective_failures > 0 or key.flags.count_low:
        return "count_low"
    return key.flags.pin_state()


def is_locked(key: KeyInfo) -> bool:
    return pin_state(key) == "locked"
