"""EST (RFC 7030) client: ``/simplereenroll`` and ``/cacerts``.

The request body is the standard one (base64 PKCS#10).  Because a UKey
cannot take part in httpx's TLS handshake, the current certificate
authenticates the request with a detached CMS signature over the DER
request, sent as ``Authorization: CMS <base64>`` (docs/lifecycle.md).
"""

from __future__ import annotations

import base64
import logging

from zhenglian import errors
from zhenglian.lifecycle import pkix

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0  # each socket operation
CALL_S = 60.0  # the whole request and answer, however slowly the CA sends (server/transport.py)
MAX_ANSWER_BYTES = 1024 * 1024  # a certs-only PKCS#7 is a few KB
AUTH_SCHEME = "CMS"
_MAX_REASON = 200


def _reason(response) -> str:  # type: ignore[no-untyped-def]
    """The CA's reason, shortened and printable (it ends up in a message)."""
    text = response.text if response.content else response.reason_phrase
    text = " ".join(text.split())
    return "".join(ch for ch in text if ch.isprintable())[:_MAX_REASON] or str(response.reason_phrase)


def _post_or_get(method: str, url: str, timeout: float, **kwargs):  # type: ignore[no-untyped-def]
    import httpx

    from zhenglian.server import api, transport

    try:
        with api.bounded_client(timeout) as client:
            # The answer read whole, bounded in size and time, never decoded: a CA's (or anyone's)
            # 1 GB answer or gzip bomb is refused.
            return api.fetch_bounded(client, method, url, limit=MAX_ANSWER_BYTES,
                                     deadline=transport.Deadline(CALL_S), **kwargs)
    except errors.ServerError as exc:
        raise errors.RenewalNetworkError(url=url, detail=f"{exc.facts.get('detail_zh', '应答无效')} / "
                                                         f"{exc.facts.get('detail_en', 'invalid answer')}") from None
    except httpx.TimeoutException:
        raise errors.RenewalNetworkError(url=url, detail="超时 / timeout") from None
    except httpx.TransportError as exc:
        raise errors.RenewalNetworkError(url=url, detail=type(exc).__name__) from None
    except httpx.InvalidURL:
        raise errors.RenewalNetworkError(url=url, detail="地址无效 / invalid URL") from None


def simplereenroll(base_url: str, csr_der: bytes, auth_cms_der: bytes,
                   timeout: float = TIMEOUT_S) -> list[bytes]:
    """Send the request; the certificates of the CA's certs-only answer (DER)."""
    url = f"{base_url.rstrip('/')}/simplereenroll"
    response = _post_or_get(
        "POST", url, timeout,
        content=base64.encodebytes(csr_der),
        headers={
            "Content-Type": "application/pkcs10",
            "Content-Transfer-Encoding": "base64",
            "Authorization": f"{AUTH_SCHEME} {base64.b64encode(auth_cms_der).decode('ascii')}",
            "Accept": "application/pkcs7-mime",
        },
    )
    if response.status_code == 202:
        raise errors.RenewalRefused(status=202, reason="CA 需要人工审核，请稍后再试 / pending manual approval, try later")
    if response.status_code != 200:
        raise errors.RenewalRefused(status=response.status_code, reason=_reason(response))
    try:
        return pkix.parse_certs_only(response.content)
    except pkix.PkixError:
        raise errors.RenewalBadCertificate(problem_zh="CA 的应答不是 PKCS#7 证书包",
                                           problem_en="the CA's answer is not a PKCS#7 certs-only message") from None


def cacerts(base_url: str, timeout: float = TIMEOUT_S) -> list[bytes]:
    """The CA's certificates (RFC 7030 §4.1); empty when the CA does not answer."""
    url = f"{base_url.rstrip('/')}/cacerts"
    try:
        response = _post_or_get("GET", url, timeout, headers={"Accept": "application/pkcs7-mime"})
    except errors.RenewalNetworkError:
        return []
    if response.status_code != 200:
        return []
    try:
        return pkix.parse_certs_only(response.content)
    except pkix.PkixError:
        return []
