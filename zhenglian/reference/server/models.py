"""JSON shapes of the API (they make the published OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TaskStatus = Literal["pending", "signed", "rejected"]


class ErrorBody(BaseModel):
    error: str = Field(description="stable machine-readable code")
    message_zh: str
    message_en: str


class ServerInfo(BaseModel):
    name: str
    version: str
    api_version: int
    origin: str
    time: str


class Challenge(BaseModel):
    nonce: str
    origin: str
    expires_at: int = Field(description="Unix seconds")
    purpose: str
    algorithms: list[str]


class LoginRequest(BaseModel):
    nonce: str = Field(max_length=200)
    certificate: str = Field(max_length=40000, description="base64 DER of the signing certificate")
    chain: list[str] = Field(default_factory=list, max_length=10,
                             description="base64 DER intermediates (issuing CA first)")
    algorithm: str = Field(max_length=40, description="rsa_pkcs1v15_sha256, ecdsa_sha256 or sm2_sm3")
    signature: str = Field(max_length=4000, description="base64 signature of the challenge bytes")


class Institution(BaseModel):
    uscc: str
    name: str


class LoginResult(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: int
    institution: Institution
    certificate_sha256: str


class Placement(BaseModel):
    page: int = Field(-1, description="1-based page; negative counts from the end (-1: last page)")
    x_mm: float | None = Field(None, description="seal centre, mm from the page's left edge")
    y_mm: float | None = Field(None, description="seal centre, mm from the page's top edge")
    anchor_text: str | None = Field(None, description="place the seal over this text (overrides x/y)")
    cross_page: bool = Field(False, description="骑缝章: also a cross-page seal over all pages")
    certify: bool = Field(False, description="the signature must be a certification signature")


class DocumentInfo(BaseModel):
    filename: str
    sha256: str
    size: int
    url: str


class SignedInfo(BaseModel):
    sha256: str
    signed_at: str
    url: str


class TaskModel(BaseModel):
    id: str
    title: str
    business_type: str
    created_at: str
    deadline: str | None
    status: TaskStatus
    seal_type: str
    placement: Placement
    document: DocumentInfo
    signed: SignedInfo | None = None
    reject_reason: str | None = None


class TaskList(BaseModel):
    tasks: list[TaskModel]
    seq: int = Field(description="event sequence number at the time of the listing")


class UploadResult(BaseModel):
    task_id: str
    status: TaskStatus
    sha256: str
    duplicate: bool = Field(description="true when this exact file had already been recorded")
    signed_at: str | None


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class Event(BaseModel):
    seq: int
    task_id: str
    kind: Literal["created", "signed", "rejected"]
    status: TaskStatus
    at: str


class Events(BaseModel):
    seq: int
    events: list[Event]


class SealModel(BaseModel):
    id: str
    name: str
    type: str
    width_mm: float
    height_mm: float
    png_base64: str
    png_sha256: str
    cert_sha256: str = Field(description="the logged-in certificate the seal is issued for")


class Seals(BaseModel):
    seals: list[SealModel]


class Ticket(BaseModel):
    ticket: str
    task_id: str
    expires_at: int


class RedeemRequest(BaseModel):
    ticket: str = Field(max_length=200)


class TicketCheck(BaseModel):
    task_id: str
    uscc: str
    expires_at: int


class Redeemed(BaseModel):
    task_id: str
    task: TaskModel
