"""The demo RFC 3161 timestamp authority: answers, refusals, HTTP wrapper."""

from __future__ import annotations

import asyncio
import hashlib
import os
import urllib.error
import urllib.request

import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from zhenglian.reference import tsa


def _request(data: bytes = b"document bytes", nonce: int | None = 12345, algo: str = "sha256") -> tsp.TimeStampReq:
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": tsp.MessageImprint({
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algo}),
            "hashed_message": hashlib.new(algo, data).digest(),
        }),
        "nonce": nonce,
        "cert_req": True,
    })


@pytest.fixture(scope="module")
def authority(tmp_path_factory):  # type: ignore[no-untyped-def]
    return tsa.load_or_create("netca", tmp_path_factory.mktemp("ca"))


def test_tsa_certificate_is_for_timestamping_only(authority) -> None:  # type: ignore[no-untyped-def]
    eku = authority.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert authority.cert.issuer == authority.chain[0].subject


def test_granted_token_validates_against_demo_root(authority) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    req = _request()
    resp = tsp.TimeStampResp.load(tsa.respond(req.dump(), authority))
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 12345
    assert info["policy"].dotted == tsa.POLICY_OID
    root = ax509.Certificate.load(authority.chain[-1].public_bytes(serialization.Encoding.DER))
    vc = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail")
    expected = req["message_imprint"]["hashed_message"].native
    status = asyncio.run(validate_tst_signed_data(signed, vc, lambda _algo: expected))
    assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None
    # a token for other bytes does not pass as one for these
    status = asyncio.run(validate_tst_signed_data(signed, vc, lambda _algo: hashlib.sha256(b"x").digest()))
    assert not status["intact"]


def _status_of(resp_der: bytes) -> tuple[str, int]:
    """Status of a TimeStampResp and how many fields it has (RFC 3161: the token is optional;
    asn1crypto's own TimeStampResp cannot parse one without it, so read it generically)."""
    outer = core.Sequence.load(resp_der)
    status = tsp.PKIStatusInfo.load(outer[0].dump())
    return status["status"].native, len(outer)


@pytest.mark.parametrize("body", [
    b"", b"\x30\x03\x02\x01\x05", os.urandom(64),
    # Valid requests with a byte changed (found by fuzzing): asn1crypto raised AttributeError from .native
    bytes.fromhex("30440201013031300d0609608648016503040275470004205a855430e6b6a41750a0928768920a774a02f00d02"
                  "d79d2880a4204a2f1f22f502092d00000000000000000101ff"),
    bytes.fromhex("303d0201013031300d0609608648016503040201050004205a855430e6aba41750a0928768920a774a02f00d02"
                  "d79d2880a4204a2f1f22f5880230f80101ff"),
])
def test_garbage_is_rejected_not_raised(authority, body: bytes) -> None:  # type: ignore[no-untyped-def]
    assert _status_of(tsa.respond(body, authority)) == ("rejection", 1)  # no token


def test_unsupported_hash_rejected(authority) -> None:  # type: ignore[no-untyped-def]
    assert _status_of(tsa.respond(_request(algo="md5").dump(), authority)) == ("rejection", 1)


def test_http_server(authority) -> None:  # type: ignore[no-untyped-def]
    with tsa.serve(authority) as server:
        assert server.url.startswith("http://127.0.0.1:")
        req = urllib.request.Request(server.url, data=_request().dump(),
                                     headers={"Content-Type": tsa.QUERY_TYPE}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Content-Type"] == tsa.REPLY_TYPE
            assert tsp.TimeStampResp.load(r.read())["status"]["status"].native == "granted"
        bad = urllib.request.Request(server.url, data=b"x", headers={"Content-Type": "text/plain"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(bad, timeout=10)
        assert exc.value.code == 415
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(server.url, timeout=10)
        assert exc.value.code == 405
        assert server.requests_served == 1
