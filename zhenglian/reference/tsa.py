"""A demo RFC 3161 timestamp authority, for tests and the demo environment.

:func:`respond` answers a DER ``TimeStampReq`` with a DER ``TimeStampResp``
signed by a demo TSA key whose certificate the demo CA issued (extended key
usage timeStamping, critical, as RFC 3161 §2.3 requires).  The token itself
is built by pyHanko's ``DummyTimeStamper`` — a maintained implementation
rather than our own CMS code.  :func:`serve` wraps it in a small stdlib HTTP
server on 127.0.0.1 (RFC 3161 §3.4: POST ``application/timestamp-query``,
answer ``application/timestamp-reply``) that tests start on a free port; the
reference signing server may mount :func:`respond` too.

The TSA key is made at first use and kept beside the demo CA keys in the
data directory; nothing secret is committed.  Never for production.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from zhenglian.fsutil import atomic_write_bytes
from zhenglian.reference import democa

DEFAULT_CA = "netca"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REQUEST = 64 * 1024
# A policy OID of our own under the UUID arc (ITU-T X.667), not a real TSA's.
POLICY_OID = f"2.25.{uuid.UUID('5b0f6c1e-6f1f-4a55-9a2b-7a7a2e3b9d01').int}"


@dataclass
class DemoTSA:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: list[x509.Certificate]  # issuing CA first, then root

    def _stamper(self):  # type: ignore[no-untyped-def]
        from pyhanko.sign.timestamps import DummyTimeStamper

        key_der = self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())

        class _Stamper(DummyTimeStamper):
            def _build_tst_info(self, message_imprint, dt_, req):  # type: ignore[no-untyped-def]
                info = super()._build_tst_info(message_imprint, dt_, req)
                info["policy"] = tsp.ObjectIdentifier(POLICY_OID)
                return info

        return _Stamper(
            tsa_cert=asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER)),
            tsa_key=asn1_keys.PrivateKeyInfo.load(key_der),
            certs_to_embed=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                            for c in self.chain[:1]],
        )

    def respond(self, request_der: bytes) -> bytes:
        """Answer one DER TimeStampReq; a request we cannot read gets a rejection, not an exception."""
        try:
            req = tsp.TimeStampReq.load(request_der)
            req.native  # noqa: B018 - parse fully now
            if req["version"].native != "v1":
                return _rejection("bad_request", "unsupported version")
            algo = req["message_imprint"]["hash_algorithm"]["algorithm"].native
            if algo not in ("sha256", "sha384", "sha512", "sha1"):
                return _rejection("bad_alg", f"unsupported hash {algo}")
        except (ValueError, TypeError, KeyError, AttributeError):  # AttributeError: asn1crypto on odd tags
            return _rejection("bad_data_format", "malformed TimeStampReq")
        return self._stamper().request_tsa_response(req).dump()


class _Rejection(core.Sequence):
    """TimeStampResp without its (optional, RFC 3161 §2.4.2) token; asn1crypto's
    own class insists on one when encoding."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(fail: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo({
        "status": tsp.PKIStatus("rejection"),
        "status_string": [text],
        "fail_info": tsp.PKIFailureInfo({fail}),
    })
    return _Rejection({"status": status}).dump()


def _tsa_dir(base: Path | None) -> Path:
    return democa.ca_dir(base) / "tsa"


def _issue(ca: democa.DemoCA) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ca.sub_cert.subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME)[0].value),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{ca.ca_id.upper()} Time Stamping Authority (DEMO)"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.sub_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 5))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.sub_key.public_key()), critical=False)
        .sign(ca.sub_key, hashes.SHA256())
    )
    return key, cert


def load_or_create(ca_id: str = DEFAULT_CA, base: Path | None = None) -> DemoTSA:
    """The demo TSA of ``ca_id``'s demo CA (made on first use)."""
    ca = democa.load_or_create(ca_id, base)
    d = _tsa_dir(base) / ca_id
    try:
        key = serialization.load_pem_private_key((d / "tsa.key").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((d / "tsa.pem").read_bytes())
        if cert.issuer != ca.sub_cert.subject or cert.not_valid_after_utc < dt.datetime.now(dt.UTC):
            raise FileNotFoundError  # the CA was remade, or the certificate ran out: issue again
    except FileNotFoundError:
        key, cert = _issue(ca)
        atomic_write_bytes(d / "tsa.key", key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
        atomic_write_bytes(d / "tsa.pem", cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    assert isinstance(key, rsa.RSAPrivateKey)
    return DemoTSA(key, cert, ca.chain)


def respond(request_der: bytes, tsa: DemoTSA | None = None) -> bytes:
    """Answer a DER TimeStampReq with a DER TimeStampResp from the demo TSA."""
    return (tsa or load_or_create()).respond(request_der)


class _Handler(BaseHTTPRequestHandler):
    server: _TsaHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if ctype != QUERY_TYPE:
            self._send(415, b"expected application/timestamp-query\n", "text/plain")
            return
        if not 0 < length <= MAX_REQUEST:
            self._send(413 if length > MAX_REQUEST else 400, b"bad request length\n", "text/plain")
            return
        body = self.rfile.read(length)
        self._send(200, self.server.tsa.respond(body), REPLY_TYPE)
        self.server.count += 1

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, b"POST a TimeStampReq\n", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TsaHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], tsa: DemoTSA) -> None:
        super().__init__(addr, _Handler)
        self.tsa = tsa
        self.count = 0


class TsaServer:
    """A running demo TSA on 127.0.0.1; ``url`` to give the signer, ``close()`` when done."""

    def __init__(self, tsa: DemoTSA, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tsa = tsa
        self._httpd = _TsaHTTPServer((host, port), tsa)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-tsa", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/tsa"

    @property
    def requests_served(self) -> int:
        return self._httpd.count

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TsaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(tsa: DemoTSA | None = None, host: str = "127.0.0.1", port: int = 0) -> TsaServer:
    """Start the demo TSA over HTTP (port 0: a free port)."""
    return TsaServer(tsa or load_or_create(), host, port)
