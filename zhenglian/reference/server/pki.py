"""Certificates on the server side: the trust store and certificate login.

Login by certificate (see docs/server-api.md): the server hands out a
challenge ``{nonce, origin, expires_at}``; the client's key signs the
*challenge bytes* — the canonical JSON of those three fields plus
``"purpose": "zhenglian-login-v1"`` (keys sorted, no spaces, ASCII only,
UTF-8) — and sends back the signature with its certificate.  The server
checks the signature, the certificate's chain to its configured roots, its
validity now and its key usage, and maps the certificate's USCC to an
institution.  The client computes the same bytes with
:func:`zhenglian.server.protocol.challenge_bytes` (kept identical by a test).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import pem, x509

from zhenglian.reference.server.store import Store

PURPOSE = "zhenglian-login-v1"

ALGORITHMS = ("rsa_pkcs1v15_sha256", "ecdsa_sha256", "sm2_sm3")


def challenge_bytes(nonce: str, origin: str, expires_at: int) -> bytes:
    """The exact bytes a key signs to log in."""
    doc = {"expires_at": int(expires_at), "nonce": nonce, "origin": origin, "purpose": PURPOSE}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class LoginRefused(Exception):
    """A login that fails for a stated reason (code, zh, en)."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(code)
        self.code, self.zh, self.en = code, zh, en


def load_certs(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or many) or a single DER blob."""
    if pem.detect(data):
        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


class TrustStore:
    """The server's trusted roots and known intermediates, reloaded when they change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version: tuple[int, str] | None = None
        self._roots: list[x509.Certificate] = []
        self._intermediates: list[x509.Certificate] = []
        self._trust_manager: Any = None

    def _refresh(self) -> None:
        version = self.store.ca_version()
        with self._lock:
            if version == self._version:
                return
            rows = self.store.cas()
            self._roots = [x509.Certificate.load(bytes(r["der"])) for r in rows if r["kind"] == "root"]
            self._intermediates = [x509.Certificate.load(bytes(r["der"])) for r in rows
                                   if r["kind"] == "intermediate"]
            self._trust_manager = None
            self._version = version

    def _roots_manager(self) -> Any:
        """pyHanko's trust manager of the roots, built once per version of the roots: it is only
        read after it is built (the registry it seeds is made fresh for each validation)."""
        from pyhanko_certvalidator.registry import SimpleTrustManager

        self._refresh()
        with self._lock:
            if self._trust_manager is None:
                self._trust_manager = SimpleTrustManager.build(trust_roots=self._roots)
            return self._trust_manager

    @property
    def roots(self) -> list[x509.Certificate]:
        self._refresh()
        return list(self._roots)

    @property
    def intermediates(self) -> list[x509.Certificate]:
        self._refresh()
        return list(self._intermediates)

    def validation_context(self, extra: Iterable[x509.Certificate] = ()) -> Any:
        """Also checks SM2 signatures and chains (the SM2-aware validator)."""
        from zhenglian.pki import sm2validate

        manager = self._roots_manager()
        return sm2validate.validation_context(trust_manager=manager, other_certs=[*self.intermediates, *extra],
                                              allow_fetching=False, revocation_mode="soft-fail")


@dataclass(frozen=True)
class LoginIdentity:
    uscc: str
    organization: str | None
    cert_sha256: str


def _verify_signature(cert: x509.Certificate, algorithm: str, data: bytes, signature: bytes) -> bool:
    from zhenglian.errors import ZhenglianError
    from zhenglian.pki import sm2

    if sm2.is_sm2(cert) or algorithm == "sm2_sm3":
        # SM2 with SM3 and the default ID (GM/T 0009); cryptography cannot load SM2 keys
        if algorithm != "sm2_sm3" or not sm2.is_sm2(cert):
            return False
        try:
            point = sm2.public_point(cert)
            candidates = [signature]
            if len(signature) == 64:
                candidates.insert(0, sm2.raw_to_der(signature))  # some keys give r‖s
            return any(sm2.verify(point, data, c) for c in candidates)
        except (ValueError, ZhenglianError):
            return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    public = serialization.load_der_public_key(cert.public_key.dump())
    try:
        if algorithm == "rsa_pkcs1v15_sha256" and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        if algorithm == "ecdsa_sha256" and isinstance(public, ec.EllipticCurvePublicKey):
            candidates = [signature]  # DER, as X.509 tools make it
            if len(signature) == 2 * ((public.curve.key_size + 7) // 8):
                half = len(signature) // 2  # PKCS#11 gives r || s
                candidates.insert(0, encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                                          int.from_bytes(signature[half:], "big")))
            for candidate in candidates:
                try:
                    public.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
                    return True
                except (InvalidSignature, ValueError):
                    continue
            return False
    except (InvalidSignature, ValueError):
        return False
    return False


def validate_chain(trust: TrustStore, cert: x509.Certificate, chain: Iterable[x509.Certificate]) -> None:
    """Raise LoginRefused unless ``cert`` chains to a trusted root, valid now, for signing."""
    from pyhanko_certvalidator import CertificateValidator
    from pyhanko_certvalidator.errors import (
        InvalidCertificateError,
        PathBuildingError,
        PathValidationError,
        RevokedError,
    )

    chain = list(chain)
    validator = CertificateValidator(cert, intermediate_certs=chain,
                                     validation_context=trust.validation_context(chain))
    try:
        asyncio.run(validator.async_validate_usage({"digital_signature"}))
    except PathBuildingError:
        raise LoginRefused("certificate_untrusted", "证书不是由本服务器信任的 CA 签发",
                           "the certificate does not chain to a CA this server trusts") from None
    except RevokedError:
        raise LoginRefused("certificate_revoked", "证书已被吊销", "the certificate is revoked") from None
    except InvalidCertificateError:
        raise LoginRefused("certificate_invalid", "证书不能用于签名（密钥用途不符）",
                           "the certificate may not be used for signing (key usage)") from None
    except PathValidationError as exc:
        text = str(exc).lower()
        if "expired" in text or "not valid until" in text or "validity" in text:
            raise LoginRefused("certificate_expired", "证书不在有效期内",
                               "the certificate is outside its validity period") from None
        raise LoginRefused("certificate_untrusted", "证书链验证失败",
                           "the certificate chain did not validate") from None


def verify_login(trust: TrustStore, store: Store, nonce: str, cert_der: bytes, chain_der: list[bytes],
                 algorithm: str, signature: bytes, now: float) -> LoginIdentity:
    """Check one login answer; returns who logged in or raises LoginRefused."""
    from zhenglian.pki.cert import parse

    row = store.take_challenge(nonce)
    if row is None:
        raise LoginRefused("challenge_invalid", "登录挑战无效或已使用，请重新登录",
                           "the login challenge is unknown or already used; log in again")
    if row["expires_at"] < now:
        raise LoginRefused("challenge_expired", "登录挑战已过期，请重新登录",
                           "the login challenge expired; log in again")
    if algorithm not in ALGORITHMS:
        raise LoginRefused("algorithm_unsupported", "不支持的签名算法", "unsupported signature algorithm")
    try:
        cert = x509.Certificate.load(cert_der)
        info = parse(cert_der)
        chain = [x509.Certificate.load(d) for d in chain_der]
        for c in (cert, *chain):
            _ = c.public_key.algorithm, c.subject.human_friendly  # force parsing now
    except (ValueError, TypeError, KeyError):
        raise LoginRefused("certificate_unreadable", "证书无法解析", "the certificate cannot be read") from None
    data = challenge_bytes(row["nonce"], row["origin"], row["expires_at"])
    if not _verify_signature(cert, algorithm, data, signature):
        raise LoginRefused("signature_invalid", "登录签名无效", "the login signature does not verify")
    validate_chain(trust, cert, chain)
    if not info.uscc:
        raise LoginRefused("certificate_no_uscc", "证书中没有统一社会信用代码",
                           "the certificate carries no unified social credit code")
    if store.institution(info.uscc) is None:
        raise LoginRefused("institution_unknown", f"机构（{info.uscc}）未在本服务器登记",
                           f"the institution {info.uscc} is not registered on this server")
    return LoginIdentity(info.uscc, info.organization, info.sha256)
