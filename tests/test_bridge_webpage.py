"""The reference server's institution web page (/web/): files, headers, demo API, tickets."""

from __future__ import annotations

import re
import time

import httpx
from helpers.server import RunningServer  # noqa: F401

from zhenglian.bridge.protocol import DEFAULT_PORT, FALLBACK_PORTS
from zhenglian.reference.provision import DEMO_KEYS

NETCA, SZCA, GDCA = DEMO_KEYS


def test_page_and_its_files(reference_server: RunningServer) -> None:  # noqa: F811
    base = reference_server.url
    assert httpx.get(f"{base}/web").status_code == 308
    page = httpx.get(f"{base}/web/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' http://127.0.0.1:*" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    script = httpx.get(f"{base}/web/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    ports = re.search(r"BRIDGE_PORTS = \[([0-9, ]+)\]", script.text)
    assert ports and [int(p) for p in ports.group(1).split(",")] == [DEFAULT_PORT, *FALLBACK_PORTS]
    assert "innerHTML" not in script.text  # server and client texts go in as text only
    assert httpx.get(f"{base}/web/install.html").status_code == 200
    for name in ("web.py", "..%2fapp.py", "index.htm", "api"):
        r = httpx.get(f"{base}/web/{name}")
        assert r.status_code == 404, name
    schema = httpx.get(f"{base}/openapi.json").json()
    assert not any(path.startswith("/web") for path in schema["paths"])


def test_demo_api_and_tickets(reference_server: RunningServer) -> None:  # noqa: F811
    base = reference_server.url
    store = reference_server.store
    insts = httpx.get(f"{base}/web/api/institutions").json()["institutions"]
    assert {i["uscc"] for i in insts} == {k.uscc for k in DEMO_KEYS}
    mine = reference_server.add_tasks(SZCA.uscc, SZCA.organization, 2)
    other = reference_server.add_tasks(NETCA.uscc, NETCA.organization, 1)[0]
    listed = httpx.get(f"{base}/web/api/tasks", params={"institution": SZCA.uscc}).json()["tasks"]
    assert sorted(t["id"] for t in listed) == sorted(mine) and {t["status"] for t in listed} == {"pending"}
    assert httpx.get(f"{base}/web/api/tasks", params={"institution": "x"}).status_code == 422
    assert httpx.get(f"{base}/web/api/tasks", params={"institution": "91440000000000000X"}).status_code == 404
    assert httpx.get(f"{base}/web/api/tasks/{other}", params={"institution": SZCA.uscc}).status_code == 404
    # A ticket for one's own pending task; redeemable once, by that institution only.
    r = httpx.post(f"{base}/web/api/tasks/{mine[0]}/ticket", params={"institution": SZCA.uscc})
    assert r.status_code == 200 and r.json()["task_id"] == mine[0]
    ticket = r.json()["ticket"]
    assert store.take_ticket(ticket, NETCA.uscc, time.time()) is None
    assert store.take_ticket(ticket, SZCA.uscc, time.time())["task_id"] == mine[0]
    assert store.take_ticket(ticket, SZCA.uscc, time.time()) is None
    assert httpx.post(f"{base}/web/api/tasks/{other}/ticket", params={"institution": SZCA.uscc}).status_code == 404
    store.reject(mine[1], "测试")
    refused = httpx.post(f"{base}/web/api/tasks/{mine[1]}/ticket", params={"institution": SZCA.uscc})
    assert refused.status_code == 409 and refused.json()["error"] == "task_not_pending"
