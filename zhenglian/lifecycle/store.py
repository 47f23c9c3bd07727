"""Certificates the client has seen, remembered so a key left in a drawer is still reminded.

One JSON file, ``<data dir>/lifecycle/certificates.json``, rewritten whole and
atomically.  Each entry holds what the reminders, the expiry prompt and the
CA's paper forms need — the certificate itself (DER, public), the
organisation, its USCC, the CA, the key's serial and the seal names — and
the reminder state: which thresholds already fired and until when a
reminder is snoozed.

Every change re-reads the file first (the tray app and a command line may
both write it), then writes it back.  Nothing secret is stored.

Time comes from ``now`` arguments or an injectable clock, so the schedule
is testable without waiting three months.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from zhenglian import errors, fsutil, paths
from zhenglian.lifecycle import schedule
from zhenglian.pki.cert import CertInfo
from zhenglian.pki.cert import parse as parse_cert

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
FILE_VERSION = 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _dt(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RememberedCert:
    """A signing certificate seen on a key, and its reminder state."""

    sha256: str
    der: bytes = field(repr=False)
    key_serial: str
    key_label: str
    ca_id: str | None
    organization: str | None
    uscc: str | None
    common_name: str | None
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    seal_names: tuple[str, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    fired: frozenset[int] = frozenset()
    snoozed_until: datetime | None = None
    superseded_by: str | None = None  # sha256 of the certificate that replaced it, or "gone"

    @property
    def active(self) -> bool:
        return self.superseded_by is None

    def info(self) -> CertInfo:
        return parse_cert(self.der)

    def days_left(self, now: datetime) -> int:
        return schedule.days_left(self.not_after, now)

    def expired(self, now: datetime) -> bool:
        return now > self.not_after

    def display(self) -> str:
        return self.organization or self.common_name or self.subject

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256, "der": base64.b64encode(self.der).decode("ascii"),
            "key_serial": self.key_serial, "key_label": self.key_label, "ca_id": self.ca_id,
            "organization": self.organization, "uscc": self.uscc, "common_name": self.common_name,
            "subject": self.subject, "issuer": self.issuer,
            "not_before": _ts(self.not_before), "not_after": _ts(self.not_after),
            "seal_names": list(self.seal_names), "first_seen": _ts(self.first_seen),
            "last_seen": _ts(self.last_seen), "fired": sorted(self.fired),
            "snoozed_until": _ts(self.snoozed_until), "superseded_by": self.superseded_by,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RememberedCert:
        not_before, not_after = _dt(d["not_before"]), _dt(d["not_after"])
        if not_before is None or not_after is None:
            raise ValueError("validity")
        return cls(
            sha256=str(d["sha256"]), der=base64.b64decode(d["der"]), key_serial=str(d["key_serial"]),
            key_label=str(d.get("key_label", "")), ca_id=d.get("ca_id"),
            organization=d.get("organization"), uscc=d.get("uscc"), common_name=d.get("common_name"),
            subject=str(d.get("subject", "")), issuer=str(d.get("issuer", "")),
            not_before=not_before, not_after=not_after,
            seal_names=tuple(str(s) for s in d.get("seal_names", ())),
            first_seen=_dt(d.get("first_seen")), last_seen=_dt(d.get("last_seen")),
            fired=frozenset(int(t) for t in d.get("fired", ())),
            snoozed_until=_dt(d.get("snoozed_until")), superseded_by=d.get("superseded_by"),
        )

    @classmethod
    def from_info(cls, info: CertInfo, key_serial: str, key_label: str, ca_id: str | None,
                  now: datetime, seal_names: Iterable[str] = ()) -> RememberedCert:
        return cls(
            sha256=info.sha256, der=info.der, key_serial=key_serial, key_label=key_label, ca_id=ca_id,
            organization=info.organization, uscc=info.uscc, common_name=info.common_name,
            subject=info.subject, issuer=info.issuer, not_before=info.not_before,
            not_after=info.not_after, seal_names=tuple(seal_names), first_seen=now, last_seen=now,
        )


ReminderKind = Literal["expiring", "expired"]


@dataclass(frozen=True)
class Reminder:
    """One reminder to show now: a tray notification, a banner and a prompt."""

    cert: RememberedCert
    kind: ReminderKind
    threshold: int  # days before expiry; 0 = expired
    days_left: int
    repeat: bool = False  # shown again after "稍后提醒"

    @property
    def sha256(self) -> str:
        return self.cert.sha256

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "kind": self.kind, "threshold": self.threshold,
                "days_left": self.days_left, "repeat": self.repeat, "key_serial": self.cert.key_serial,
                "organization": self.cert.organization, "not_after": _ts(self.cert.not_after),
                "ca": self.cert.ca_id}


@dataclass(frozen=True)
class Banner:
    """What the main window shows at the top while a certificate is near or past expiry."""

    cert: RememberedCert
    kind: ReminderKind
    days_left: int


class CertificateStore:
    """The remembered certificates (see the module docstring)."""

    def __init__(self, file: Path | None = None, thresholds: Iterable[int] | None = None,
                 clock: Clock | None = None, snooze_days: int = schedule.SNOOZE_DAYS) -> None:
        self.file = Path(file) if file is not None else paths.data_dir() / "lifecycle" / "certificates.json"
        self.thresholds = schedule.normalise(thresholds)
        self.clock = clock or _utcnow
        self.snooze_days = snooze_days

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock | None = None) -> CertificateStore:
        return cls(thresholds=getattr(settings, "reminder_days", None), clock=clock)

    # --- file --------------------------------------------------------------

    def _read(self) -> dict[str, RememberedCert]:
        try:
            raw = fsutil.read_json(self.file, {"version": FILE_VERSION, "certificates": {}})
        except ValueError:
            raise errors.ConfigError(file=str(self.file), problem="JSON") from None
        except OSError as exc:
            raise errors.ConfigError(file=str(self.file), problem=type(exc).__name__) from None
        certs = raw.get("certificates") if isinstance(raw, dict) else None
        if not isinstance(certs, dict):
            raise errors.ConfigError(file=str(self.file), problem="certificates 应为对象 / must be an object")
        out: dict[str, RememberedCert] = {}
        for sha, d in certs.items():
            try:
                out[sha] = RememberedCert.from_json(d)
            except (KeyError, ValueError, TypeError):
                log.warning("skipping an unreadable remembered certificate entry")
        return out

    def _write(self, certs: dict[str, RememberedCert]) -> None:
        fsutil.atomic_write_json(self.file, {
            "version": FILE_VERSION,
            "certificates": {sha: c.to_json() for sha, c in sorted(certs.items())},
        })

    def _update(self, change: Callable[[dict[str, RememberedCert]], None]) -> None:
        with fsutil.locked(self.file):  # the tray's worker, its window and a command line
            certs = self._read()
            change(certs)
            self._write(certs)

    def _now(self, now: datetime | None) -> datetime:
        return now or self.clock()

    # --- what is remembered ------------------------------------------------

    def all(self) -> list[RememberedCert]:
        """Every remembered certificate, soonest expiry first."""
        return sorted(self._read().values(), key=lambda c: (c.not_after, c.sha256))

    def active(self) -> list[RememberedCert]:
        return [c for c in self.all() if c.active]

    def get(self, sha256: str) -> RememberedCert | None:
        sha256 = sha256.strip().lower().replace(":", "")
        certs = self._read()
        if sha256 in certs:
            return certs[sha256]
        matches = [c for s, c in certs.items() if len(sha256) >= 8 and s.startswith(sha256)]
        return matches[0] if len(matches) == 1 else None

    def remember(self, key: Any, now: datetime | None = None,
                 seal_names: dict[str, Iterable[str]] | None = None) -> list[RememberedCert]:
        """Record the signing certificates of a key that is plugged in now.

        ``key`` is a :class:`zhenglian.tokens.model.KeyInfo`.  A certificate
        remembered for this key that is no longer on it was replaced (renewed
        with the CA's own client, or by us): it is marked superseded and
        stops reminding.  ``seal_names`` maps a certificate's SHA-256 to the
        names of its seals, for the paper forms.
        """
        now = self._now(now)
        seal_names = seal_names or {}
        seen = [c for c in key.signing_certificates()]
        if key.read_error:
            return []  # could not read the certificates: do not conclude any is gone
        result: list[RememberedCert] = []

        def change(certs: dict[str, RememberedCert]) -> None:
            on_key = {c.info.sha256 for c in seen}
            for kc in seen:
                info = kc.info
                names = tuple(seal_names.get(info.sha256, ()))
                old = certs.get(info.sha256)
                if old is None:
                    entry = RememberedCert.from_info(info, key.serial, key.label, key.ca_id, now, names)
                else:
                    entry = replace(old, key_serial=key.serial, key_label=key.label,
                                    ca_id=key.ca_id or old.ca_id, last_seen=now,
                                    seal_names=names or old.seal_names, superseded_by=None)
                certs[info.sha256] = entry
                result.append(entry)
            newest = max(seen, key=lambda c: c.info.not_after).info.sha256 if seen else "gone"
            for sha, entry in list(certs.items()):
                if entry.key_serial == key.serial and sha not in on_key and entry.active:
                    certs[sha] = replace(entry, superseded_by=newest)

        self._update(change)
        return result

    def record_renewal(self, old: CertInfo, new: CertInfo, key: Any, now: datetime | None = None) -> RememberedCert:
        """After a renewal: the new certificate is remembered (seal names carried
        over) and the old one superseded, so it stops reminding."""
        now = self._now(now)
        entry: RememberedCert | None = None

        def change(certs: dict[str, RememberedCert]) -> None:
            nonlocal entry
            previous = certs.get(old.sha256)
            names = previous.seal_names if previous else ()
            entry = RememberedCert.from_info(new, key.serial, key.label, key.ca_id, now, names)
            certs[new.sha256] = entry
            if previous is not None:
                certs[old.sha256] = replace(previous, superseded_by=new.sha256)
        self._update(change)
        assert entry is not None
        return entry

    def forget(self, sha256: str) -> bool:
        """Stop remembering a certificate (the key was returned or revoked)."""
        found = False

        def change(certs: dict[str, RememberedCert]) -> None:
            nonlocal found
            found = certs.pop(sha256, None) is not None
        self._update(change)
        return found

    # --- reminders ---------------------------------------------------------

    def _reminder(self, cert: RememberedCert, now: datetime) -> Reminder | None:
        if not cert.active or now < cert.not_before:
            return None
        threshold = schedule.current_threshold(cert.not_after, now, self.thresholds)
        if threshold is None:
            return None
        kind: ReminderKind = "expired" if threshold == schedule.EXPIRED else "expiring"
        days = cert.days_left(now)
        if threshold not in cert.fired:
            return Reminder(cert, kind, threshold, days)
        if cert.snoozed_until is not None and now >= cert.snoozed_until:
            return Reminder(cert, kind, threshold, days, repeat=True)
        return None

    def due(self, now: datetime | None = None) -> list[Reminder]:
        """Reminders to show now, soonest expiry first.  Reading only: call
        :meth:`mark_shown` once a reminder was shown, :meth:`snooze` for
        "稍后提醒"."""
        now = self._now(now)
        out = [r for r in (self._reminder(c, now) for c in self.all()) if r is not None]
        return out

    def mark_shown(self, reminder: Reminder | str, now: datetime | None = None) -> None:
        """Record that a reminder was shown: its threshold (and every earlier,
        larger one) will not fire again, across restarts."""
        now = self._now(now)
        sha = reminder if isinstance(reminder, str) else reminder.sha256

        def change(certs: dict[str, RememberedCert]) -> None:
            cert = certs.get(sha)
            if cert is None:
                return
            threshold = schedule.current_threshold(cert.not_after, now, self.thresholds)
            if threshold is None:
                return
            done = {t for t in (*self.thresholds, schedule.EXPIRED) if t >= threshold}
            certs[sha] = replace(cert, fired=frozenset(cert.fired | done), snoozed_until=None)
        self._update(change)

    def snooze(self, reminder: Reminder | str, now: datetime | None = None,
               days: int | None = None) -> datetime | None:
        """"稍后提醒": mark shown, and show it again after ``days`` (default
        ``snooze_days``) or at the next threshold, whichever comes first."""
        now = self._now(now)
        self.mark_shown(reminder, now)
        sha = reminder if isinstance(reminder, str) else reminder.sha256
        until: datetime | None = None

        def change(certs: dict[str, RememberedCert]) -> None:
            nonlocal until
            cert = certs.get(sha)
            if cert is None:
                return
            until = schedule.snooze_until(cert.not_after, now, self.thresholds, days or self.snooze_days)
            certs[sha] = replace(cert, snoozed_until=until)
        self._update(change)
        return until

    def banners(self, now: datetime | None = None) -> list[Banner]:
        """Certificates that deserve a banner in the window now (expired, or
        within ``schedule.BANNER_DAYS`` days of expiry), expired first."""
        now = self._now(now)
        out = []
        for cert in self.active():
            if now < cert.not_before:
                continue
            days = cert.days_left(now)
            if cert.expired(now):
                out.append(Banner(cert, "expired", days))
            elif cert.not_after - now <= timedelta(days=schedule.BANNER_DAYS):
                out.append(Banner(cert, "expiring", days))
        out.sort(key=lambda b: (b.kind != "expired", b.cert.not_after))
        return out
