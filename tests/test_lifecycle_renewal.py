"""Online renewal against the demo CA's EST service, on SoftHSM keys, with failures injected."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from zhenglian import errors
from zhenglian.keys.handle import KeyHandle
from zhenglian.lifecycle import keyops, renew
from zhenglian.lifecycle.store import CertificateStore
from zhenglian.reference import est as est_server
from zhenglian.reference import softhsm
from zhenglian.services import Context
from zhenglian.tokens.secret import PinBuffer

PIN = "Szca@2026demo"


@pytest.fixture
def ctx() -> Context:
    return Context.create()


def scan(ctx: Context, serial: str):  # type: ignore[no-untyped-def]
    return ctx.tokens.find_key(serial)


def token_dir(conf: Path, label: str) -> Path:
    tokens = conf.parent / "tokens"
    for d in tokens.iterdir():
        obj = d / "token.object"
        if obj.is_file() and label.encode() in obj.read_bytes():
            return d
    raise AssertionError(f"no token directory for {label}")


def sign_and_verify(ctx: Context, key, cert_der: bytes, cka_id: bytes) -> None:  # type: ignore[no-untyped-def]
    """A raw PKCS#11 signature with the key pair, verified against ``cert_der``."""
    import pkcs11

    from zhenglian.tokens import pin as pin_mod

    module = ctx.tokens.module_for(key)
    data = b"document digest to sign"
    with pin_mod.user_session(KeyHandle(module, key, None), PinBuffer(PIN)) as session:
        priv = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=cka_id)
        sig = bytes(priv.sign(data, mechanism=pkcs11.Mechanism.SHA256_RSA_PKCS))
    public = x509.load_der_x509_certificate(cert_der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())


def sign_pdf_with(ctx: Context, key, cert_der: bytes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Sign a PDF with the key (zhenglian.pdf, when present) and check it names the new certificate."""
    try:
        from zhenglian.pdf import keysign, placement
        from zhenglian.pdf.seal import SealPicture
        from zhenglian.seals import render
    except ImportError:
        return
    from pyhanko.pdf_utils.reader import PdfFileReader
    from reportlab.pdfgen import canvas

    src, out = tmp_path / "in.pdf", tmp_path / "signed.pdf"
    c = canvas.Canvas(str(src))
    c.drawString(100, 700, "renewal test")
    c.save()
    with keysign.key_batch(ctx.tokens.handle(key), PinBuffer(PIN)) as batch:
        png = render.render_seal_png(key.organization() or "测试", "合同专用章", diameter_mm=42.0)
        seal = SealPicture(png, 42.0, 42.0, "合同专用章")
        batch.sign(src, out, [placement.AtPosition(1, 100.0, 100.0, seal)])
    with out.open("rb") as fh:
        (sig,) = PdfFileReader(fh).embedded_signatures
        assert sig.signer_cert.dump() == cert_der


def objects_summary(ctx: Context, key) -> dict[str, list[bytes]]:  # type: ignore[no-untyped-def]
    """CKA_IDs of the key's certificates, private and public keys (private ones need a login)."""
    import pkcs11

    from zhenglian.tokens import pin as pin_mod

    module = ctx.tokens.module_for(key)
    with pin_mod.user_session(KeyHandle(module, key, None), PinBuffer(PIN)) as session:
        out = {}
        for name, cls in (("cert", pkcs11.ObjectClass.CERTIFICATE), ("priv", pkcs11.ObjectClass.PRIVATE_KEY),
                          ("pub", pkcs11.ObjectClass.PUBLIC_KEY)):
            out[name] = sorted(bytes(o[pkcs11.Attribute.ID]) for o in session.get_objects({pkcs11.Attribute.CLASS: cls}))
        labels = [o[pkcs11.Attribute.LABEL] for o in session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY})]
    out["pending"] = [lbl for lbl in labels if lbl == keyops.PENDING_LABEL]
    return out


def do_renew(ctx: Context, key, url: str, **kw):  # type: ignore[no-untyped-def]
    with PinBuffer(PIN) as pin:
        return renew.renew(ctx.tokens.handle(key), pin, url, **kw)


@pytest.mark.parametrize("new_key", [True, False], ids=["new-key", "same-key"])
def test_full_online_renewal(ctx: Context, make_key, tmp_path: Path, new_key: bool) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    store = CertificateStore(tmp_path / "certs.json")
    store.remember(key)
    stages: list[str] = []
    with est_server.serve(est_server.create_app()) as url:
        result = do_renew(ctx, key, url, new_key=new_key, hook=stages.append, save_dir=tmp_path / "issued")
    assert stages == [*(["prepare", "keypair"] if new_key else ["prepare"]),
                      "request", "send", "check", "install", "verify", "cleanup"]
    # The validity runs on from the old expiry (demo CA: +365 days), and starts now.
    assert abs(result.new.not_after - (old.info.not_after + dt.timedelta(days=365))) < dt.timedelta(seconds=2)
    assert result.new.not_before <= dt.datetime.now(dt.UTC)
    assert result.new.subject == old.info.subject
    assert result.new_key is new_key and result.old_removed
    # On the key: the new certificate beside its private key, the old one gone.
    after = scan(ctx, made.serial)
    signing = [c for c in after.certificates if not c.info.is_ca and c.info.usage == "signing"]
    assert [c.info.sha256 for c in signing] == [result.new.sha256]
    assert signing[0].paired is True and signing[0].cka_id == result.cka_id
    assert (result.cka_id != old.cka_id) is new_key
    sign_and_verify(ctx, after, result.new.der, result.cka_id)
    summary = objects_summary(ctx, after)
    assert summary["pending"] == []
    assert summary["priv"] == [result.cka_id]  # the old key pair went with the old certificate
    assert not list((tmp_path / "issued").rglob("*.der"))
    if new_key:
        sign_pdf_with(ctx, after, result.new.der, tmp_path)
    # The reminder store follows.
    from zhenglian.lifecycle.carryover import carry_over

    carry_over(old.info, result.new, after, cert_store=store)
    assert [c.sha256 for c in store.active()] == [result.new.sha256]


def _assert_untouched(ctx: Context, serial: str, old) -> None:  # type: ignore[no-untyped-def]
    key = scan(ctx, serial)
    signing = [c for c in key.certificates if not c.info.is_ca and c.info.usage == "signing"]
    assert [c.info.sha256 for c in signing] == [old.info.sha256]
    sign_and_verify(ctx, key, old.info.der, old.cka_id)
    summary = objects_summary(ctx, key)
    assert summary["pending"] == [] and summary["priv"] == [old.cka_id]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_down_leaves_the_old_certificate(ctx: Context, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    url = f"http://127.0.0.1:{_free_port()}/.well-known/est"
    with pytest.raises(errors.RenewalNetworkError) as exc:
        do_renew(ctx, key, url, new_key=True, save_dir=tmp_path)
    assert exc.value.exit_code == errors.ExitCode.SERVER
    _assert_untouched(ctx, made.serial, old)


def test_ca_refusal_leaves_the_old_certificate(ctx: Context, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    with est_server.serve(est_server.create_app(policy=est_server.Policy(refuse="account suspended"))) as url, \
            pytest.raises(errors.RenewalRefused) as exc:
        do_renew(ctx, key, url, new_key=True, save_dir=tmp_path)
    assert exc.value.facts["status"] == 403 and "account suspended" in exc.value.message_en()
    _assert_untouched(ctx, made.serial, old)
    # A CA that wants a new key pair refuses a same-key request.
    with est_server.serve(est_server.create_app(policy=est_server.Policy(new_key="required"))) as url, \
            pytest.raises(errors.RenewalRefused):
        do_renew(ctx, key, url, new_key=False, save_dir=tmp_path)
    _assert_untouched(ctx, made.serial, old)


def _wrong_subject(subject: x509.Name, public_key):  # type: ignore[no-untyped-def]
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "东莞市别的公司")]), public_key


def _wrong_key(subject: x509.Name, public_key):  # type: ignore[no-untyped-def]
    return subject, rsa.generate_private_key(65537, 2048).public_key()


@pytest.mark.parametrize("tamper, words", [(_wrong_subject, "subject"), (_wrong_key, "public key")],
                         ids=["wrong-subject", "wrong-key"])
def test_bad_certificate_is_not_installed(ctx: Context, make_key, tmp_path: Path, tamper, words: str) -> None:  # type: ignore[no-untyped-def]
    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    with est_server.serve(est_server.create_app(policy=est_server.Policy(tamper=tamper))) as url, \
            pytest.raises(errors.RenewalBadCertificate) as exc:
        do_renew(ctx, key, url, new_key=True, save_dir=tmp_path)
    assert words in exc.value.message_en()
    _assert_untouched(ctx, made.serial, old)


def test_certificate_from_another_ca_is_not_installed(ctx: Context, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The SZCA key's request answered by the NETCA demo CA (a valid chain, but not the same CA)."""
    from zhenglian.reference import democa

    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    other = democa.load_or_create("netca")

    def swap_ca(subject, public_key):  # type: ignore[no-untyped-def]
        return subject, public_key

    app = est_server.create_app(policy=est_server.Policy(tamper=swap_ca))
    # Route the issuance through the other CA: its issue() replaces the right one's.
    szca = democa.load_or_create("szca")
    original = democa.DemoCA.issue

    def issue(self, *a, **k):  # type: ignore[no-untyped-def]
        return original(other if self.ca_id == szca.ca_id else self, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(democa.DemoCA, "issue", issue)
    try:
        with est_server.serve(app) as url, pytest.raises(errors.RenewalBadCertificate) as exc:
            do_renew(ctx, key, url, new_key=False, save_dir=tmp_path)
    finally:
        mp.undo()
    assert "not issued by the CA" in exc.value.message_en()
    _assert_untouched(ctx, made.serial, old)


def test_expired_certificate_is_refused_before_any_pin(ctx: Context, make_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_key(days_valid=-1)
    key = scan(ctx, made.serial)
    with pytest.raises(errors.CertificateExpired):
        renew.renew(KeyHandle(ctx.tokens.module_for(key), key, None), None, "http://127.0.0.1:9/.well-known/est",
                    save_dir=tmp_path)


@pytest.mark.parametrize("stage", ["keypair", "send", "install"])
def test_key_removed_half_way(ctx: Context, make_key, softhsm_conf: Path, tmp_path: Path, stage: str) -> None:  # type: ignore[no-untyped-def]
    """Pull the key out (its SoftHSM token directory moved away) at a stage; plug it back in."""
    made = make_key()
    key = scan(ctx, made.serial)
    old = key.signing_certificate()
    home = token_dir(softhsm_conf, made.spec.label)
    away = tmp_path / "drawer"

    def pull_out(current: str) -> None:
        if current == stage:
            shutil.move(str(home), str(away))

    with est_server.serve(est_server.create_app()) as url, pytest.raises(errors.RenewalKeyRemoved) as exc:
        do_renew(ctx, key, url, new_key=True, hook=pull_out, save_dir=tmp_path / "issued")
    assert isinstance(exc.value, errors.TokenRemoved)
    shutil.move(str(away), str(home))  # plugged back in
    saved = list((tmp_path / "issued").rglob("*.der"))
    issued = stage in ("send", "install")  # pulled out after the request went to the CA
    if issued:
        # The CA had issued: the certificate is kept, and the message says so.
        assert len(saved) == 1 and str(saved[0]) in exc.value.user_message()
    else:
        assert saved == []
    key = scan(ctx, made.serial)
    signing = [c for c in key.certificates if not c.info.is_ca and c.info.usage == "signing"]
    assert [c.info.sha256 for c in signing] == [old.info.sha256]
    sign_and_verify(ctx, key, old.info.der, old.cka_id)
    if issued:
        # Renewing again installs the issued certificate without asking the CA (the service is down).
        down = f"http://127.0.0.1:{_free_port()}/.well-known/est"
        result = do_renew(ctx, key, down, new_key=True, save_dir=tmp_path / "issued")
        assert result.resumed and result.new.sha256 == saved[0].stem
        sign_and_verify(ctx, scan(ctx, made.serial), result.new.der, result.cka_id)
    else:
        # A leftover pending key pair (if any) is cleaned up by the next renewal, which succeeds.
        with est_server.serve(est_server.create_app()) as url:
            result = do_renew(ctx, key, url, new_key=True, save_dir=tmp_path / "issued")
        assert not result.resumed
        summary = objects_summary(ctx, scan(ctx, made.serial))
        assert summary["pending"] == [] and summary["priv"] == [result.cka_id]


def test_key_deleted_after_the_ca_answered(ctx: Context, make_key, softhsm_conf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The token deleted outright (softhsm2-util) from a hook: a typed error, the issued certificate kept."""
    made = make_key()
    key = scan(ctx, made.serial)

    def delete(stage: str) -> None:
        if stage == "install":
            softhsm.delete_token(softhsm_conf, made.spec.label)

    with est_server.serve(est_server.create_app()) as url, pytest.raises(errors.RenewalKeyRemoved) as exc:
        do_renew(ctx, key, url, new_key=True, hook=delete, save_dir=tmp_path)
    (saved,) = list(tmp_path.rglob("*.der"))
    assert str(saved) in exc.value.user_message()
    with pytest.raises(errors.NoKey):
        scan(ctx, made.serial)


def test_renewal_url_comes_from_cli_then_settings_then_manifest(ctx: Context) -> None:
    netca = ctx.manifests.by_id("netca")
    with pytest.raises(errors.RenewalNotConfigured):
        renew.renewal_url(ctx.settings, netca)
    assert renew.renewal_url(ctx.settings, netca, "https://x/est/") == "https://x/est"
    ctx.settings._extra["est_url"] = "https://demo/est"
    assert renew.renewal_url(ctx.settings, netca) == "https://demo/est"
    assert renew.renewal_url(ctx.settings, netca, "http://localhost:9/est") == "http://localhost:9/est"
    with pytest.raises(errors.RenewalInsecure):  # plain http to another machine, from wherever it came
        renew.renewal_url(ctx.settings, netca, "http://x/est/")
    ctx.settings._extra["est_url"] = "http://demo/est"
    with pytest.raises(errors.RenewalInsecure):
        renew.renewal_url(ctx.settings, netca)
