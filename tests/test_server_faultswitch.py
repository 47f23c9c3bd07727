"""The reference server's fault switch (plain ASGI middleware), in process: what each fault
answers, which requests it touches, and that the app runs exactly when it should."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse

from zhenglian.reference.server.app import FaultInjection

UPLOAD = "/api/v1/tasks/t1/signed"


class _Meta:
    def __init__(self, fault: str) -> None:
        self.fault = fault

    def get_meta(self, key: str, default: str = "") -> str:
        assert key == "fault"
        return self.fault


class _App:
    """Answers ``status`` with a JSON body naming the request; counts its calls."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.calls = status, []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append((scope["method"], scope["path"]))
        await JSONResponse({"path": scope["path"]}, status_code=self.status)(scope, receive, send)


def _request(fault: str, method: str, path: str, status: int = 200) -> tuple[httpx.Response, _App]:
    app = _App(status)
    wrapped = FaultInjection(app, _Meta(fault))  # type: ignore[arg-type]

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t") as c:
            return await c.request(method, path, content=b"%PDF-1.7" if method == "PUT" else None)

    return asyncio.run(go()), app


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/tasks"), ("PUT", UPLOAD), ("GET", "/")])
def test_no_fault_goes_straight_to_the_app(method: str, path: str) -> None:
    r, app = _request("", method, path)
    assert r.status_code == 200 and r.json() == {"path": path} and app.calls == [(method, path)]


def test_500_answers_every_api_request_without_running_it() -> None:
    for method, path in (("GET", "/api/v1/tasks"), ("PUT", UPLOAD)):
        r, app = _request("500", method, path)
        assert r.status_code == 500 and r.json()["error"] == "fault_injected" and app.calls == []
    r, app = _request("500", "GET", "/web/index.html")  # outside the API: untouched
    assert r.status_code == 200 and app.calls == [("GET", "/web/index.html")]


def test_upload_500_touches_uploads_only() -> None:
    r, app = _request("upload-500", "PUT", UPLOAD)
    assert r.status_code == 500 and r.json()["message_en"] == "internal error (injected)" and app.calls == []
    r, app = _request("upload-500", "GET", "/api/v1/tasks/t1")
    assert r.status_code == 200 and len(app.calls) == 1


def test_garbage_is_not_json() -> None:
    r, app = _request("garbage", "GET", "/api/v1/tasks")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and app.calls == []
    with pytest.raises(ValueError):
        r.json()


def test_slow_then_answers() -> None:
    r, app = _request("slow:0", "GET", "/api/v1/tasks")
    assert r.status_code == 200 and len(app.calls) == 1


def test_upload_commit_500_records_then_answers_500() -> None:
    r, app = _request("upload-commit-500", "PUT", UPLOAD)
    assert app.calls == [("PUT", UPLOAD)]  # the upload ran (and was recorded)
    assert r.status_code == 500 and r.json()["message_en"] == "internal error after recording (injected)"


def test_upload_commit_500_lets_a_refusal_through() -> None:
    r, app = _request("upload-commit-500", "PUT", UPLOAD, status=422)
    assert r.status_code == 422 and r.json() == {"path": UPLOAD} and len(app.calls) == 1
    r, app = _request("upload-commit-500", "GET", "/api/v1/tasks/t1")  # not an upload: its 200 goes out
    assert r.status_code == 200 and r.json() == {"path": "/api/v1/tasks/t1"}
