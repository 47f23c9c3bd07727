"""What the server sends, as typed records; anything malformed is a ServerError.

Parsing is strict about what the client relies on (ids, hashes, status) and
lenient about the rest, so a newer server adding fields does not break us.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from zhenglian import errors

STATUS_ZH = {"pending": "待签署", "signed": "已签署", "rejected": "已拒签"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _bad(what: str) -> errors.ServerError:
    return errors.ServerError(status="200", detail_zh=f"响应格式不正确（{what}）",
                              detail_en=f"malformed response ({what})")


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(what)
    return value


def _str(d: dict[str, Any], key: str, optional: bool = False) -> str:
    value = d.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _bad(key)
    return value


def _int(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(key)
    return value


def _sha(d: dict[str, Any], key: str) -> str:
    value = _str(d, key).lower()
    if not _HEX64.match(value):
        raise _bad(key)
    return value


def _num(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _bad(key)
    return float(value)


@dataclass(frozen=True)
class Placement:
    page: int = -1  # 1-based; negative from the end
    x_mm: float | None = None  # seal centre from the left edge
    y_mm: float | None = None  # seal centre from the top edge
    anchor_text: str | None = None
    cross_page: bool = False  # 骑缝章
    certify: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Placement:
        d = _obj(raw, "placement")
        page = d.get("page", -1)
        if not isinstance(page, int) or isinstance(page, bool) or page == 0:
            raise _bad("placement.page")
        anchor = d.get("anchor_text")
        if anchor is not None and not isinstance(anchor, str):
            raise _bad("placement.anchor_text")
        return cls(page=page, x_mm=_num(d, "x_mm"), y_mm=_num(d, "y_mm"), anchor_text=anchor or None,
                   cross_page=bool(d.get("cross_page", False)), certify=bool(d.get("certify", False)))

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "x_mm": self.x_mm, "y_mm": self.y_mm, "anchor_text": self.anchor_text,
                "cross_page": self.cross_page, "certify": self.certify}


def _signed_at(signed: Any) -> str | None:
    """When the server recorded the signed file (shown, never trusted): a short string or None."""
    at = signed.get("signed_at") if isinstance(signed, dict) else None
    return at[:40] if isinstance(at, str) and at else None


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    business_type: str
    created_at: str
    deadline: str | None
    status: str
    seal_type: str
    placement: Placement
    filename: str
    doc_sha256: str
    doc_size: int
    doc_url: str
    signed_sha256: str | None = None
    reject_reason: str | None = None
    signed_at: str | None = None  # ISO time the server recorded the signed file

    @classmethod
    def parse(cls, raw: Any) -> Task:
        d = _obj(raw, "task")
        doc = _obj(d.get("document"), "task.document")
        status = _str(d, "status")
        if status not in STATUS_ZH:
            raise _bad("task.status")
        signed = d.get("signed")
        task_id = _str(d, "id")
        if not task_id or len(task_id) > 200:
            raise _bad("task.id")
        return cls(
            id=task_id, title=_str(d, "title"), business_type=_str(d, "business_type", True),
            created_at=_str(d, "created_at", True), deadline=d.get("deadline") if isinstance(d.get("deadline"), str)
            else None, status=status, seal_type=_str(d, "seal_type", True),
            placement=Placement.parse(d.get("placement", {})), filename=_str(doc, "filename", True),
            doc_sha256=_sha(doc, "sha256"), doc_size=_int(doc, "size"), doc_url=_str(doc, "url"),
            signed_sha256=_sha(signed, "sha256") if isinstance(signed, dict) else None,
            reject_reason=d.get("reject_reason") if isinstance(d.get("reject_reason"), str) else None,
            signed_at=_signed_at(signed),
        )

    @property
    def status_zh(self) -> str:
        return STATUS_ZH.get(self.status, self.status)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "business_type": self.business_type,
                "created_at": self.created_at, "deadline": self.deadline, "status": self.status,
                "seal_type": self.seal_type, "placement": self.placement.to_dict(),
                "document": {"filename": self.filename, "sha256": self.doc_sha256, "size": self.doc_size},
                "signed_sha256": self.signed_sha256, "signed_at": self.signed_at, "reject_reason": self.reject_reason}


@dataclass(frozen=True)
class TaskList:
    tasks: list[Task]
    seq: int

    @classmethod
    def parse(cls, raw: Any) -> TaskList:
        d = _obj(raw, "task list")
        items = d.get("tasks")
        if not isinstance(items, list):
            raise _bad("tasks")
        return cls([Task.parse(t) for t in items], _int(d, "seq"))


@dataclass(frozen=True)
class Challenge:
    nonce: str
    origin: str
    expires_at: int
    algorithms: tuple[str, ...]

    @classmethod
    def parse(cls, raw: Any) -> Challenge:
        d = _obj(raw, "challenge")
        algos = d.get("algorithms", [])
        return cls(_str(d, "nonce"), _str(d, "origin"), _int(d, "expires_at"),
                   tuple(a for a in algos if isinstance(a, str)) if isinstance(algos, list) else ())


@dataclass(frozen=True)
class LoginResult:
    token: str = field(repr=False)
    expires_at: int
    uscc: str
    institution: str
    cert_sha256: str

    @classmethod
    def parse(cls, raw: Any) -> LoginResult:
        d = _obj(raw, "login")
        inst = _obj(d.get("institution"), "institution")
        return cls(_str(d, "token"), _int(d, "expires_at"), _str(inst, "uscc"), _str(inst, "name", True),
                   _str(d, "certificate_sha256", True))


@dataclass(frozen=True)
class UploadResult:
    task_id: str
    sha256: str
    duplicate: bool
    signed_at: str

    @classmethod
    def parse(cls, raw: Any) -> UploadResult:
        d = _obj(raw, "upload")
        if d.get("status") != "signed":
            raise _bad("upload.status")
        return cls(_str(d, "task_id"), _sha(d, "sha256"), bool(d.get("duplicate")), _str(d, "signed_at", True))


@dataclass(frozen=True)
class Event:
    seq: int
    task_id: str
    kind: str
    status: str


@dataclass(frozen=True)
class Events:
    seq: int
    events: list[Event]

    @classmethod
    def parse(cls, raw: Any) -> Events:
        d = _obj(raw, "events")
        items = d.get("events")
        if not isinstance(items, list):
            raise _bad("events")
        out = []
        for e in items:
            e = _obj(e, "event")
            out.append(Event(_int(e, "seq"), _str(e, "task_id"), _str(e, "kind"), _str(e, "status")))
        return cls(_int(d, "seq"), out)


@dataclass(frozen=True)
class ServerSealRecord:
    id: str
    name: str
    seal_type: str
    width_mm: float
    height_mm: float
    png: bytes = field(repr=False)
    cert_sha256: str

    @classmethod
    def parse(cls, raw: Any) -> ServerSealRecord:
        d = _obj(raw, "seal")
        try:
            png = base64.b64decode(_str(d, "png_base64"), validate=True)
        except (binascii.Error, ValueError):
            raise _bad("seal.png_base64") from None
        return cls(_str(d, "id"), _str(d, "name"), _str(d, "type", True), _num(d, "width_mm") or 42.0,
                   _num(d, "height_mm") or 42.0, png, _str(d, "cert_sha256", True).lower())
