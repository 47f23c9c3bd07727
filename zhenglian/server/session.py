"""A signing server as one key sees it: the API client, its token, and login with the key.

Login (docs/server-api.md): ask for a challenge, check that it names the
server we are talking to (a relaying server cannot pass on another server's
challenge), sign its canonical bytes on the key — SHA256_RSA_PKCS for RSA
keys, SHA-256 then raw ECDSA for EC keys — and exchange the signature and the
certificate chain for a bearer token.  The token goes to the keyring; the
PIN is only ever used inside :func:`zhenglian.tokens.pin.user_session`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from zhenglian import errors, logsetup
from zhenglian.server import models
from zhenglian.server.api import ServerClient
from zhenglian.server.protocol import EC_ALGORITHM, RSA_ALGORITHM, SM2_ALGORITHM, challenge_bytes
from zhenglian.server.tokenstore import StoredToken, TokenStore
from zhenglian.tokens.model import KeyCert, KeyInfo

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

T = TypeVar("T")

log = logging.getLogger(__name__)


_ALGORITHM_NAMES = {"rsa": RSA_ALGORITHM, "ec": EC_ALGORITHM, "sm2": SM2_ALGORITHM}


def sign_challenge(p11session: Any, cert: KeyCert, data: bytes,
                   handle: KeyHandle | None = None) -> tuple[str, bytes]:
    """(algorithm name, signature) of ``data`` with the certificate's private key.

    With the key's handle the key seam signs (mechanism from the token, SM2 vendor numbers,
    every signature checked against the certificate); without one only RSA and EC can.
    """
    if handle is not None:
        from zhenglian.keys.session import KeySession

        ks = KeySession(handle, p11session)
        signature = ks.sign(data)
        return _ALGORITHM_NAMES[ks.plan.algorithm], signature
    import pkcs11
    from pkcs11 import Mechanism, ObjectClass

    from zhenglian.tokens.module import translate

    try:
        key = p11session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=cert.cka_id)
        if cert.info.key_type == "RSA":
            return RSA_ALGORITHM, bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
        if cert.info.key_type == "EC":
            # SoftHSM and many tokens have only raw ECDSA: hash here.
            return EC_ALGORITHM, bytes(key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
    except pkcs11.PKCS11Error as exc:
        raise translate(exc) from None
    raise errors.TokenError(what_zh="这种密钥暂不支持登录签署服务器", what_en="this kind of key cannot log in yet",
                            detail=cert.info.key_type)


class ServerSession:
    """API client + token of one (server, key) pair."""

    def __init__(self, client: ServerClient, key: KeyInfo, tokens: TokenStore | None = None,
                 handle: KeyHandle | None = None) -> None:
        self.client = client
        self.key = key
        self.handle = handle  # login signs through the key seam (needed for SM2 keys)
        self.tokens = tokens or TokenStore()
        self.uscc: str | None = None
        self.institution: str | None = None

    @property
    def origin(self) -> str:
        return self.client.origin

    def signing_cert(self) -> KeyCert:
        cert = self.key.signing_certificate()
        if cert is None:
            raise errors.NoCertificate(serial=self.key.serial)
        return cert

    def restore(self) -> bool:
        """Use a stored token if one is still valid; True when logged in."""
        stored = self.tokens.get(self.origin, self.key.serial)
        if stored is None:
            self.client.token = None
            return False
        self.client.token = stored.token
        logsetup.register_secret(stored.token)  # never in a log line, whatever logs it
        self.uscc = stored.uscc or None
        return True

    @property
    def logged_in(self) -> bool:
        return bool(self.client.token) or self.restore()

    def forget(self) -> None:
        """Drop the token (it expired or the server refused it)."""
        if self.client.token:
            logsetup.forget_secret(self.client.token)
        self.client.token = None
        self.tokens.delete(self.origin, self.key.serial)

    def login(self, p11session: Any) -> models.LoginResult:
        """Log in with the key in this logged-in PKCS#11 session."""
        cert = self.signing_cert()
        challenge = self.client.challenge()
        if challenge.origin.rstrip("/") != self.origin:
            raise errors.LoginChallengeMismatch(got=challenge.origin, expected=self.origin)
        data = challenge_bytes(challenge.nonce, challenge.origin, challenge.expires_at)
        algorithm, signature = sign_challenge(p11session, cert, data, self.handle)
        if challenge.algorithms and algorithm not in challenge.algorithms:
            raise errors.ServerRefused(status=0, reason="algorithm_unsupported",
                                       reason_zh=f"服务器不接受 {algorithm} 登录", reason_en=f"the server does not accept {algorithm}")
        chain = [c.info.der for c in self.key.certificates if c.info.is_ca]
        result = self.client.login(challenge.nonce, cert.info.der, chain, algorithm, signature)
        self.client.token = result.token
        logsetup.register_secret(result.token)
        self.uscc, self.institution = result.uscc, result.institution
        self.tokens.put(self.origin, self.key.serial, StoredToken(result.token, result.expires_at, result.uscc))
        log.info("logged in to %s as %s", self.origin, result.uscc)
        return result

    def ensure(self, p11session: Any | None) -> None:
        """Logged in, or log in now when a session is at hand; else AuthRequired."""
        if self.logged_in:
            return
        if p11session is None:
            raise errors.AuthRequired(origin=self.origin)
        self.login(p11session)

    def call(self, p11session: Any, fn: Callable[..., T], *args: Any) -> T:
        """Call the server; when the login expired, log in again once with the open key
        session (no new PIN) and repeat the call."""
        try:
            return fn(*args)
        except errors.AuthRequired:
            self.forget()
            self.login(p11session)
            return fn(*args)

    def logout(self) -> None:
        try:
            if self.client.token:
                self.client.logout()
        except errors.ZhenglianError as exc:
            log.info("logout: %s", exc.code)
        finally:
            self.forget()
