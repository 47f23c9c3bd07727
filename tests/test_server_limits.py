"""The server client against hostile servers: deadlines, size bounds, nesting (issue 15, items 3 and 9).

Each hostile server is a thread with a raw socket on a free loopback port;
the facts checked are what the client did (its error) and how much the
server managed to send before the client stopped reading, never how long
anything took: the deadline runs on a clock the dripping server moves.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zhenglian import errors
from zhenglian.server import api, models, transport
from zhenglian.server.protocol import content_length

Handler = Callable[[socket.socket, dict[str, Any]], None]


class Hostile:
    """Accepts connections; each is given to ``handler`` in a thread of its own."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.state: dict[str, Any] = {"sent": 0, "connections": 0}
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.state["connections"] += 1
            t = threading.Thread(target=self._one, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.state.setdefault("paths", []).append(read_request(conn).split(b" ", 2)[1].decode())
                self.handler(conn, self.state)
            except OSError:
                pass  # the client hung up: what these servers wait for

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for t in self.threads:
            t.join(10)


def read_request(conn: socket.socket) -> bytes:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Hostile]]:
    servers: list[Hostile] = []

    def make(handler: Handler) -> Hostile:
        servers.append(Hostile(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def stream(conn: socket.socket, state: dict[str, Any], head: bytes, total: int, fill: bytes = b"\0") -> None:
    """Send ``head``, then ``total`` bytes of ``fill`` as fast as the client takes them (stop when it hangs up)."""
    conn.sendall(head)
    block = (fill * (65536 // len(fill) + 1))[:65536]
    while state["sent"] < total:
        conn.sendall(block)
        state["sent"] += len(block)


class PacedDrip:
    """A server answer sent one byte per look at the client's clock, which moves ``step_s`` with each
    byte: a deadline is met in the test's time, without real waiting."""

    def __init__(self, answer: bytes, step_s: float) -> None:
        self.answer, self.step_s, self.now = answer, step_s, 0.0
        self.looked = threading.Event()
        self.server: Hostile | None = None

    def clock(self) -> float:
        self.looked.set()
        return self.now

    def serve(self, hostile: Callable[[Handler], Hostile]) -> Hostile:
        self.server = hostile(self._send)
        return self.server

    def _send(self, conn: socket.socket, state: dict[str, Any]) -> None:
        assert self.server is not None
        for byte in self.answer:
            while not self.looked.wait(0.1):
                if state.get("stop") or self.server.stop.is_set():
                    return
            self.looked.clear()
            self.now += self.step_s
            conn.sendall(bytes([byte]))
            state["sent"] += 1
        state["finished"] = True


def client(url: str, **kw: Any) -> api.ServerClient:
    kw.setdefault("retries", 0)
    return api.ServerClient(url, sleep=lambda s: None, **kw)


# --- the call deadline ------------------------------------------------------------------

def test_a_server_dripping_bytes_hits_the_call_deadline(hostile) -> None:  # type: ignore[no-untyped-def]
    """One byte every "5 s" never trips the 20 s read timeout; the 45 s call deadline ends the call.

    The client's clock is the test's: each time the client looks at it (before
    each network read) the server sends one more byte and moves it 5 s on.
    """
    drip = PacedDrip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     + b"X-Drip: " + b"a" * 400, step_s=5.0)
    server = drip.serve(hostile)
    c = client(server.url, retries=2, clock=drip.clock)
    with pytest.raises(errors.ServerUnreachable) as info:
        c.info()
    server.state["stop"] = True
    assert "超时" in info.value.message_zh()
    assert not server.state.get("finished"), "the client read the whole dripped answer"
    assert server.state["connections"] == 1  # no retry once the call's time is used up
    assert server.state["sent"] <= api.CALL_S / 5 + 2  # the deadline passes at the 9th byte


# --- bounded JSON ------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_json_answer_is_refused_early(hostile, declared: bool) -> None:  # type: ignore[no-untyped-def]
    total = 400 * 1024 * 1024
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
    head += (f"Content-Length: {total}\r\n" if declared else "").encode() + b"\r\n"
    server = hostile(lambda conn, state: stream(conn, state, head, total, b"[1,"))
    with pytest.raises(errors.ServerError) as info:
        client(server.url).info()
    assert "上限" in info.value.message_zh()
    server.close()  # its thread ends when the client's hang-up breaks the send
    # What the server got out before the client hung up: the JSON bound plus socket buffers, not 400 MB.
    assert server.state["sent"] < api.MAX_JSON_BYTES + 48 * 1024 * 1024


def test_deeply_nested_json_is_a_clear_server_error_not_a_crash(hostile) -> None:  # type: ignore[no-untyped-def]
    body = b"[" * 200_000 + b"]" * 200_000
    head = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    server = hostile(lambda conn, state: conn.sendall(head + body))
    with pytest.raises(errors.ServerError) as info:
        client(server.url).info()
    assert "嵌套" in info.value.message_zh()


def test_error_bodies_are_read_bounded(hostile) -> None:  # type: ignore[no-untyped-def]
    total = 200 * 1024 * 1024
    head = b"HTTP/1.0 403 Forbidden\r\nContent-Type: application/json\r\n\r\n"
    server = hostile(lambda conn, state: stream(conn, state, head, total, b" "))
    with pytest.raises(errors.ServerRefused) as info:
        client(server.url).info()
    assert info.value.exit_code == errors.ExitCode.SERVER
    server.close()
    assert server.state["sent"] < api.MAX_ERROR_BYTES + 48 * 1024 * 1024


def test_a_compressed_answer_is_refused(hostile) -> None:  # type: ignore[no-untyped-def]
    import gzip

    body = gzip.compress(b"[" + b"0," * 5_000_000 + b"0]")  # small on the wire, 10 MB inflated
    head = (f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    server = hostile(lambda conn, state: conn.sendall(head + body))
    with pytest.raises(errors.ServerError):
        client(server.url).info()


# --- streamed downloads --------------------------------------------------------------------

def _task(data: bytes, size: int | None = None) -> models.Task:
    return models.Task.parse({
        "id": "t1", "title": "贷款合同", "status": "pending", "created_at": "2026-11-25T10:54:30Z",
        "placement": {"page": -1},
        "document": {"filename": "a.pdf", "sha256": hashlib.sha256(data).hexdigest(),
                     "size": len(data) if size is None else size, "url": "/api/v1/tasks/t1/document"}})


DECLARED = b"%PDF-1.7\n" + b"x" * (36 * 1024)


@pytest.mark.parametrize("length_header", [True, False])
def test_a_download_longer_than_declared_stops_early(hostile, length_header: bool) -> None:  # type: ignore[no-untyped-def]
    total = 1536 * 1024 * 1024  # 1.5 GB on offer for a task that declares 36 KB
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/pdf\r\n"
    head += (f"Content-Length: {total}\r\n" if length_header else "").encode() + b"\r\n"
    server = hostile(lambda conn, state: stream(conn, state, head + DECLARED, total))
    c = client(server.url)
    c.token = "t"
    with pytest.raises(errors.TaskDocumentMismatch):
        c.download(_task(DECLARED))
    server.close()
    # The client stopped after the declared size plus one network read; the rest is socket buffers.
    assert server.state["sent"] < 48 * 1024 * 1024


@pytest.mark.parametrize("served", [DECLARED[:-1], DECLARED[:-1] + b"y", DECLARED + b"z"])
def test_a_download_is_checked_against_size_and_hash(hostile, served: bytes) -> None:  # type: ignore[no-untyped-def]
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nContent-Length: {len(served)}\r\n\r\n".encode()
    server = hostile(lambda conn, state: conn.sendall(head + served))
    c = client(server.url)
    c.token = "t"
    with pytest.raises(errors.TaskDocumentMismatch):
        c.download(_task(DECLARED))


def test_a_download_as_declared_arrives_whole(hostile) -> None:  # type: ignore[no-untyped-def]
    head = f"HTTP/1.0 200 OK\r\nContent-Type: application/pdf\r\nContent-Length: {len(DECLARED)}\r\n\r\n".encode()
    server = hostile(lambda conn, state: conn.sendall(head + DECLARED))
    c = client(server.url)
    c.token = "t"
    assert c.download(_task(DECLARED)) == DECLARED


def test_the_deadline_backend_is_installed_in_every_pool() -> None:
    from zhenglian.server import transport

    c = api.ServerClient("http://127.0.0.1:1")
    pools = [c._http._transport._pool]  # type: ignore[attr-defined]
    assert all(isinstance(p._network_backend, transport.DeadlineBackend) for p in pools)


def test_json_depth_check_is_exact_and_iterative() -> None:
    from zhenglian import safejson

    assert safejson.loads(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(safejson.JsonTooDeep):
        safejson.loads(b"[" * 33 + b"]" * 33)
    tricky = json.dumps({"a": 'x"[[[[\\' * 50, "b": [{"c": "}}}]]]"}]}).encode()  # brackets inside strings
    assert safejson.loads(tricky, max_depth=3)["b"][0]["c"] == "}}}]]]"
    with pytest.raises(ValueError):
        safejson.loads(b"[[[")
    with pytest.raises(safejson.JsonTooDeep):
        safejson.loads(b"[" * 1_000_000)


def test_request_returns_the_answer_read_within_bounds(hostile) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"name": "x", "api_version": 1}).encode()
    head = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    server = hostile(lambda conn, state: conn.sendall(head + body))
    response = client(server.url).request("GET", "/info", auth=False)
    assert response.status_code == 200 and response.json() == {"name": "x", "api_version": 1}


def test_est_answers_are_bounded_too(hostile) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.lifecycle import est

    total = 300 * 1024 * 1024
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/pkcs7-mime\r\n\r\n"
    server = hostile(lambda conn, state: stream(conn, state, head, total))
    with pytest.raises(errors.RenewalNetworkError):
        est.simplereenroll(server.url, b"csr", b"cms")
    assert est.cacerts(server.url) == []  # the optional call: nothing, quietly
    server.close()
    assert server.state["sent"] < 2 * (est.MAX_ANSWER_BYTES + 48 * 1024 * 1024)


def test_est_refuses_a_compressed_answer_instead_of_inflating_it(hostile) -> None:  # type: ignore[no-untyped-def]
    """A double-gzip answer is small on the wire; decoded (as the rebuilt response did) it is 10 MiB."""
    import gzip

    from zhenglian.lifecycle import est

    body = gzip.compress(gzip.compress(b"\0" * (10 * 1024 * 1024)))
    head = (f"HTTP/1.0 200 OK\r\nContent-Type: application/pkcs7-mime\r\nContent-Encoding: gzip, gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    server = hostile(lambda conn, state: conn.sendall(head + body))
    with pytest.raises(errors.RenewalNetworkError) as info:
        est.simplereenroll(server.url, b"csr", b"cms")
    assert "compress" in info.value.message_en() or "encoding" in info.value.message_en()


def test_a_bounded_answer_is_not_decoded_again(hostile) -> None:  # type: ignore[no-untyped-def]
    """The response handed back keeps the bytes read, not a Content-Encoding that would decode them."""
    body = b"\x1f\x8b not gzip at all"
    head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    server = hostile(lambda conn, state: conn.sendall(head + body))
    with api.bounded_client(5.0) as c:
        response = api.fetch_bounded(c, "GET", server.url, limit=1024, deadline=transport.Deadline(10.0))
    assert response.content == body and "Content-Encoding" not in response.headers


@pytest.mark.parametrize("value", ["²", "¹²", "١٢", "1" * 19, "", "-1", "1 2"])
def test_odd_content_lengths_are_not_numbers(value: str) -> None:
    assert content_length(value) is None


def test_a_plain_content_length_is_read() -> None:
    assert content_length(" 1234 ") == 1234


# --- AIA fetches of a certificate's issuer (pdf/trust.py) ---------------------------------

def _leaf_and_ca(url: str) -> tuple[Any, bytes]:
    """A leaf whose AIA caIssuers is ``url``, and its CA's certificate (DER)."""
    import datetime

    from asn1crypto import x509 as ax
    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "AIA test CA")])
    ca = (cx.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(cx.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    aia = cx.AuthorityInformationAccess([cx.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                                              cx.UniformResourceIdentifier(url))])
    leaf = (cx.CertificateBuilder().subject_name(cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).add_extension(aia, critical=False)
            .sign(ca_key, hashes.SHA256()))
    der = serialization.Encoding.DER
    return ax.Certificate.load(leaf.public_bytes(der)), ca.public_bytes(der)


def _answer(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def _aia_server(hostile, answers: dict[str, bytes]) -> Hostile:  # type: ignore[no-untyped-def]
    """A server answering each path with ``answers[path]`` (404 otherwise)."""
    not_found = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    return hostile(lambda conn, state: conn.sendall(answers.get(state["paths"][-1], not_found)))


def test_aia_fetches_the_issuer(hostile) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import trust

    answers: dict[str, bytes] = {}
    server = _aia_server(hostile, answers)
    leaf, ca = _leaf_and_ca(server.url + "/ca.cer")
    answers["/ca.cer"] = _answer(ca)
    assert [c.dump() for c in trust._aia_issuers(leaf)] == [ca]


def test_aia_does_not_follow_redirects(hostile) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import trust

    answers: dict[str, bytes] = {}
    server = _aia_server(hostile, answers)
    leaf, ca = _leaf_and_ca(server.url + "/redir")
    answers["/redir"] = f"HTTP/1.0 302 Found\r\nLocation: {server.url}/ca.cer\r\nContent-Length: 0\r\n\r\n".encode()
    answers["/ca.cer"] = _answer(ca)
    assert trust._aia_issuers(leaf) == []
    assert server.state["paths"] == ["/redir"]


def test_aia_refuses_a_compressed_answer(hostile) -> None:  # type: ignore[no-untyped-def]
    import gzip

    from zhenglian.pdf import trust

    answers: dict[str, bytes] = {}
    server = _aia_server(hostile, answers)
    leaf, ca = _leaf_and_ca(server.url + "/ca.cer")
    answers["/ca.cer"] = _answer(gzip.compress(gzip.compress(ca)), "Content-Encoding: gzip, gzip\r\n")
    assert trust._aia_issuers(leaf) == []  # decoded, it would have been the CA
    assert server.state["paths"] == ["/ca.cer"]


def test_aia_answers_are_bounded(hostile) -> None:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import trust

    total = 200 * 1024 * 1024
    server = hostile(lambda conn, state: stream(conn, state, b"HTTP/1.0 200 OK\r\n\r\n", total))
    leaf, _ = _leaf_and_ca(server.url + "/ca.cer")
    assert trust._aia_issuers(leaf) == []
    server.close()
    assert server.state["sent"] < trust.AIA_MAX_BYTES + 48 * 1024 * 1024


def test_an_aia_server_dripping_bytes_hits_the_deadline(hostile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One byte per "second" never trips the 5 s read timeout; the 10 s deadline ends the fetch.

    As above, the deadline's clock is the test's: each look lets the server send one more byte, 1 s later.
    """
    import functools

    from zhenglian.pdf import trust

    drip = PacedDrip(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"0" * 1000, step_s=1.0)  # under AIA_MAX_BYTES
    server = drip.serve(hostile)
    monkeypatch.setattr(transport, "Deadline", functools.partial(transport.Deadline, clock=drip.clock))
    leaf, _ = _leaf_and_ca(server.url + "/ca.cer")
    assert trust._aia_issuers(leaf) == []
    server.state["stop"] = True
    assert not server.state.get("finished"), "the whole dripped answer was read"
    assert server.state["sent"] <= trust.AIA_CALL_S + 2


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_office_proxy_is_used_for_the_outside_and_never_for_this_machine(hostile, monkeypatch,  # type: ignore[no-untyped-def]
                                                                           host: str) -> None:
    body = json.dumps({"name": "x", "api_version": 1}).encode()
    answer = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    proxy = hostile(lambda conn, state: conn.sendall(answer))
    server = hostile(lambda conn, state: conn.sendall(answer))
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    port = server.url.rsplit(":", 1)[1]
    assert client(f"http://{host}:{port}").request("GET", "/info", auth=False).json()["name"] == "x"
    assert server.state["paths"] == ["/api/v1/info"] and "paths" not in proxy.state  # straight to the local server
    with api.bounded_client(5.0) as c:  # the signing server out there: through the office proxy
        api.fetch_bounded(c, "GET", "http://sign.example.invalid/info", limit=1024, deadline=transport.Deadline(10.0))
    assert proxy.state["paths"] == ["http://sign.example.invalid/info"]
