"""Online renewal of a valid certificate, on the key, with the CA's EST service.

The order of work keeps a working certificate on the key at every moment:

1. ``prepare``  — log in; reuse a certificate the CA already issued in an
   interrupted renewal, else remove key pairs such a renewal left behind;
2. ``keypair``  — a new key pair on the key (if the CA wants one), labelled
   as pending, or the current key pair;
3. ``request``  — a PKCS#10 request signed by the new key, wrapped in a
   detached CMS signature made with the *current* certificate's key;
4. ``send``     — EST ``simplereenroll``;
5. ``check``    — the answer holds a certificate for this key pair, with the
   same subject, issued by the CA that issued the current certificate,
   valid now and longer than the current one; only then is it saved under
   the data directory (so a key pulled out now loses nothing);
6. ``install``  — written beside its private key (same CKA_ID / SKF container);
7. ``verify``   — a test signature with the new key checks against the new
   certificate;
8. ``cleanup``  — only now is the old certificate removed (and the old key
   pair, when a new one was made).

A failure before 8 rolls back what this run added and leaves the old
certificate untouched; the error says what happened.  ``hook(stage)`` is
called before each stage (tests inject failures there; the GUI shows
progress).

The key work goes through the backend's :class:`~zhenglian.keys.backend.KeyOps`
(``backend.key_ops(handle)``): python-pkcs11 objects on a PKCS#11 key, containers
on an SKF key (:mod:`zhenglian.tokens.skf.keyops`).  One renewal, every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import keys
from asn1crypto import x509 as ax509

from zhenglian import errors, fsutil, paths
from zhenglian.lifecycle import est, pkix
from zhenglian.lifecycle.validity import check_usable
from zhenglian.manifest import Manifest
from zhenglian.netaddr import plain_http_to_another_machine
from zhenglian.pki.cert import CertInfo
from zhenglian.pki.cert import parse as parse_cert
from zhenglian.tokens import pin as pin_mod
from zhenglian.tokens.model import KeyCert, KeyInfo
from zhenglian.tokens.secret import PinBuffer

if TYPE_CHECKING:
    from zhenglian.keys.backend import KeyBackend, KeyOps
    from zhenglian.keys.handle import KeyHandle

log = logging.getLogger(__name__)

Hook = Callable[[str], None]

STAGES: dict[str, tuple[str, str]] = {
    "prepare": ("准备", "preparing"),
    "keypair": ("在 UKey 上生成新密钥对", "making the new key pair on the key"),
    "request": ("生成续期申请", "building the renewal request"),
    "send": ("向 CA 提交续期申请", "sending the request to the CA"),
    "check": ("检查 CA 签发的新证书", "checking the CA's new certificate"),
    "install": ("把新证书写入 UKey", "writing the new certificate to the key"),
    "verify": ("用新证书试签名", "test-signing with the new certificate"),
    "cleanup": ("移除旧证书", "removing the old certificate"),
}


@dataclass(frozen=True)
class RenewalResult:
    key_serial: str
    old: CertInfo
    new: CertInfo
    new_key: bool  # a new key pair was made
    cka_id: bytes
    resumed: bool = False  # installed a certificate issued in an earlier, interrupted run
    old_removed: bool = True
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {"serial": self.key_serial, "old_sha256": self.old.sha256, "new_sha256": self.new.sha256,
                "old_not_after": self.old.not_after.isoformat(), "new_not_after": self.new.not_after.isoformat(),
                "new_key": self.new_key, "cka_id": self.cka_id.hex(), "resumed": self.resumed,
                "old_removed": self.old_removed, "warnings": list(self.warnings)}


def renewal_url(settings: Any, manifest: Manifest | None, override: str | None = None) -> str:
    """The EST base URL: ``--est-url``, else the settings' ``est_url``, else the CA's manifest."""
    extra = getattr(settings, "_extra", {}) or {}
    url = (override or getattr(settings, "est_url", "") or extra.get("est_url", "")
           or (manifest.renewal.est_url if manifest else ""))
    if not url:
        raise errors.RenewalNotConfigured(ca=manifest.name_zh if manifest else "该 CA",
                                          ca_en=manifest.name_en if manifest else "The CA")
    if plain_http_to_another_machine(str(url)):
        raise errors.RenewalInsecure(url=str(url))
    return str(url).rstrip("/")


def precheck(h: KeyHandle, settings: Any, manifest: Manifest | None, override: str | None = None) -> str:
    """Everything decided before the PIN is asked, for the CLI and the tray alike: the key has a
    signing certificate, still valid (CertificateExpired: the paper route instead), its library
    can renew (RenewalUnsupportedBackend), and there is a CA to ask.  Returns the EST URL."""
    cert = h.key.signing_certificate()
    if cert is None:
        raise errors.NoCertificate(serial=h.key.serial)
    check_usable(cert.info)
    h.backend.key_ops(h)
    return renewal_url(settings, manifest, override)


def issued_dir() -> Path:
    return paths.data_dir() / "lifecycle" / "issued"


def _bad(zh: str, en: str) -> errors.RenewalBadCertificate:
    return errors.RenewalBadCertificate(problem_zh=zh, problem_en=en)


def _issued_by(child_der: bytes, ca_der: bytes) -> bool:
    from cryptography import x509 as cx509

    from zhenglian.pki import sm2

    try:
        ca, child = ax509.Certificate.load(ca_der), ax509.Certificate.load(child_der)
        if sm2.is_sm2(ca):  # cryptography cannot check SM2 signatures
            return (child.issuer == ca.subject and child["signature_algorithm"]["algorithm"].native
                    in ("sm2_sm3", "sm2_sign")
                    and sm2.verify(sm2.public_point(ca), child["tbs_certificate"].dump(),
                                   child["signature_value"].native))
    except Exception:  # malformed: not issued by it
        return False
    try:
        cx509.load_der_x509_certificate(child_der).verify_directly_issued_by(
            cx509.load_der_x509_certificate(ca_der))
        return True
    except Exception:  # InvalidSignature, wrong key type, malformed: all mean "not issued by it"
        return False


def _verify_test_signature(cert_der: bytes, signature: bytes, data: bytes) -> bool:
    try:
        pkix._verify_with(cert_der, signature, data)
        return True
    except pkix.PkixError:
        return False


class _Run:
    """One renewal attempt on one logged-in session."""

    def __init__(self, ops: KeyOps, key: KeyInfo, cert: KeyCert, url: str, want_new_key: bool,
                 hook: Hook | None, now: datetime | None, save_dir: Path) -> None:
        self.ops = ops
        self.key = key
        self.cert = cert
        self.old = cert.info
        self.old_x509 = ax509.Certificate.load(cert.info.der)
        self.url = url
        self.want_new_key = want_new_key
        self.hook = hook
        self.now = now
        self.save_dir = save_dir / key.serial
        self.ca_certs = [c.info.der for c in key.certificates if c.info.is_ca]
        self.stage = "prepare"
        self.created_pair: bytes | None = None
        self.undo_cert: Callable[[], object] | None = None
        self.saved: Path | None = None
        self.installed = False

    # --- signing with the key -------------------------------------------------

    def _has_private_key(self, session: Any, cka_id: bytes) -> bool:
        return self.ops.has_private_key(session, cka_id)

    def _signer(self, session: Any, cka_id: bytes) -> pkix.Signer:
        """sign(data) with the key pair of ``cka_id`` (the backend checks what the key returns)."""
        return self.ops.signer(session, cka_id)

    def enter(self, stage: str) -> None:
        self.stage = stage
        log.info("renewal of %s: %s", self.key.serial, stage)
        if self.hook is not None:
            self.hook(stage)

    # --- the checks ---------------------------------------------------------

    def _same_ca(self, new_der: bytes, extra: list[bytes]) -> bool:
        for ca in [*self.ca_certs, *extra]:
            if _issued_by(self.old.der, ca) and _issued_by(new_der, ca):
                return True
        return False

    def check(self, certs: list[bytes], expected: keys.PublicKeyInfo) -> bytes:
        parsed = []
        for der in certs:
            try:
                parsed.append((der, ax509.Certificate.load(der)))
                parsed[-1][1].native  # noqa: B018 - parse fully now
            except ValueError:
                raise _bad("证书格式无效", "a certificate is malformed") from None
        leaves = [(d, c) for d, c in parsed if not c.ca]
        if not leaves:
            raise _bad("应答中没有证书", "the answer holds no certificate")
        mine = [(d, c) for d, c in leaves if pkix.same_public_key(c.public_key, expected)]
        if not mine:
            raise _bad("新证书的公钥与 UKey 上用于申请的密钥不符", "the new certificate's public key is not the key pair used")
        der, cert = mine[0]
        if cert.subject != self.old_x509.subject:
            raise _bad(f"新证书的主题（{cert.subject.human_friendly}）与原证书不同",
                       f"the new certificate's subject ({cert.subject.human_friendly}) differs from the current one")
        extra = [d for d, c in parsed if c.ca]
        if not self._same_ca(der, extra) and not self._same_ca(der, est.cacerts(self.url)):
            raise _bad("新证书不是由签发原证书的 CA 签发的", "the new certificate was not issued by the CA that issued the current one")
        info = parse_cert(der)
        try:
            check_usable(info, self.now)
        except (errors.CertificateExpired, errors.CertificateNotYetValid):
            raise _bad("新证书当前不在有效期内", "the new certificate is not valid now") from None
        if info.not_after <= self.old.not_after:
            raise _bad("新证书的有效期没有延长", "the new certificate does not extend the validity")
        if info.usage not in ("signing", "both"):
            raise _bad("新证书不能用于签名", "the new certificate cannot sign")
        return der

    # --- saved (issued but not yet installed) certificates -----------------

    def save_issued(self, der: bytes, cka_id: bytes) -> None:
        info = parse_cert(der)
        self.saved = self.save_dir / f"{info.sha256}.der"
        fsutil.atomic_write_bytes(self.saved, der, mode=0o644)
        fsutil.atomic_write_bytes(self.saved.with_suffix(".id"), cka_id.hex().encode("ascii"), mode=0o644)

    def _drop_saved(self, path: Path) -> None:
        for p in (path, path.with_suffix(".id")):
            p.unlink(missing_ok=True)

    def find_resumable(self, session: Any) -> tuple[bytes, bytes] | None:
        """A certificate the CA issued earlier for a key pair still on the key."""
        if not self.save_dir.is_dir():
            return None
        for path in sorted(self.save_dir.glob("*.der")):
            try:
                der = path.read_bytes()
                cka_id = bytes.fromhex(path.with_suffix(".id").read_text(encoding="ascii").strip())
                cert = ax509.Certificate.load(der)
                info = parse_cert(der)
            except (OSError, ValueError):
                continue
            if (cert.subject != self.old_x509.subject or info.not_after <= self.old.not_after
                    or not self._has_private_key(session, cka_id)):
                self._drop_saved(path)  # stale: renewed since, or its key pair is gone
                continue
            spki = (self.ops.public_key_info(session, cka_id) if cka_id != self.cert.cka_id
                    else self.old_x509.public_key)
            if spki is None or not pkix.same_public_key(cert.public_key, spki):
                self._drop_saved(path)
                continue
            self.saved = path
            return der, cka_id
        return None

    # --- the run ------------------------------------------------------------

    def run(self, session: Any) -> RenewalResult:
        self.enter("prepare")
        old_id = self.cert.cka_id
        if not self._has_private_key(session, old_id):
            raise errors.NoCertificate(serial=self.key.serial)
        old_sign = self._signer(session, old_id)
        resumed = self.find_resumable(session)
        if resumed is not None:
            new_der, new_id = resumed
            self.enter("check")
            spki = ax509.Certificate.load(new_der).public_key
            new_der = self.check([new_der], spki)
        else:
            for leftover in self.ops.pending_pairs(session, keep=old_id):
                self.ops.destroy_pair(session, leftover)
            if self.want_new_key and not self.ops.can_make_pair(session, old_id, self.old.key_type):
                log.info("renewal of %s: no new key pair here, the CA certifies the current one again",
                         self.key.serial)
                self.want_new_key = False
            if self.want_new_key:
                self.enter("keypair")
                new_id, spki = self.ops.generate_like(session, self.old.key_type, self.old.key_bits)
                self.created_pair = new_id
                new_sign = self._signer(session, new_id)
            else:
                new_id, spki, new_sign = old_id, self.old_x509.public_key, old_sign
            self.enter("request")
            csr_der = pkix.build_csr(self.old_x509.subject, spki, new_sign)
            auth = pkix.detached_signature(csr_der, self.old.der, old_sign)
            self.enter("send")
            certs = est.simplereenroll(self.url, csr_der, auth)
            self.enter("check")
            new_der = self.check(certs, spki)
            self.save_issued(new_der, new_id)
        self.enter("install")
        label = self.cert.label or "sign"
        self.undo_cert = self.ops.store_certificate(session, new_der, new_id, label, replaces=self.old.der)
        if new_id != old_id:
            self.ops.adopt_pair(session, new_id, label)
        self.enter("verify")
        challenge = b"zhenglian renewal check " + new_der[-32:]
        test_sign = self._signer(session, new_id) if self._has_private_key(session, new_id) else None
        if test_sign is None or not _verify_test_signature(new_der, test_sign(challenge), challenge):
            raise _bad("用新证书试签名失败", "a test signature with the new certificate does not verify")
        self.installed = True
        self.enter("cleanup")
        warnings: list[str] = []
        old_removed = True
        try:
            self.ops.remove_old(session, self.old.der, old_id, new_id)
        except Exception as exc:  # the new certificate works; a leftover is only clutter
            log.warning("could not remove the old certificate: %s", type(exc).__name__)
            old_removed = False
            warnings.append("旧证书未能从 UKey 移除（不影响使用） / the old certificate could not be removed (harmless)")
        if self.saved is not None:
            self._drop_saved(self.saved)
        return RenewalResult(self.key.serial, self.old, parse_cert(new_der), new_id != old_id, new_id,
                             resumed=resumed is not None, old_removed=old_removed, warnings=tuple(warnings))

    def rollback(self, session: Any) -> None:
        """Undo what this run added to the key, keeping what an issued certificate needs."""
        if self.installed:
            return
        steps: list[Callable[[], object]] = []
        if self.undo_cert is not None:
            steps.append(self.undo_cert)
        if self.created_pair is not None and self.saved is None:
            pair = self.created_pair
            steps.append(lambda: self.ops.destroy_pair(session, pair))
        for step in steps:
            try:
                step()
            except Exception as exc:
                log.info("rollback step failed: %s", type(exc).__name__)


def _p11_error() -> type[BaseException]:
    import pkcs11

    return pkcs11.PKCS11Error


def _old_certificate_present(module: KeyBackend, ops: KeyOps, serial: str, der: bytes) -> bool:
    """Is the key (with its old certificate) still there?  Any failure means no."""
    try:
        with module.session(serial) as session:
            return ops.certificate_present(session, der)
    except Exception:
        return False


def _removed(run: _Run) -> errors.RenewalKeyRemoved:
    zh, en = STAGES.get(run.stage, (run.stage, run.stage))
    saved_zh = saved_en = ""
    if run.saved is not None and not run.installed:
        saved_zh = f"CA 已签发的新证书已保存在 {run.saved}，重新插入后再次续期即可直接写入，无需重新申请。"
        saved_en = (f"The certificate the CA issued is saved in {run.saved}; renewing again after "
                    "plugging the key in installs it without a new request. ")
    return errors.RenewalKeyRemoved(stage_zh=zh, stage_en=en, saved_zh=saved_zh, saved_en=saved_en)


def renew(h: KeyHandle, pin: PinBuffer | None, url: str, *,
          new_key: bool | None = None, confirmed_final_try: bool = False, now: datetime | None = None,
          hook: Hook | None = None, save_dir: Path | None = None) -> RenewalResult:
    """Renew the key's signing certificate online; see the module docstring.

    ``pin`` is not wiped here (the caller owns it).  ``new_key`` overrides the
    CA's manifest (``[renewal] new_key``).  Raises CertificateExpired before
    any PIN is asked when the certificate already expired (paper route), and
    a typed error for every failure, the key left with a working certificate.
    """
    module, key, manifest = h.backend, h.key, h.manifest
    cert = h.signing_cert
    check_usable(cert.info, now or datetime.now(UTC))
    if cert.info.key_type not in ("RSA", "SM2"):
        raise errors.RenewalUnsupportedKey(key_type=cert.info.key_type)
    ops = module.key_ops(h)  # a library that cannot renew is refused here, before the PIN
    want_new_key = new_key if new_key is not None else (manifest.renewal.new_key if manifest else True)
    run = _Run(ops, key, cert, url, want_new_key, hook, now, save_dir or issued_dir())
    p11_error = _p11_error()
    try:
        with pin_mod.user_session(h, pin, rw=True,
                                  confirmed_final_try=confirmed_final_try) as session:
            try:
                return run.run(session)
            except BaseException:
                run.rollback(session)
                raise
    except (errors.PinLocked, errors.WrongPin, errors.PinCancelled, errors.FinalTryNotConfirmed,
            errors.PinPolicyViolation, errors.InitialPinInUse, errors.RenewalKeyRemoved):
        raise
    except (errors.RenewalNetworkError, errors.RenewalRefused, errors.RenewalBadCertificate,
            errors.NoCertificate) as exc:
        if not _old_certificate_present(module, ops, key.serial, cert.info.der):
            raise _removed(run) from None
        raise exc from None
    except (errors.TokenRemoved, errors.TokenError, errors.NoKey, p11_error) as exc:
        if isinstance(exc, errors.NoKey) and run.stage == "prepare":
            raise  # not there to begin with
        if not _old_certificate_present(module, ops, key.serial, cert.info.der):
            raise _removed(run) from None
        if isinstance(exc, errors.ZhenglianError):
            raise
        from zhenglian.tokens.module import translate

        raise translate(exc) from None
