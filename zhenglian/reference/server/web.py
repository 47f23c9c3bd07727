"""The institution's web page (机构端, demo): task list, 开始签名 → the local client.

Served at ``/web/`` by the reference server, next to the API; a router of
its own so the API (docs/server-api.md) stays as it is.  The page's script
(web_static/app.js) shows an institution's tasks, asks this server for a
one-time ticket when the operator clicks 开始签名, finds the zhenglian
client on 127.0.0.1 (docs/bridge.md), hands it the ticket, polls the job and
shows the task signed.

DEMO LOGIN: the operator just picks an institution.  A real signing system
authenticates its operators before it issues tickets; here anyone who can
reach the server can ask for one.  That costs nothing: a ticket only redeems
with that institution's own key login (``POST /api/v1/tickets/redeem``).
The ``/web/api`` endpoints are therefore not part of the API schema.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from zhenglian.reference.server.config import ServerConfig
from zhenglian.reference.server.store import Store, Task

STATIC = Path(__file__).with_name("web_static")
FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
         "install.html": "text/html; charset=utf-8"}
# The page may talk to itself and to the client on any loopback port (the
# bridge's ports, docs/bridge.md); nothing else, no inline script.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' http://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}

Uscc = Annotated[str, Query(min_length=18, max_length=18, pattern=r"^[0-9A-Z]{18}$")]
TaskId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _error(status: int, code: str, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": code, "message_zh": zh, "message_en": en}, status_code=status, headers=HEADERS)


def _task(task: Task) -> dict[str, object]:
    return {"id": task.id, "title": task.title, "business_type": task.business_type, "deadline": task.deadline,
            "status": task.status, "seal_type": task.seal_type, "filename": task.filename,
            "signed_at": task.signed_at, "reject_reason": task.reject_reason}


def router(store: Store, config: ServerConfig) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    def own(task_id: str, uscc: str) -> Task | None:
        task = store.task(task_id)
        return task if task is not None and task.uscc == uscc else None

    @r.get("/web")
    def web_root() -> Response:
        return RedirectResponse("/web/", status_code=308)

    @r.get("/web/")
    def page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)

    @r.get("/web/{name}")
    def static(name: str) -> Response:
        if name not in FILES:
            return _error(404, "not_found", "页面不存在", "no such page")
        return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)

    @r.get("/web/api/institutions")
    def institutions() -> JSONResponse:
        rows = store.institutions()
        return JSONResponse({"institutions": [{"uscc": x["uscc"], "name": x["name"]} for x in rows]},
                            headers=HEADERS)

    @r.get("/web/api/tasks")
    def tasks(institution: Uscc) -> JSONResponse:
        if store.institution(institution) is None:
            return _error(404, "institution_unknown", "机构未登记", "unknown institution")
        return JSONResponse({"tasks": [_task(t) for t in store.tasks(institution, None)]}, headers=HEADERS)

    @r.get("/web/api/tasks/{task_id}")
    def task(task_id: TaskId, institution: Uscc) -> JSONResponse:
        found = own(task_id, institution)
        if found is None:
            return _error(404, "task_not_found", "任务不存在", "task not found")
        return JSONResponse(_task(found), headers=HEADERS)

    @r.post("/web/api/tasks/{task_id}/ticket")
    def ticket(task_id: TaskId, institution: Uscc) -> JSONResponse:
        """A one-time ticket for this task (as ``POST /api/v1/tasks/{id}/ticket`` after a real login)."""
        found = own(task_id, institution)
        if found is None:
            return _error(404, "task_not_found", "任务不存在", "task not found")
        if found.status != "pending":
            return _error(409, "task_not_pending", "任务不是待签署状态", "the task is not pending")
        value = secrets.token_urlsafe(24)
        expires = int(time.time()) + config.ticket_ttl_s
        store.add_ticket(value, found.id, institution, expires)
        return JSONResponse({"ticket": value, "task_id": found.id, "expires_at": expires}, headers=HEADERS)

    return r
