"""The HTTP API (FastAPI).  Protocol: docs/server-api.md; schema: /openapi.json.

Every refusal is JSON ``{error, message_zh, message_en}`` with a 4xx status;
a 5xx only ever comes from the fault-injection switch (``zhenglian-server
fault set …``) that tests use to play a broken server.
"""

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhenglian import __version__
from zhenglian.reference.server import models as m
from zhenglian.reference.server.checks import UploadRefused, check_signed_upload
from zhenglian.reference.server.config import ServerConfig
from zhenglian.reference.server.pki import (
    ALGORITHMS,
    PURPOSE,
    LoginRefused,
    TrustStore,
    verify_login,
)
from zhenglian.reference.server.store import Store, Task, now_iso, sha256_hex

API = "/api/v1"
INLINE_READ_BYTES = 1 << 20  # documents up to this size are read on the event loop
FAULTS = ("500", "upload-500", "upload-commit-500", "garbage", "slow")
StatusFilter = Literal["pending", "signed", "rejected", "all"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.zh, self.en, self.headers = status, code, zh, en, headers


def _body(code: str, zh: str, en: str) -> dict[str, str]:
    return {"error": code, "message_zh": zh, "message_en": en}


def _not_found(what_zh: str = "任务", what_en: str = "task") -> ApiError:
    return ApiError(404, f"{what_en}_not_found".replace(" ", "_"), f"{what_zh}不存在", f"{what_en} not found")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": m.ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422)
}


@dataclass(frozen=True)
class Principal:
    uscc: str
    cert_sha256: str
    token: str


class FaultInjection:
    """The fault switch (``zhenglian-server fault set …``) that tests use to play a broken server.

    Plain ASGI middleware (Starlette's ``@app.middleware("http")`` runs every request through an
    extra task and a memory stream — a good part of a small request's CPU): ``500`` answers every
    API request with a 500, ``upload-500`` every upload; ``garbage`` answers with a non-JSON body;
    ``slow[:s]`` waits before answering; ``upload-commit-500`` lets an upload be recorded and then
    answers 500 instead of its 200.  No fault set: the request goes straight to the app.
    """

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app, self.store = app, store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API):
            await self.app(scope, receive, send)
            return
        kind, _, arg = self.store.get_meta("fault").partition(":")
        is_upload = scope["method"] == "PUT" and scope["path"].endswith("/signed")
        if kind == "500" or (kind == "upload-500" and is_upload):
            await JSONResponse(_body("fault_injected", "服务器内部错误（测试注入）", "internal error (injected)"),
                               status_code=500)(scope, receive, send)
            return
        if kind == "garbage":
            await Response(b"<html>\x00\xff garbage", status_code=200, media_type="application/json")(
                scope, receive, send)
            return
        if kind == "slow":
            try:
                seconds = min(float(arg or 5), 120.0)
            except ValueError:
                seconds = 5.0
            await asyncio.sleep(seconds)
        if not (kind == "upload-commit-500" and is_upload):
            await self.app(scope, receive, send)
            return
        recorded = False  # the upload's own 200 is held back and replaced; any other answer goes out

        async def hold_200(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and message["status"] == 200:
                recorded = True
            if not recorded:
                await send(message)

        await self.app(scope, receive, hold_200)
        if recorded:
            await JSONResponse(_body("fault_injected", "服务器内部错误（测试注入，已记录）",
                                     "internal error after recording (injected)"), status_code=500)(scope, receive, send)


def create_app(config: ServerConfig) -> FastAPI:
    store = Store(config)
    trust = TrustStore(store)
    app = FastAPI(
        title="zhenglian reference signing server",
        version=__version__,
        description="参考签署服务器 / reference signing server for the zhenglian client. "
                    "Protocol: docs/server-api.md",
        responses=ERRORS,
    )
    app.state.store = store
    app.state.config = config
    bearer = HTTPBearer(auto_error=False, description="token from POST /api/v1/auth/login")

    # --- errors ------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.zh, exc.en), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:5])
        return JSONResponse(_body("invalid_request", f"请求格式不正确：{where}", f"malformed request: {where}"),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, f"请求无法处理（{exc.status_code}）", str(exc.detail)),
                            status_code=exc.status_code)

    # --- fault injection (tests) -----------------------------------------------

    app.add_middleware(FaultInjection, store=store)

    # --- helpers ---------------------------------------------------------------

    def origin_of(request: Request) -> str:
        if config.origin:
            return config.origin.rstrip("/")
        host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
        return f"{request.url.scheme}://{host}"

    # principal() and get_task() are one indexed SQLite read each (WAL: a read never waits for a
    # writer), as the fault switch's: run on the event loop, not handed to a worker thread and back.
    async def principal(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        if creds is None or not creds.credentials:
            raise ApiError(401, "auth_required", "需要登录", "login required",
                           {"WWW-Authenticate": "Bearer"})
        row = store.session(creds.credentials)
        if row is None:
            raise ApiError(401, "auth_invalid", "登录凭证无效，请重新登录", "invalid token; log in again",
                           {"WWW-Authenticate": "Bearer"})
        if row["expires_at"] < time.time():
            raise ApiError(401, "auth_expired", "登录已过期，请重新登录", "the login expired; log in again",
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return Principal(row["uscc"], row["cert_sha256"], creds.credentials)

    Auth = Annotated[Principal, Depends(principal)]  # noqa: N806

    def own_task(task_id: str, who: Principal) -> Task:
        task = store.task(task_id) if len(task_id) <= 64 else None
        if task is None or task.uscc != who.uscc:
            raise _not_found()  # another institution's task does not exist for you
        return task

    def task_model(task: Task) -> m.TaskModel:
        p = task.placement
        signed = None
        if task.status == "signed" and task.signed_sha256:
            signed = m.SignedInfo(sha256=task.signed_sha256, signed_at=task.signed_at or "",
                                  url=f"{API}/tasks/{task.id}/signed")
        return m.TaskModel(
            id=task.id, title=task.title, business_type=task.business_type, created_at=task.created_at,
            deadline=task.deadline, status=task.status, seal_type=task.seal_type,  # type: ignore[arg-type]
            placement=m.Placement(**{k: p[k] for k in m.Placement.model_fields if k in p}),
            document=m.DocumentInfo(filename=task.filename, sha256=task.doc_sha256, size=task.doc_size,
                                    url=f"{API}/tasks/{task.id}/document"),
            signed=signed, reject_reason=task.reject_reason,
        )

    def pdf_response(data: bytes, filename: str) -> Response:
        quoted = urllib.parse.quote(filename)
        digest = sha256_hex(data)
        return Response(data, media_type="application/pdf", headers={
            "X-Content-SHA256": digest, "ETag": f'"{digest}"',
            "Content-Disposition": f"attachment; filename=\"document.pdf\"; filename*=UTF-8''{quoted}",
        })

    def b64(value: str, what: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "bad_base64", f"{what} 不是有效的 base64", f"{what} is not valid base64") from None

    # --- routes ----------------------------------------------------------------

    @app.get(f"{API}/info", response_model=m.ServerInfo, tags=["server"])
    def info(request: Request) -> m.ServerInfo:
        """Who the server is (no login needed)."""
        return m.ServerInfo(name="zhenglian-reference-server", version=__version__, api_version=1,
                            origin=origin_of(request), time=now_iso())

    @app.post(f"{API}/auth/challenge", response_model=m.Challenge, tags=["auth"])
    def challenge(request: Request) -> m.Challenge:
        """A one-time login challenge; the key signs its canonical bytes (docs/server-api.md)."""
        nonce = secrets.token_urlsafe(32)
        expires = int(time.time()) + config.challenge_ttl_s
        origin = origin_of(request)
        store.add_challenge(nonce, origin, expires)
        return m.Challenge(nonce=nonce, origin=origin, expires_at=expires, purpose=PURPOSE,
                           algorithms=list(ALGORITHMS))

    @app.post(f"{API}/auth/login", response_model=m.LoginResult, tags=["auth"])
    def login(body: m.LoginRequest) -> m.LoginResult:
        """Exchange a signed challenge for a short-lived bearer token."""
        cert = b64(body.certificate, "certificate")
        chain = [b64(c, "chain") for c in body.chain]
        signature = b64(body.signature, "signature")
        try:
            who = verify_login(trust, store, body.nonce, cert, chain, body.algorithm, signature, time.time())
        except LoginRefused as exc:
            status = 403 if exc.code == "institution_unknown" else 401
            raise ApiError(status, exc.code, exc.zh, exc.en) from None
        token = secrets.token_urlsafe(32)
        expires = int(time.time()) + config.token_ttl_s
        store.add_session(token, who.uscc, who.cert_sha256, expires)
        inst = store.institution(who.uscc)
        return m.LoginResult(token=token, expires_at=expires,
                             institution=m.Institution(uscc=who.uscc, name=inst["name"] if inst else ""),
                             certificate_sha256=who.cert_sha256)

    @app.post(f"{API}/auth/logout", status_code=204, tags=["auth"])
    def logout(who: Auth) -> Response:
        store.revoke_session(who.token)
        return Response(status_code=204)

    @app.get(f"{API}/tasks", response_model=m.TaskList, tags=["tasks"])
    def list_tasks(who: Auth, status: StatusFilter = "pending") -> m.TaskList:
        """The institution's tasks with this status (``all`` for every task)."""
        seq = store.last_seq()
        tasks = store.tasks(who.uscc, None if status == "all" else status)
        return m.TaskList(tasks=[task_model(t) for t in tasks], seq=seq)

    @app.get(f"{API}/tasks/{{task_id}}", response_model=m.TaskModel, tags=["tasks"])
    async def get_task(task_id: str, who: Auth) -> m.TaskModel:
        return task_model(own_task(task_id, who))

    @app.get(f"{API}/tasks/{{task_id}}/document", tags=["tasks"],
             responses={200: {"content": {"application/pdf": {}}, "description": "the original PDF"}})
    async def document(task_id: str, who: Auth) -> Response:
        """The original document; its SHA-256 is in the task and in ``X-Content-SHA256``."""
        task = own_task(task_id, who)
        if task.doc_size <= INLINE_READ_BYTES:  # a page cache read: not worth a worker thread
            return pdf_response(store.read_file(task.doc_sha256), task.filename)
        return await run_in_threadpool(lambda: pdf_response(store.read_file(task.doc_sha256), task.filename))

    @app.get(f"{API}/tasks/{{task_id}}/signed", tags=["tasks"],
             responses={200: {"content": {"application/pdf": {}}, "description": "the signed PDF"}})
    def signed_document(task_id: str, who: Auth) -> Response:
        task = own_task(task_id, who)
        if task.status != "signed" or not task.signed_sha256:
            raise ApiError(404, "not_signed", "任务尚未签署", "the task is not signed")
        return pdf_response(store.read_file(task.signed_sha256), task.filename)

    @app.put(f"{API}/tasks/{{task_id}}/signed", response_model=m.UploadResult, tags=["tasks"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def upload(task_id: str, request: Request, who: Auth) -> m.UploadResult:
        """Upload the signed PDF.  Idempotent: the same file again answers 200 with ``duplicate``."""
        task = own_task(task_id, who)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > config.max_upload_bytes:
            raise ApiError(413, "too_large", f"文件超过 {config.max_upload_bytes} 字节的上限",
                           f"the file exceeds the {config.max_upload_bytes}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_upload_bytes:
                raise ApiError(413, "too_large", f"文件超过 {config.max_upload_bytes} 字节的上限",
                               f"the file exceeds the {config.max_upload_bytes}-byte limit")
            chunks.append(chunk)
        data = b"".join(chunks)
        sha = hashlib.sha256(data).hexdigest()
        claimed = request.headers.get("x-content-sha256")
        if claimed and claimed.lower() != sha:
            raise ApiError(400, "hash_mismatch", "上传内容与声明的 SHA-256 不符（传输中损坏）",
                           "the body does not match X-Content-SHA256 (damaged in transit)")
        return await run_in_threadpool(_accept, task, data, sha)

    def _accept(task: Task, data: bytes, sha: str) -> m.UploadResult:
        if task.status == "signed":
            if task.signed_sha256 == sha:
                return m.UploadResult(task_id=task.id, status="signed", sha256=sha, duplicate=True,
                                      signed_at=task.signed_at)
            raise ApiError(409, "already_signed", "该任务已用另一份文件签署",
                           "the task was already signed with a different file")
        if task.status == "rejected":
            raise ApiError(409, "task_rejected", "该任务已被拒签", "the task was rejected")
        try:
            accepted = check_signed_upload(data, store.read_file(task.doc_sha256), task.uscc, trust,
                                           certify=bool(task.placement.get("certify")))
        except UploadRefused as exc:
            raise ApiError(exc.status, exc.code, exc.zh, exc.en) from None
        store.put_file(data)
        outcome, current = store.record_signed(task.id, sha, len(data), accepted.signer_sha256)
        if outcome in ("recorded", "duplicate"):
            return m.UploadResult(task_id=task.id, status="signed", sha256=sha,
                                  duplicate=outcome == "duplicate", signed_at=current.signed_at)
        if outcome == "conflict":
            raise ApiError(409, "already_signed", "该任务已用另一份文件签署",
                           "the task was already signed with a different file")
        if outcome == "rejected":
            raise ApiError(409, "task_rejected", "该任务已被拒签", "the task was rejected")
        raise _not_found()

    @app.post(f"{API}/tasks/{{task_id}}/reject", response_model=m.TaskModel, tags=["tasks"])
    def reject(task_id: str, body: m.RejectRequest, who: Auth) -> m.TaskModel:
        """Refuse to sign, with a reason (idempotent for the same reason)."""
        own_task(task_id, who)
        outcome, task = store.reject(task_id, body.reason.strip() or body.reason)
        if outcome == "signed":
            raise ApiError(409, "already_signed", "任务已签署，不能拒签", "the task is signed; it cannot be rejected")
        if outcome == "conflict":
            raise ApiError(409, "already_rejected", "任务已因其他原因被拒签",
                           "the task was already rejected for another reason")
        if task is None:
            raise _not_found()
        return task_model(task)

    @app.get(f"{API}/events", response_model=m.Events, tags=["tasks"])
    async def events(who: Auth, since: Annotated[int, Query(ge=-1, le=2**53)] = -1,
                     wait: Annotated[float, Query(ge=0, le=60)] = 0) -> m.Events:
        """Long-poll: task events after ``since``, waiting up to ``wait`` seconds for one.

        ``since=-1`` answers at once with the current sequence number.
        """
        if since < 0:
            return m.Events(seq=store.last_seq(), events=[])
        deadline = time.monotonic() + min(wait, config.max_wait_s)
        while True:
            rows = store.events_since(who.uscc, since)
            if rows or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        seq = rows[-1]["seq"] if rows else max(since, store.last_seq())
        return m.Events(seq=seq, events=[m.Event(seq=r["seq"], task_id=r["task_id"], kind=r["kind"],
                                                 status=r["status"], at=r["at"]) for r in rows])

    @app.get(f"{API}/seals", response_model=m.Seals, tags=["seals"])
    def seals(who: Auth) -> m.Seals:
        """The institution's seals kept on the server (集中式用章)."""
        out = []
        for r in store.seals(who.uscc):
            png = bytes(r["png"])
            out.append(m.SealModel(id=r["id"], name=r["name"], type=r["seal_type"], width_mm=r["width_mm"],
                                   height_mm=r["height_mm"], png_base64=base64.b64encode(png).decode(),
                                   png_sha256=sha256_hex(png), cert_sha256=who.cert_sha256))
        return m.Seals(seals=out)

    @app.post(f"{API}/tasks/{{task_id}}/ticket", response_model=m.Ticket, tags=["bridge"])
    def ticket(task_id: str, who: Auth) -> m.Ticket:
        """A one-time ticket naming this task, for the web page to hand to the local client."""
        task = own_task(task_id, who)
        value = secrets.token_urlsafe(24)
        expires = int(time.time()) + config.ticket_ttl_s
        store.add_ticket(value, task.id, who.uscc, expires)
        return m.Ticket(ticket=value, task_id=task.id, expires_at=expires)

    @app.post(f"{API}/tickets/check", response_model=m.TicketCheck, tags=["bridge"])
    def check_ticket(body: m.RedeemRequest) -> m.TicketCheck:
        """Is this ticket good, and for which task and institution?  No login, not used up:
        the client asks before it asks the operator for any PIN."""
        row = store.peek_ticket(body.ticket, time.time())
        if row is None:
            raise ApiError(404, "ticket_invalid", "签署凭据无效、已使用或已过期",
                           "the ticket is unknown, used or expired")
        return m.TicketCheck(task_id=row["task_id"], uscc=row["uscc"], expires_at=int(row["expires_at"]))

    @app.post(f"{API}/tickets/redeem", response_model=m.Redeemed, tags=["bridge"])
    def redeem(body: m.RedeemRequest, who: Auth) -> m.Redeemed:
        """Exchange a ticket (once) for its task; only for the same institution."""
        row = store.take_ticket(body.ticket, who.uscc, time.time())
        if row is None:
            raise ApiError(404, "ticket_invalid", "签署凭据无效、已使用或已过期",
                           "the ticket is unknown, used or expired")
        return m.Redeemed(task_id=row["task_id"], task=task_model(own_task(row["task_id"], who)))

    # The institution's web page (demo, docs/bridge.md): a router of its own, outside the API schema.
    from zhenglian.reference.server import web

    app.include_router(web.router(store, config))
    return app
