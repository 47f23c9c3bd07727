"""The demo CA's online renewal service: EST (RFC 7030) ``simplereenroll``.

Free, for demo and test keys only.  It answers what a real CA's EST service
would, with the authentication the client uses (docs/lifecycle.md): the
PKCS#10 request in the body, and in ``Authorization: CMS <base64>`` a
detached CMS signature over it made with the current certificate's key.

The service checks that signature, that the current certificate was issued
by one of the demo CAs and is still valid (an expired one needs the paper
form), that the signing time is fresh, that the request is self-signed and
keeps the subject; then issues a certificate valid from now until the old
expiry plus ``extend_days`` — the validity runs on from the old expiry.

Run it: ``python -m zhenglian.reference.est --port 8808`` and renew with
``zhenglian renew --est-url http://127.0.0.1:8808/.well-known/est``.
Tests use :func:`serve` (127.0.0.1, a free port, a background thread).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from zhenglian.lifecycle import est as est_client
from zhenglian.lifecycle import pkix
from zhenglian.reference import democa

UTC = dt.UTC
PREFIX = "/.well-known/est"
CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"

# (subject, public key) -> (subject, public key): lets tests make the CA misbehave.
Tamper = Callable[[x509.Name, Any], tuple[x509.Name, Any]]


@dataclass
class Policy:
    extend_days: int = 365
    new_key: str = "any"  # "any", "required" (refuse the same key) or "forbidden"
    max_skew_s: int = 300
    refuse: str | None = None  # refuse every request with this reason (HTTP 403)
    tamper: Tamper | None = None


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _certs_only_response(certs: Sequence[x509.Certificate]) -> Response:
    body = base64.encodebytes(pkix.certs_only([_der(c) for c in certs]))
    return Response(body, media_type=CERTS_ONLY, headers={"Content-Transfer-Encoding": "base64"})


def _issued_by(cert: x509.Certificate, ca: democa.DemoCA) -> bool:
    try:
        cert.verify_directly_issued_by(ca.sub_cert)
        return True
    except Exception:
        return False


def _is_sm2_csr(csr_der: bytes) -> bool:
    from asn1crypto import csr as acsr

    from zhenglian.pki import sm2

    try:
        return sm2.is_sm2(acsr.CertificationRequest.load(csr_der)["certification_request_info"]["subject_pk_info"])
    except (ValueError, TypeError, KeyError):
        return False


def _is_sm2_cert(der: bytes) -> bool:
    from asn1crypto import x509 as ax509

    from zhenglian.pki import sm2

    try:
        return sm2.is_sm2(ax509.Certificate.load(der))
    except (ValueError, TypeError, KeyError):
        return False


def _sm2_reenroll(csr_der: bytes, signer_der: bytes, cas: Sequence[democa.SM2DemoCA], policy: Policy,
                  now: dt.datetime) -> Response:
    """The SM2 demo CAs' renewal (GM/T 0015 certificates): same checks as for RSA/EC, SM2 signatures."""
    from asn1crypto import csr as acsr
    from asn1crypto import x509 as ax509

    from zhenglian.errors import ZhenglianError
    from zhenglian.pki import sm2

    def signed_by(data: bytes, signature: bytes, point: bytes) -> bool:
        try:
            return sm2.verify(point, data, signature)
        except ZhenglianError:
            return False

    try:
        current = ax509.Certificate.load(signer_der)
        request = acsr.CertificationRequest.load(csr_der)
        info = request["certification_request_info"]
        spki = info["subject_pk_info"]
        tbs = current["tbs_certificate"]
        if not (sm2.is_sm2(current) and sm2.is_sm2(spki)):
            return PlainTextResponse("SM2 certificates renew SM2 keys only", status_code=400)
        ca = next((c for c in cas if c.sub_cert.subject == current.issuer and signed_by(
            tbs.dump(), current["signature_value"].native, sm2.public_point(c.sub_cert))), None)
        if ca is None:
            return PlainTextResponse("the current certificate was not issued by this CA", status_code=401)
        validity = tbs["validity"]
        if not validity["not_before"].native <= now <= validity["not_after"].native:
            return PlainTextResponse("the current certificate is not valid: renew it with the paper form",
                                     status_code=403)
        if not signed_by(info.dump(), request["signature"].native, sm2.public_point(spki)):
            return PlainTextResponse("the request's own signature does not verify", status_code=400)
        if info["subject"] != current.subject:
            return PlainTextResponse("the subject must not change in a renewal", status_code=403)
        same_key = sm2.public_point(spki) == sm2.public_point(current)
    except (ValueError, TypeError, KeyError, ZhenglianError):
        return PlainTextResponse("body must be a base64 PKCS#10 request", status_code=400)
    if policy.new_key == "required" and same_key:
        return PlainTextResponse("this CA requires a new key pair", status_code=403)
    if policy.new_key == "forbidden" and not same_key:
        return PlainTextResponse("this CA renews the same key pair only", status_code=403)
    not_after = validity["not_after"].native + dt.timedelta(days=policy.extend_days)
    issued = ca.issue_sm2(info["subject"], spki, now - dt.timedelta(minutes=1), not_after, "signing")
    body = base64.encodebytes(pkix.certs_only([issued.dump()]))
    return Response(body, media_type=CERTS_ONLY, headers={"Content-Transfer-Encoding": "base64"})


def create_app(ca_ids: Sequence[str] = tuple(democa.CA_NAMES), policy: Policy | None = None,
               base: Any = None) -> Starlette:
    """The EST app for these demo CAs (made on first use under the data directory)."""
    policy = policy or Policy()
    cas = {ca_id: democa.load_or_create(ca_id, base) for ca_id in ca_ids}
    sm2_cas = {ca_id: democa.load_or_create_sm2(ca_id, base) for ca_id in ca_ids}

    def pick(label: str | None) -> list[democa.DemoCA]:
        if label is None:
            return list(cas.values())
        return [cas[label]] if label in cas else []

    async def cacerts(request: Request) -> Response:
        chosen = pick(request.path_params.get("label"))
        if not chosen:
            return PlainTextResponse("unknown CA label", status_code=404)
        label = request.path_params.get("label")
        sm2_chain = [c.dump() for ca_id, ca in sm2_cas.items() if label in (None, ca_id) for c in ca.chain]
        body = base64.encodebytes(pkix.certs_only([*(_der(c) for ca in chosen for c in ca.chain), *sm2_chain]))
        return Response(body, media_type=CERTS_ONLY, headers={"Content-Transfer-Encoding": "base64"})

    async def simplereenroll(request: Request) -> Response:
        label = request.path_params.get("label")
        chosen = pick(label)
        if not chosen:
            return PlainTextResponse("unknown CA label", status_code=404)
        if policy.refuse:
            return PlainTextResponse(policy.refuse, status_code=403)
        try:
            csr_der = pkix.decode_base64_body(await request.body())
            sm2_request = _is_sm2_csr(csr_der)
            csr = None if sm2_request else x509.load_der_x509_csr(csr_der)
        except (pkix.PkixError, ValueError):
            return PlainTextResponse("body must be a base64 PKCS#10 request", status_code=400)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme != est_client.AUTH_SCHEME or not value:
            return PlainTextResponse("authenticate with the current certificate (Authorization: CMS)",
                                     status_code=401, headers={"WWW-Authenticate": est_client.AUTH_SCHEME})
        try:
            signer_der, signed_at = pkix.verify_detached(base64.b64decode(value, validate=True), csr_der)
        except (pkix.PkixError, ValueError):
            return PlainTextResponse("the CMS signature over the request does not verify", status_code=401)
        now = dt.datetime.now(UTC)
        if signed_at is None or abs((now - signed_at).total_seconds()) > policy.max_skew_s:
            return PlainTextResponse("signing time missing or not current", status_code=401)
        if sm2_request or _is_sm2_cert(signer_der):
            chosen_sm2 = [ca for ca_id, ca in sm2_cas.items() if label in (None, ca_id)]
            return _sm2_reenroll(csr_der, signer_der, chosen_sm2, policy, now)
        assert csr is not None
        current = x509.load_der_x509_certificate(signer_der)
        ca = next((c for c in chosen if _issued_by(current, c)), None)
        if ca is None:
            return PlainTextResponse("the current certificate was not issued by this CA", status_code=401)
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            return PlainTextResponse("the current certificate is not valid: renew it with the paper form",
                                     status_code=403)
        if not csr.is_signature_valid:
            return PlainTextResponse("the request's own signature does not verify", status_code=400)
        if csr.subject != current.subject:
            return PlainTextResponse("the subject must not change in a renewal", status_code=403)
        same_key = csr.public_key() == current.public_key()
        if policy.new_key == "required" and same_key:
            return PlainTextResponse("this CA requires a new key pair", status_code=403)
        if policy.new_key == "forbidden" and not same_key:
            return PlainTextResponse("this CA renews the same key pair only", status_code=403)
        subject, public_key = csr.subject, csr.public_key()
        if policy.tamper is not None:
            subject, public_key = policy.tamper(subject, public_key)
        not_after = current.not_valid_after_utc + dt.timedelta(days=policy.extend_days)
        issued = ca.issue(subject, public_key, now - dt.timedelta(minutes=1), not_after, "signing")
        return _certs_only_response([issued])

    routes = [
        Route(f"{PREFIX}/cacerts", cacerts, methods=["GET"]),
        Route(f"{PREFIX}/simplereenroll", simplereenroll, methods=["POST"]),
        Route(PREFIX + "/{label}/cacerts", cacerts, methods=["GET"]),
        Route(PREFIX + "/{label}/simplereenroll", simplereenroll, methods=["POST"]),
    ]
    return Starlette(routes=routes)


@contextmanager
def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` on ``host``:``port`` (0 = a free port) in a thread; yields the EST base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise RuntimeError("the EST server did not start")
    try:
        yield f"http://{host}:{sock.getsockname()[1]}{PREFIX}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zhenglian.reference.est",
                                     description="演示 CA 的在线续期服务（EST）/ the demo CA's EST renewal service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8808)
    parser.add_argument("--days", type=int, default=365, help="续期天数 / days added to the old expiry")
    args = parser.parse_args(argv)
    import uvicorn

    print(f"EST: http://{args.host}:{args.port}{PREFIX}")
    uvicorn.run(create_app(policy=Policy(extend_days=args.days)), host=args.host, port=args.port,
                log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
