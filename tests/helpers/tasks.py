"""The demo key the task tests use, and a signing-server session for it (plain helpers)."""

from __future__ import annotations

from typing import Any

from helpers.server import RunningServer
from zhenglian.keys.handle import KeyHandle
from zhenglian.reference.provision import DEMO_KEYS
from zhenglian.server.api import ServerClient
from zhenglian.server.session import ServerSession
from zhenglian.server.tokenstore import TokenStore
from zhenglian.services import Context
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.secret import PinBuffer

SZCA = DEMO_KEYS[1]


def key_parts(label: str):  # type: ignore[no-untyped-def]
    ctx = Context.create()
    key = ctx.tokens.find_key(label)
    return key, ctx.tokens.module_for(key), ctx.tokens.pin_policy_manifest(key)


def session_for(server, key, tokens: TokenStore | None = None) -> ServerSession:  # type: ignore[no-untyped-def]
    return ServerSession(ServerClient(server.url, timeout=10, retries=2, backoff=0.1), key,
                         tokens or TokenStore(use_keyring=False))


def login(server: RunningServer, spec: Any = SZCA) -> ServerClient:
    key, module, manifest = key_parts(spec.label)
    session = session_for(server, key)
    with pinops.user_session(KeyHandle(module, key, manifest), PinBuffer(spec.user_pin)) as p11:
        session.login(p11)
    return session.client
