"""The bridge's HTTP service: what it refuses, its CORS, its limits, and a fuzz loop.

The service runs in this process on a free loopback port, with a job table
that records sign requests (the signing itself: test_bridge_jobs.py).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhenglian import errors
from zhenglian.bridge import protocol
from zhenglian.bridge.jobs import DONE, JobTable
from zhenglian.bridge.ratelimit import OriginBuckets, TokenBucket
from zhenglian.bridge.service import BridgeService

ALLOWED = "https://sign.example.org"
LOCAL = "http://127.0.0.1:8765"
SERVER = "https://sign.example.org"


class RecordingJobs:
    """Records sign requests; each job ends at once (so the next is not "busy")."""

    def __init__(self, finish: bool = True) -> None:
        self.table = JobTable()
        self.requests: list[protocol.SignRequest] = []
        self.finish = finish
        self.busy = False

    def keys(self) -> list[Any]:
        return []

    def submit(self, req: protocol.SignRequest) -> Any:
        job = self.table.create(req.origin, req.task_id)
        self.requests.append(req)
        if self.finish:
            job.state, job.finished = DONE, time.monotonic()
        return job

    def get(self, job_id: str, origin: str | None) -> Any:
        return self.table.get(job_id, origin)


def start(finish: bool = True, origins: list[str] | None = None) -> tuple[BridgeService, RecordingJobs]:
    s = SimpleNamespace(allowed_origins=origins if origins is not None else [ALLOWED, LOCAL, "http://evil.example"],
                        server_url="", ca_bundle="")
    jobs = RecordingJobs(finish)
    service = BridgeService(protocol.Policy(s), jobs, ports=[0])
    service.start()
    return service, jobs


@pytest.fixture
def bridge():  # type: ignore[no-untyped-def]
    service, jobs = start()
    yield SimpleNamespace(service=service, jobs=jobs, url=service.url, port=service.port)
    service.stop()


def sign_body(**changes: Any) -> dict[str, Any]:
    body = {"server": SERVER, "taskId": "0a73efd625cc48c2", "ticket": "tkt-" + "x" * 28}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def raw(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send raw bytes; the whole answer (the service closes after one request)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
        return out


def status_line(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


# --- status and origins -----------------------------------------------------------

def test_status_by_origin(bridge) -> None:  # type: ignore[no-untyped-def]
    ok = httpx.get(f"{bridge.url}/v1/status", headers={"Origin": ALLOWED})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED and "Origin" in ok.headers["vary"]
    assert ok.json()["installed"] is True and ok.json()["api"] == 1
    assert "keys" not in ok.json()  # the page learns only whether a key is there (key_present)
    plain = httpx.get(f"{bridge.url}/v1/status")  # a local program or the address bar: no Origin
    assert plain.status_code == 200 and "keys" not in plain.json()
    assert "access-control-allow-origin" not in plain.headers
    for origin in ("https://evil.example", "null", "https://sign.example.org.evil.example",
                   "http://sign.example.org", "https://sign.example.org:444", "https://sign.example.org/x"):
        r = httpx.get(f"{bridge.url}/v1/status", headers={"Origin": origin})
        assert r.status_code == 403, origin
        assert r.json()["error"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in r.headers
    two = raw(bridge.port, f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{bridge.port}\r\nOrigin: {ALLOWED}\r\n"
                           f"Origin: https://evil.example\r\n\r\n".encode())
    assert status_line(two) == 403


def test_remote_http_origin_in_settings_does_not_count() -> None:
    service, _ = start(origins=["http://evil.example", "sign.example.org"])
    try:
        assert protocol.Policy(SimpleNamespace(allowed_origins=["http://evil.example", "sign.example.org"],
                                               server_url="")).origins() == {"https://sign.example.org"}
        r = httpx.get(f"{service.url}/v1/status", headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
    finally:
        service.stop()


def test_rebinding_host_is_refused(bridge) -> None:  # type: ignore[no-untyped-def]
    for host in ("evil.example", f"evil.example:{bridge.port}", "127.0.0.1", f"127.0.0.1:{bridge.port + 1}",
                 f"127.0.0.2:{bridge.port}", f"[::1]:{bridge.port}"):
        r = httpx.get(f"{bridge.url}/v1/status", headers={"Host": host, "Origin": ALLOWED})
        assert r.status_code == 421, host
        assert r.json()["error"] == "host_not_allowed"
    assert httpx.get(f"http://localhost:{bridge.port}/v1/status").status_code == 200
    no_host = raw(bridge.port, b"GET /v1/status HTTP/1.0\r\n\r\n")
    assert status_line(no_host) == 421


def test_preflight_with_private_network_access(bridge) -> None:  # type: ignore[no-untyped-def]
    headers = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type", "Access-Control-Request-Private-Network": "true"}
    r = httpx.options(f"{bridge.url}/v1/sign", headers=headers)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert r.headers["access-control-allow-private-network"] == "true"
    assert r.headers["access-control-allow-methods"] == "GET, POST"
    assert r.headers["access-control-allow-headers"] == "Content-Type"
    no_pna = httpx.options(f"{bridge.url}/v1/sign", headers={k: v for k, v in headers.items()
                                                            if "Private" not in k})
    assert no_pna.status_code == 204 and "access-control-allow-private-network" not in no_pna.headers
    foreign = httpx.options(f"{bridge.url}/v1/sign", headers={**headers, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    extra = httpx.options(f"{bridge.url}/v1/sign", headers={**headers, "Access-Control-Request-Headers": "x-token"})
    assert extra.status_code == 400
    put = httpx.options(f"{bridge.url}/v1/sign", headers={**headers, "Access-Control-Request-Method": "PUT"})
    assert put.status_code == 400


# --- sign requests ------------------------------------------------------------------

def test_sign_request_accepted_and_polled_by_its_origin_only(bridge) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{bridge.url}/v1/sign", headers={"Origin": ALLOWED},
                   json=sign_body(institution="91441900MA51C3D46H"))
    assert r.status_code == 202, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    job = r.json()
    assert job["poll"] == f"/v1/jobs/{job['job']}" and "ticket" not in json.dumps(job)
    (req,) = bridge.jobs.requests
    assert (req.origin, req.server_origin, req.task_id, req.institution) == \
        (ALLOWED, SERVER, "0a73efd625cc48c2", "91441900MA51C3D46H")
    assert req.ticket not in repr(req)
    mine = httpx.get(f"{bridge.url}{job['poll']}", headers={"Origin": ALLOWED})
    assert mine.status_code == 200 and mine.json()["state"] == DONE
    assert httpx.get(f"{bridge.url}{job['poll']}", headers={"Origin": LOCAL}).status_code == 404
    assert httpx.get(f"{bridge.url}{job['poll']}").status_code == 403
    assert httpx.get(f"{bridge.url}/v1/jobs/..%2f..", headers={"Origin": ALLOWED}).status_code == 404


def test_sign_refusals(bridge) -> None:  # type: ignore[no-untyped-def]
    url = f"{bridge.url}/v1/sign"
    ok = {"Origin": ALLOWED}

    def post(headers: dict[str, str], **kw: Any) -> httpx.Response:
        return httpx.post(url, headers=headers, **kw)

    cases: list[tuple[httpx.Response, int, str]] = [
        (post({}, json=sign_body()), 403, "origin_not_allowed"),
        (post({"Origin": "https://evil.example"}, json=sign_body()), 403, "origin_not_allowed"),
        (post({**ok, "Host": "evil.example"}, json=sign_body()), 421, "host_not_allowed"),
        (post({**ok, "Content-Type": "text/plain"}, content=json.dumps(sign_body())), 400, "bad_request"),
        (post({**ok, "Content-Type": "application/json"}, content=b"{not json"), 400, "bad_request"),
        (post({**ok, "Content-Type": "application/json"}, content=b"\xff\xfe"), 400, "bad_request"),
        (post(ok, json=[1, 2]), 400, "bad_request"),
        (post(ok, json=sign_body(extra="x")), 400, "bad_request"),
        (post(ok, json=sign_body(ticket=None)), 400, "bad_request"),
        (post(ok, json=sign_body(ticket="short")), 400, "bad_request"),
        (post(ok, json=sign_body(taskId="../../etc")), 400, "bad_request"),
        (post(ok, json=sign_body(institution="nope")), 400, "bad_request"),
        (post(ok, json=sign_body(server=12)), 400, "bad_request"),
        (post(ok, json=sign_body(server="https://evil.example")), 403, "server_not_allowed"),
        (post(ok, json=sign_body(server="http://sign.example.org")), 403, "server_not_allowed"),
        (post(ok, json=sign_body(server="https://sign.example.org.evil.example")), 403, "server_not_allowed"),
        (post(ok, json=sign_body(server="ftp://sign.example.org")), 403, "server_not_allowed"),
        (post(ok, json=sign_body(padding="x" * 5000)), 413, "too_large"),
        (post({**ok, "Content-Type": "application/json"}, content=b"[" * 3000 + b"]" * 3000), 413, "too_large"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]) == (status, code), response.request.content[:80]
        assert response.headers.get("access-control-allow-origin") in (None, ALLOWED)
    deep = b"[" * 2000 + b"]" * 2000  # within the size limit, but too deep for json
    r = post({**ok, "Content-Type": "application/json"}, content=deep)
    assert r.status_code == 400
    chunked = raw(bridge.port, (f"POST /v1/sign HTTP/1.1\r\nHost: 127.0.0.1:{bridge.port}\r\nOrigin: {ALLOWED}\r\n"
                                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\n{}{}{\r\n0\r\n\r\n").encode())
    assert status_line(chunked) == 400
    no_length = raw(bridge.port, (f"POST /v1/sign HTTP/1.0\r\nHost: 127.0.0.1:{bridge.port}\r\nOrigin: {ALLOWED}\r\n"
                                  "Content-Type: application/json\r\n\r\n{}").encode())
    assert status_line(no_length) == 400
    assert bridge.jobs.requests == []  # none of them reached the job table
    assert httpx.put(f"{bridge.url}/v1/sign", headers=ok).status_code == 501
    assert httpx.get(f"{bridge.url}/v2/anything", headers=ok).status_code == 404


@pytest.mark.parametrize("server", [
    "https://user@sign.example.org", "https://user:pw@sign.example.org", "https://sign.example.org?x=1",
    "https://sign.example.org/?", "https://sign.example.org#frag", "https://sign.example.org/#",
    "https://sign.example.org/evilpath", "https://sign.example.org/evilpath/", "https://sign.example.org/a/..",
    "https://sign.example.org\\@evil.example", "sign.example.org", " https://sign.example.org",
    "https://sign.example.org/%2e%2e", "https://sign.example.org\t", "https://sign.example.org:99999",
    "https://sign.example.org/api/v1",
])
def test_server_must_be_exactly_a_configured_signing_system(bridge, server: str) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{bridge.url}/v1/sign", headers={"Origin": ALLOWED}, json=sign_body(server=server))
    assert (r.status_code, r.json()["error"]) == (403, "server_not_allowed")
    assert bridge.jobs.requests == []


def test_server_as_configured_and_equivalent_spellings_accepted() -> None:
    s = SimpleNamespace(allowed_origins=[ALLOWED], server_url="https://gjj.example.org/sign/", ca_bundle="")
    policy = protocol.Policy(s)
    for server, base in [("https://sign.example.org", ALLOWED), ("https://sign.example.org/", ALLOWED),
                         ("HTTPS://Sign.Example.org:443", ALLOWED),
                         ("https://gjj.example.org/sign", "https://gjj.example.org/sign")]:
        req = protocol.parse_sign_request(json.dumps(sign_body(server=server)).encode(), ALLOWED,
                                          policy.origins(), policy.servers())
        assert req.server == base
    for server in ("https://gjj.example.org", "https://gjj.example.org/other", "https://sign.example.org/sign"):
        with pytest.raises(errors.BridgeServerNotAllowed):
            protocol.parse_sign_request(json.dumps(sign_body(server=server)).encode(), ALLOWED,
                                        policy.origins(), policy.servers())
    dup = b'{"server": "https://sign.example.org", "server": "https://evil.example", "taskId": "t1", ' \
          b'"ticket": "tkt-xxxxxxxxxxxxxxxx"}'
    with pytest.raises(errors.BridgeBadRequest):  # a duplicate member: which one would count is parser lore
        protocol.parse_sign_request(dup, ALLOWED, policy.origins(), policy.servers())


def test_busy_and_rate_limits() -> None:
    service, jobs = start(finish=False)
    now = [0.0]  # the buckets' clock stands still until the test moves it
    service.requests = OriginBuckets(protocol.REQUESTS_PER_S, protocol.REQUEST_BURST, clock=lambda: now[0])
    service.signs = TokenBucket(protocol.SIGNS_PER_MIN / 60, protocol.SIGN_BURST, clock=lambda: now[0])
    try:
        codes = [httpx.post(f"{service.url}/v1/sign", headers={"Origin": ALLOWED}, json=sign_body()).status_code
                 for _ in range(8)]
        # One job at a time (409), and five valid sign requests per burst (then 429).
        assert codes == [202, 409, 409, 409, 409, 429, 429, 429]
        assert len(jobs.requests) == 1
        page = {"Origin": ALLOWED}
        statuses = [httpx.get(f"{service.url}/v1/status", headers=page).status_code for _ in range(60)]
        assert statuses == [200] * (protocol.REQUEST_BURST - 8) + [429] * 8
        now[0] += 2.5  # refilled
        assert httpx.get(f"{service.url}/v1/status", headers=page).status_code == 200
        now[0] += 60
        assert httpx.post(f"{service.url}/v1/sign", headers={"Origin": ALLOWED}, json=sign_body()).status_code == 409
    finally:
        service.stop()


def test_foreign_origins_cannot_spend_the_page_budget() -> None:
    service, _ = start()
    now = [0.0]  # a clock that stands still: no refill during the test
    service.requests = OriginBuckets(protocol.REQUESTS_PER_S, protocol.REQUEST_BURST,
                                     foreign_rate_per_s=protocol.FOREIGN_REQUESTS_PER_S,
                                     foreign_burst=protocol.FOREIGN_BURST, clock=lambda: now[0])
    try:
        with httpx.Client(timeout=10) as c:
            foreign = [c.get(f"{service.url}/v1/status", headers={"Origin": f"https://evil{i % 7}.example"}).status_code
                       for i in range(120)]
            local = [c.get(f"{service.url}/v1/status").status_code for _ in range(40)]
            page = [c.get(f"{service.url}/v1/status", headers={"Origin": ALLOWED}).status_code
                    for _ in range(protocol.REQUEST_BURST)]
            other_page = c.get(f"{service.url}/v1/status", headers={"Origin": LOCAL}).status_code
        # Foreign pages share one small budget (403 while it lasts, then 429) ...
        assert foreign == [403] * protocol.FOREIGN_BURST + [429] * (120 - protocol.FOREIGN_BURST)
        assert local == [200] * protocol.FOREIGN_BURST + [429] * (40 - protocol.FOREIGN_BURST)
        # ... and the signing page still has all of its own.
        assert page == [200] * protocol.REQUEST_BURST
        assert other_page == 200  # each allowed origin has a bucket of its own
    finally:
        service.stop()


def _read_answer(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except OSError:
        pass
    return out


def test_dripping_connections_do_not_keep_the_page_out(bridge) -> None:  # type: ignore[no-untyped-def]
    """Slowloris: twice as many connections as the cap, each dripping its headers; the page still gets in."""
    stop = threading.Event()
    head = f"GET /v1/status HTTP/1.0\r\nHost: 127.0.0.1:{bridge.port}\r\nX-Slow: ".encode()
    drips = []
    for _ in range(2 * protocol.MAX_CONNECTIONS):
        s = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
        s.sendall(head)
        drips.append(s)

    def drip() -> None:
        while not stop.wait(0.2):
            for s in drips:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    try:
        with httpx.Client(timeout=10) as c:
            codes = [c.get(f"{bridge.url}/v1/status", headers={"Origin": ALLOWED}).status_code for _ in range(5)]
        assert codes == [200] * 5
        assert bridge.service._server.connection_count() <= protocol.MAX_CONNECTIONS_PER_PEER  # all from 127.0.0.1
    finally:
        stop.set()
        t.join(5)
        for s in drips:
            s.close()


def test_a_connection_dripping_its_headers_is_dropped_at_the_deadline(bridge) -> None:  # type: ignore[no-untyped-def]
    bridge.service.header_deadline_s = 1.0
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as s:
        s.sendall(f"GET /v1/status HTTP/1.0\r\nHost: 127.0.0.1:{bridge.port}\r\n".encode())
        s.settimeout(0.2)  # the pace of the drip; each byte alone would satisfy a per-read timeout
        closed = False
        for _ in range(150):
            try:
                s.send(b"X")
                if s.recv(100) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:  # reset: closed as well
                closed = True
                break
        assert closed, "a connection still sending its headers after the deadline was kept"


def test_body_shorter_than_its_content_length_gets_400(bridge) -> None:  # type: ignore[no-untyped-def]
    bridge.service.body_deadline_s = 1.0
    body = json.dumps(sign_body()).encode()
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=30) as s:
        s.sendall(f"POST /v1/sign HTTP/1.0\r\nHost: 127.0.0.1:{bridge.port}\r\nOrigin: {ALLOWED}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body) + 40}\r\n\r\n".encode() + body)
        answer = _read_answer(s)  # the client keeps its side open: the answer must come anyway
    assert status_line(answer) == 400
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "bad_request"
    assert bridge.jobs.requests == []


@pytest.mark.parametrize("length", ["\u00b2", "\u00b9\u00b2", "9" * 40])
def test_a_content_length_that_is_not_ascii_digits_gets_400(bridge, caplog, length: str) -> None:  # type: ignore[no-untyped-def]
    """'²'.isdigit() is True but int() refuses it: a 400 bad_request, not a 500 with a traceback."""
    body = json.dumps(sign_body()).encode()
    answer = raw(bridge.port, f"POST /v1/sign HTTP/1.0\r\nHost: 127.0.0.1:{bridge.port}\r\nOrigin: {ALLOWED}\r\n"
                              f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
                              .encode("latin-1") + body)
    assert status_line(answer) == 400
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "bad_request"
    assert bridge.jobs.requests == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_stop_frees_the_port_and_fallback_ports() -> None:
    service, _ = start()
    port = service.port
    service.stop()
    again = BridgeService(protocol.Policy(SimpleNamespace(allowed_origins=[], server_url="")), RecordingJobs(),
                          ports=[port])
    assert again.start() == port
    taken = BridgeService(protocol.Policy(SimpleNamespace(allowed_origins=[], server_url="")), RecordingJobs(),
                          ports=[port, 0])
    assert taken.start() != port  # the first is taken: the next in the list
    again.stop()
    taken.stop()
    assert protocol.ports_to_try(21881) == [21881, 21882, 21883, 21884]
    assert protocol.ports_to_try(30000)[0] == 30000 and protocol.ports_to_try(80) == [21882, 21883, 21884]


# --- fuzz ---------------------------------------------------------------------------

_methods = st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "HEAD", "DELETE", "G\x00T", "", "POST POST"])
_paths = st.one_of(st.sampled_from(["/v1/status", "/v1/sign", "/v1/jobs/", "/v1/jobs/" + "a" * 20, "*",
                                    "http://127.0.0.1/v1/status", "/v1/status?x=%ff", "//", ""]),
                   st.text(max_size=80))
_header_names = st.sampled_from(["Host", "Origin", "Content-Type", "Content-Length", "Transfer-Encoding",
                                 "Access-Control-Request-Method", "Access-Control-Request-Private-Network",
                                 "Connection", "X-Fuzz", ""])
_header_values = st.one_of(st.sampled_from(["127.0.0.1:{port}", ALLOWED, "application/json", "-1", "99999999999",
                                            "chunked", "true", "null", "\x00"]), st.text(max_size=60))
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=5), max_leaves=12)


def _fuzz_service():  # type: ignore[no-untyped-def]
    service, jobs = start()
    # The fuzz is about parsing, not the rate limits: give it room.
    service.requests = OriginBuckets(1e6, 10**6)
    service.signs.rate = service.signs.burst = 1e6
    service.requests._tokens = service.signs._tokens = 1e6
    return service, jobs


def test_fuzzed_requests_never_break_the_service() -> None:
    service, jobs = _fuzz_service()
    port = service.port
    seen: dict[int, int] = {}
    lock = threading.Lock()
    try:
        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(method=_methods, path=_paths, headers=st.lists(st.tuples(_header_names, _header_values), max_size=8),
               body=st.one_of(st.binary(max_size=300), _json.map(lambda v: json.dumps(v).encode())))
        def one(method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> None:
            lines = [f"{method} {path} HTTP/1.1"]
            lines += [f"{k}: {v.replace('{port}', str(port))}" for k, v in headers]
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
            answer = raw(port, data, timeout=6)
            code = status_line(answer)
            with lock:
                seen[code] = seen.get(code, 0) + 1
            assert code != 500, answer[:300]
            if answer:
                assert b"Access-Control-Allow-Origin: *" not in answer

        one()

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(body=st.one_of(_json, st.dictionaries(st.sampled_from(["server", "taskId", "ticket", "institution"]),
                                                      _json, max_size=4)))
        def sign(body: Any) -> None:
            r = httpx.post(f"{service.url}/v1/sign", headers={"Origin": ALLOWED, "Content-Type": "application/json"},
                           content=json.dumps(body).encode(), timeout=5)
            assert r.status_code in (202, 400, 403, 409, 413), (r.status_code, r.text[:200])
            assert r.json()["error"] if r.status_code != 202 else r.json()["job"]

        sign()
        # Still up, and still strict.
        assert httpx.get(f"{service.url}/v1/status", headers={"Origin": ALLOWED}).status_code == 200
        assert httpx.get(f"{service.url}/v1/status", headers={"Origin": "https://evil.example"}).status_code == 403
        assert sum(seen.values()) >= 400 and len(seen) > 3, seen
        assert all(r.server_origin == SERVER for r in jobs.requests)
    finally:
        service.stop()
