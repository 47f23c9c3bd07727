"""netaddr: plain http only to this machine, whatever the address's spelling; a malformed address
is refused with a message by every user (deployment defaults, CA manifest, renewal, server client),
never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from zhenglian import deployment, errors
from zhenglian.bridge import protocol
from zhenglian.lifecycle import renew
from zhenglian.netaddr import is_loopback, plain_http_to_another_machine
from zhenglian.server.api import normalise_url

# Addresses whose host is another machine, or may be (a name the resolver decides): refused.
REMOTE = [
    "http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://evil.example#@127.0.0.1",
    "http://127.0.0.1@evil.example", "http://127.0.0.1:80\\@evil.example", "http://evil.example?@127.0.0.1",
    "HTTP://evil.example", " http://evil.example", "http://127.0.0.1\n.evil.example", "http:/\\evil.example",
    "http:\\\\evil.example", "http://127.1", "http://0x7f.1", "http://2130706433", "http://0.0.0.0",
    "http://[::]", "http://localhost.", "http://ｌｏｃａｌｈｏｓｔ", "http://[evil.example", "http://evil.example]",
]
# Spellings whose host httpx connects to is this machine: may pass.
LOCAL = ["http://127.0.0.1:8765", "http://LOCALHOST/x", "http://[::1]:9/est", "HTTP://127.0.0.1",
         "http://127.0.0.2", "http://evil.example\\@127.0.0.1/", "http://evil.example:@127.0.0.1"]


@pytest.mark.parametrize("url", REMOTE)
def test_plain_http_to_anything_but_a_loopback_host_is_refused(url: str) -> None:
    assert plain_http_to_another_machine(url)


@pytest.mark.parametrize("url", LOCAL)
def test_what_passes_is_a_loopback_host_for_httpx_too(url: str) -> None:
    assert not plain_http_to_another_machine(url)
    assert is_loopback(httpx.URL(url).host.lower())  # the client connects where the check looked


@pytest.mark.parametrize("url", ["https://[evil.example", "https://evil.example]", "https://[::1"])
def test_a_malformed_https_address_is_not_called_plain_http(url: str) -> None:
    assert not plain_http_to_another_machine(url)  # its own check says what is wrong with it


@pytest.mark.parametrize("url", ["https://[evil.example", "http://evil.example]", "[::1"])
def test_a_malformed_address_is_reported_by_each_user(tmp_path: Path, url: str) -> None:
    f = tmp_path / "defaults.json"
    f.write_text(json.dumps({"server_url": url, "est_url": url, "allowed_origins": [url]}), encoding="utf-8")
    d = deployment.load([f])
    assert d.values == {} and len(d.problems) == 3
    with pytest.raises(errors.UsageError):
        normalise_url(url)
    assert protocol.allowed_origins([url], url) == frozenset()  # skipped, like any invalid entry
    try:
        renew.renewal_url(None, None, url)  # https: left to the EST client (renewal_network: invalid URL)
    except errors.RenewalInsecure:
        assert url.startswith("http:")
