"""One use of the seal (:class:`SealUse`) and its canonical, hashable form.

A record holds facts about the stamping — who, which key, certificate and
seal, which document (name, size, hashes, pages, where the seal landed),
where the request came from and what came of it — and nothing else: never a
PIN, never document contents.  Every field is typed and bounded here, so a
hostile document name or server answer cannot bloat or break the register.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from zhenglian import errors

OUTCOMES = ("signed", "refused", "cancelled", "failed")
ORIGINS = ("task", "web", "local")
MAX_TEXT = 1024  # characters of any one text field (names, subjects, paths, origins)
MAX_PLACEMENTS = 500
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Placement:
    """Where one seal impression landed: page (1-based) and its box in mm from the top left."""

    page: int
    x_mm: float
    y_mm: float
    width_mm: float = 0.0
    height_mm: float = 0.0


@dataclass(frozen=True)
class SealUse:
    """One use of the seal: the facts the 用印登记簿 asks for."""

    outcome: str  # signed | refused | cancelled | failed
    origin: str  # task | web | local
    document_name: str
    time_utc: str = ""  # ISO 8601, filled in by :meth:`stamped` when empty
    time_local: str = ""  # ISO 8601 with the machine's UTC offset
    os_user: str = ""
    key_ca: str = ""
    key_serial: str = ""
    cert_serial: str = ""  # hex
    cert_subject: str = ""
    cert_uscc: str = ""
    organization: str = ""
    seal_name: str = ""
    seal_type: str = ""
    seal_id: str = ""
    document_size: int = 0
    input_sha256: str = ""
    output_sha256: str = ""  # only when signed
    page_count: int = 0
    placements: tuple[Placement, ...] = ()
    server: str = ""  # origin == task: the signing server
    task_id: str = ""
    web_origin: str = ""  # origin == web: the page that asked
    local_path: str = ""  # the input file, when it was a local file
    output_path: str = ""  # where the signed file was handed on
    error_code: str = ""  # errors.ZhenglianError.code when refused / failed / cancelled
    client_version: str = ""

    def stamped(self, now: datetime | None = None) -> SealUse:
        """This record with its times, OS user and client version filled in where empty."""
        now = now or datetime.now(UTC)
        values = asdict(self)
        values["placements"] = self.placements
        if not self.time_utc:
            values["time_utc"] = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if not self.time_local:
            values["time_local"] = now.astimezone().isoformat(timespec="seconds")
        if not self.os_user:
            values["os_user"] = _os_user()
        if not self.client_version:
            from zhenglian import __version__

            values["client_version"] = __version__
        return SealUse(**values)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["placements"] = [asdict(p) for p in self.placements]
        return d

    @classmethod
    def from_dict(cls, raw: Any) -> SealUse:
        """Rebuild from a stored body; raises RegisterInvalidEntry on anything unexpected."""
        if not isinstance(raw, dict):
            raise errors.RegisterInvalidEntry(field="(entry)", problem="not an object")
        known = _field_names()
        unknown = sorted(set(raw) - known)
        if unknown:
            raise errors.RegisterInvalidEntry(field=unknown[0][:40], problem="unknown field")
        values = dict(raw)
        places = values.get("placements", [])
        if not isinstance(places, list):
            raise errors.RegisterInvalidEntry(field="placements", problem="not a list")
        try:
            values["placements"] = tuple(Placement(**p) for p in places)
        except TypeError:
            raise errors.RegisterInvalidEntry(field="placements", problem="malformed") from None
        try:
            use = cls(**values)
        except TypeError:
            raise errors.RegisterInvalidEntry(field="(entry)", problem="missing fields") from None
        use.validate()
        return use

    def validate(self) -> None:
        """Types, enumerations and bounds; raises RegisterInvalidEntry naming the field."""
        for name, kind in _field_types():
            value = getattr(self, name)
            if kind == "str":
                if not isinstance(value, str):
                    raise errors.RegisterInvalidEntry(field=name, problem="not text")
                if len(value) > MAX_TEXT:
                    raise errors.RegisterInvalidEntry(field=name, problem=f"longer than {MAX_TEXT} characters")
                if _CONTROL.search(value):
                    raise errors.RegisterInvalidEntry(field=name, problem="control characters")
            elif kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise errors.RegisterInvalidEntry(field=name, problem="not a count")
        if self.outcome not in OUTCOMES:
            raise errors.RegisterInvalidEntry(field="outcome", problem=f"not one of {', '.join(OUTCOMES)}")
        if self.origin not in ORIGINS:
            raise errors.RegisterInvalidEntry(field="origin", problem=f"not one of {', '.join(ORIGINS)}")
        for name in ("input_sha256", "output_sha256"):
            value = getattr(self, name)
            if value and not _HEX64.fullmatch(value):
                raise errors.RegisterInvalidEntry(field=name, problem="not a lower-case SHA-256 hex digest")
        if self.outcome == "signed" and not self.output_sha256:
            raise errors.RegisterInvalidEntry(field="output_sha256", problem="a signed entry needs the output's hash")
        if self.outcome != "signed" and self.output_sha256:
            raise errors.RegisterInvalidEntry(field="output_sha256", problem="only a signed entry has an output")
        if not self.time_utc or not self.time_local:
            raise errors.RegisterInvalidEntry(field="time_utc", problem="missing (call stamped())")
        try:
            datetime.fromisoformat(self.time_utc.replace("Z", "+00:00"))
            datetime.fromisoformat(self.time_local)
        except ValueError:
            raise errors.RegisterInvalidEntry(field="time_utc", problem="not ISO 8601") from None
        if not isinstance(self.placements, tuple) or len(self.placements) > MAX_PLACEMENTS:
            raise errors.RegisterInvalidEntry(field="placements", problem=f"more than {MAX_PLACEMENTS}")
        for p in self.placements:
            if not isinstance(p, Placement) or not isinstance(p.page, int) or isinstance(p.page, bool) or p.page < 1:
                raise errors.RegisterInvalidEntry(field="placements", problem="page must be a number from 1")
            for v in (p.x_mm, p.y_mm, p.width_mm, p.height_mm):
                if not isinstance(v, int | float) or isinstance(v, bool) or v != v or abs(v) > 1e6:
                    raise errors.RegisterInvalidEntry(field="placements", problem="position is not a number")


@lru_cache(maxsize=1)
def _field_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(SealUse))


@lru_cache(maxsize=1)
def _field_types() -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in fields(SealUse) if f.name != "placements")


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _os_user() -> str:
    try:
        return getpass.getuser()[:MAX_TEXT]
    except (OSError, KeyError, ImportError):
        return os.environ.get("USERNAME", "")[:MAX_TEXT]
