"""Online renewal of SKF keys: the same renewal as for PKCS#11, the key work done with SKF calls.

The key is skfsoft loaded as a vendor library (``--module libskfsoft.so``, no PKCS#11 module),
its certificates issued by the demo CAs; the CA is the demo EST service.  A new key pair is made
in a new container (SKF_CreateContainer + SKF_GenECCKeyPair/GenRSAKeyPair), the CA's
certificate written there (SKF_ImportCertificate), the old container deleted only after a test
signature verified.  Signatures with the new certificate are judged by BouncyCastle (SM2 PDF)
and ``openssl pkeyutl`` (raw SM2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.skf import SkfKey, SkfOnly

from zhenglian import errors
from zhenglian.errors import ExitCode
from zhenglian.keys.session import KeySession
from zhenglian.lifecycle import renew
from zhenglian.reference import est as est_server
from zhenglian.reference import skfsoft
from zhenglian.tokens import pin
from zhenglian.tokens.secret import PinBuffer
from zhenglian.tokens.skf.keyops import PENDING_PREFIX

APP = skfsoft.DEFAULT_APP


def _handle(only: SkfOnly, serial: str):  # type: ignore[no-untyped-def]
    mgr = only.manager()
    return mgr.handle(mgr.find_key(serial))


def _containers(root: Path, k: SkfKey) -> dict[str, set[str]]:
    """Container name -> the files in it, as skfsoft keeps them (what is on the "key")."""
    app = root / k.name / APP
    return {d.name: {f.name for f in d.iterdir() if not f.name.startswith(".")}
            for d in app.iterdir() if d.is_dir() and (d / "type").is_file()}


def _signing(only: SkfOnly, serial: str) -> list:  # type: ignore[type-arg]
    key = only.manager().find_key(serial)
    return [c for c in key.certificates if not c.info.is_ca and c.info.usage in ("signing", "both")
            and c.paired is not False]


def _renew(only: SkfOnly, k: SkfKey, url: str, **kw: object) -> renew.RenewalResult:
    with PinBuffer(bytearray(k.user_pin.encode())) as p:
        return renew.renew(_handle(only, k.serial), p, url, **kw)  # type: ignore[arg-type]


def test_sm2_key_renewed_through_the_client_with_a_new_key_pair(
        skf_only: SkfOnly, make_skf_key, skf_root: Path, bc_pdf_check, openssl_sm2_verify,
        tmp_path: Path) -> None:
    """``zhenglian renew`` on an SM2 SKF key: a new key pair in a new container, the demo CA's new
    certificate on the key, the old container gone; a PDF signed afterwards validates in
    BouncyCastle with the new certificate, and a raw signature in openssl."""
    from asn1crypto import x509
    from helpers import pdf as ph

    from zhenglian.pki import sm2

    k = make_skf_key(sm2=True, encryption=False)
    (old,) = _signing(skf_only, k.serial)
    assert old.cka_id == b"SM2_CON"
    with est_server.serve(est_server.create_app()) as url:
        r = skf_only("renew", "--key", k.serial, "--est-url", url, "--new-key", "--pin-stdin", "--json",
                     input=k.user_pin + "\n", timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["new_key"] is True and result["old_removed"] is True and not result["resumed"]
    new_name = bytes.fromhex(result["cka_id"]).decode()
    assert new_name.startswith(PENDING_PREFIX)

    # On the key: one signing certificate, the new one, paired with the new container's key.
    (cert,) = _signing(skf_only, k.serial)
    assert cert.info.sha256 == result["new_sha256"] != old.info.sha256
    assert cert.paired is True and cert.cka_id == new_name.encode()
    assert cert.info.subject == old.info.subject and cert.info.not_after > old.info.not_after
    on_key = _containers(skf_root, k)
    assert "SM2_CON" not in on_key  # the old pair is not left as a signing key
    assert on_key[new_name] == {"type", "sign_key.pem", "sign_cert.der"}
    new_point = sm2.public_point(x509.Certificate.load(cert.info.der))
    assert new_point != sm2.public_point(x509.Certificate.load(old.info.der))
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10  # one PIN, right first time

    # Signing now uses the new key pair: a raw signature judged by openssl ...
    h = _handle(skf_only, k.serial)
    with pin.user_session(h, PinBuffer(bytearray(k.user_pin.encode()))) as s:
        sig = KeySession(h, s).sign(b"after renewal")
    assert openssl_sm2_verify(new_point, b"after renewal", sig)
    # ... and a signed PDF by BouncyCastle, naming the new certificate.
    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk for the PDF part")
    src = ph.make_contract(tmp_path / "合同.pdf", 1)
    out = tmp_path / "signed.pdf"
    r = skf_only("sign", str(src), "-o", str(out), "--key", k.serial, "--anchor", "甲方（盖章）",
                 "--pin-stdin", "--json", input=k.user_pin + "\n")
    assert r.returncode == 0, r.stderr
    judged = bc_pdf_check(out)
    assert judged.ok, "\n".join(judged.lines)
    from pyhanko.pdf_utils.reader import PdfFileReader

    with out.open("rb") as fh:
        (embedded,) = PdfFileReader(fh).embedded_signatures
        assert embedded.signer_cert.dump() == cert.info.der


def test_dual_certificate_container_is_recertified_in_place(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                                             tmp_path: Path) -> None:
    """A container with the CA's encryption pair is never deleted (the pair cannot move): the CA
    certifies the sign pair again and SKF_ImportCertificate replaces the certificate there."""
    k = make_skf_key(sm2=True)
    (old,) = _signing(skf_only, k.serial)
    enc_before = (skf_root / k.name / APP / "SM2_CON" / "enc_cert.der").read_bytes()
    stages: list[str] = []
    with est_server.serve(est_server.create_app()) as url:
        result = _renew(skf_only, k, url, new_key=True, hook=stages.append, save_dir=tmp_path / "issued")
    assert stages == ["prepare", "request", "send", "check", "install", "verify", "cleanup"]
    assert result.new_key is False and result.cka_id == b"SM2_CON" and result.old_removed
    (cert,) = _signing(skf_only, k.serial)
    assert cert.info.sha256 == result.new.sha256 and cert.paired is True
    assert (skf_root / k.name / APP / "SM2_CON" / "enc_cert.der").read_bytes() == enc_before
    assert not [n for n in _containers(skf_root, k) if n.startswith(PENDING_PREFIX)]
    assert not list((tmp_path / "issued").rglob("*.der"))


def test_rsa_key_renewed_with_a_new_2048_bit_pair(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                                  tmp_path: Path) -> None:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    k = make_skf_key(sm2=False, rsa=True)
    with est_server.serve(est_server.create_app()) as url:
        result = _renew(skf_only, k, url, new_key=True, save_dir=tmp_path / "issued")
    assert result.new_key and result.new.key_type == "RSA" and result.new.key_bits == 2048
    assert "RSA_CON" not in _containers(skf_root, k)
    h = _handle(skf_only, k.serial)
    assert h.signing_cert.info.sha256 == result.new.sha256
    with pin.user_session(h, PinBuffer(bytearray(k.user_pin.encode()))) as s:
        sig = KeySession(h, s).sign(b"rsa after renewal")
    public = cx509.load_der_x509_certificate(result.new.der).public_key()
    public.verify(sig, b"rsa after renewal", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


def test_ca_refusal_leaves_the_key_as_it_was(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                             tmp_path: Path) -> None:
    k = make_skf_key(sm2=True, encryption=False)
    before = _containers(skf_root, k)
    old_der = (skf_root / k.name / APP / "SM2_CON" / "sign_cert.der").read_bytes()
    app = est_server.create_app(policy=est_server.Policy(refuse="account suspended"))
    with est_server.serve(app) as url, pytest.raises(errors.RenewalRefused):
        _renew(skf_only, k, url, new_key=True, save_dir=tmp_path / "issued")
    assert _containers(skf_root, k) == before  # the new container was removed again
    assert (skf_root / k.name / APP / "SM2_CON" / "sign_cert.der").read_bytes() == old_der


def test_a_full_key_is_a_typed_error_and_keeps_the_certificate(skf_only: SkfOnly, make_skf_key,
                                                               skf_root: Path, tmp_path: Path) -> None:
    """SAR_REACH_MAX_CONTAINER_COUNT from SKF_CreateContainer → SkfNoRoom; nothing changed."""
    k = make_skf_key(sm2=True, encryption=False, max_containers=2)  # SM2_CON + CA_SM2: full
    before = _containers(skf_root, k)
    with est_server.serve(est_server.create_app()) as url, pytest.raises(errors.SkfNoRoom) as exc:
        _renew(skf_only, k, url, new_key=True, save_dir=tmp_path / "issued")
    assert "SAR_REACH_MAX_CONTAINER_COUNT" in exc.value.message_en()
    assert _containers(skf_root, k) == before
    (cert,) = _signing(skf_only, k.serial)
    assert cert.cka_id == b"SM2_CON" and cert.paired is True


@pytest.mark.parametrize("stage", ["keypair", "install"])
def test_key_pulled_out_half_way_then_renewed(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                              tmp_path: Path, stage: str) -> None:
    """Pulled out at a stage: the old certificate still signs when it is back.  After the CA
    answered ("install"), its certificate is kept and the next renewal installs it into the
    container made for it without a new request; before ("keypair"), the next one starts afresh."""
    k = make_skf_key(sm2=True, encryption=False)
    sent: list[str] = []

    def pull(current: str) -> None:
        if current == stage:
            skfsoft.unplug(skf_root, k.name)

    with est_server.serve(est_server.create_app()) as url:
        with pytest.raises(errors.RenewalKeyRemoved) as exc:
            _renew(skf_only, k, url, new_key=True, hook=pull, save_dir=tmp_path / "issued")
        saved = list((tmp_path / "issued").rglob("*.der"))
        if stage == "install":
            assert len(saved) == 1 and str(saved[0]) in exc.value.user_message()
        else:
            assert saved == []
        skfsoft.plug_in(skf_root, k.name)
        (still,) = _signing(skf_only, k.serial)
        assert still.cka_id == b"SM2_CON"  # the old certificate still signs
        result = _renew(skf_only, k, url, new_key=True, hook=lambda s: sent.append(s) if s == "send" else None,
                        save_dir=tmp_path / "issued")
    assert result.resumed is (stage == "install") and (sent == []) is (stage == "install")
    assert result.new_key and "SM2_CON" not in _containers(skf_root, k)
    assert [n for n in _containers(skf_root, k) if n.startswith(PENDING_PREFIX)] == [result.cka_id.decode()]
    (cert,) = _signing(skf_only, k.serial)
    assert cert.info.sha256 == result.new.sha256 and cert.paired is True


def test_a_library_without_the_renewal_calls_is_refused_before_the_pin(
        skf_only: SkfOnly, make_skf_key, skf_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.tokens.skf.library import SkfLibrary

    k = make_skf_key(sm2=True, encryption=False)
    monkeypatch.setattr(SkfLibrary, "missing_for_renewal", lambda self: ["SKF_GenECCKeyPair"])
    with PinBuffer(bytearray(b"Wrong@2026x")) as p, pytest.raises(errors.RenewalUnsupportedBackend) as exc:
        renew.renew(_handle(skf_only, k.serial), p, "https://127.0.0.1:9/est")
    assert "SKF_GenECCKeyPair" in exc.value.message_en() and exc.value.exit_code == ExitCode.CERTIFICATE
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10  # the (wrong) PIN never reached the key
    # The CLI and the tray call precheck before they ask for any PIN: refused there already.
    from zhenglian.config import Settings

    with pytest.raises(errors.RenewalUnsupportedBackend):
        renew.precheck(_handle(skf_only, k.serial), Settings(est_url="https://127.0.0.1:9/est"), None)


# --- the binding and skfsoft, call by call ------------------------------------------------------

def test_key_pair_calls_need_the_user_pin(skf_lib, make_skf_device, skf_root: Path) -> None:
    """SKF_CreateContainer, SKF_GenECCKeyPair and SKF_ImportCertificate refuse without the user PIN
    (SAR_USER_NOT_LOGGED_IN), as real keys do; with it, the new pair's public key is exported again."""
    from helpers.skf import USER_PIN

    make_skf_device()
    (name,) = skf_lib.devices()
    with skf_lib.connect(name) as dev, dev.open_application(dev.applications()[0]) as app:
        with pytest.raises(errors.SkfNotLoggedIn):
            app.create_container("ZL-new")
        with app.open_container("SM2_CON") as con:
            with pytest.raises(errors.SkfNotLoggedIn):
                con.gen_ecc_keypair()
            with pytest.raises(errors.SkfNotLoggedIn):
                con.import_certificate(con.certificate(sign=True) or b"")
        app.verify_pin(bytearray(USER_PIN))
        with app.create_container("ZL-new") as con:
            assert con.key_type is None
            pub = con.gen_ecc_keypair()
            assert con.key_type == "sm2" and con.public_key() == pub
            assert con.certificate(sign=True) is None
            with pytest.raises(ValueError):
                con.import_certificate(b"\x30\x03\x02\x01")  # not one whole DER structure
            with pytest.raises(errors.SkfError):
                con.import_certificate(b"\x30\x03\x02\x01\x01")  # DER, but not a certificate
            with pytest.raises(ValueError):
                con.gen_rsa_keypair(4096)
        with pytest.raises(errors.SkfError) as exc:
            app.create_container("ZL-new")
        assert "SAR_FILE_ALREADY_EXIST" in exc.value.message_en()
        app.delete_container("ZL-new")
        assert "ZL-new" not in app.containers()
        with pytest.raises(errors.SkfObjectMissing):
            app.delete_container("ZL-new")


def test_sm2_request_made_on_the_key_verifies_in_openssl(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                                        tmp_path: Path) -> None:
    """The PKCS#10 request signed by a pair SKF_GenECCKeyPair made: sm2_sm3, e = SM3(Z‖M) with the
    default ID — judged by ``openssl req -verify`` (distid 1234567812345678), not by our code."""
    import shutil
    import subprocess

    from asn1crypto import csr
    from asn1crypto import x509 as ax509

    from zhenglian.lifecycle import pkix

    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    k = make_skf_key(sm2=True, encryption=False)
    h = _handle(skf_only, k.serial)
    ops = h.backend.key_ops(h)
    subject = ax509.Certificate.load(h.signing_cert.info.der).subject
    with pin.user_session(h, PinBuffer(bytearray(k.user_pin.encode())), rw=True) as s:
        new_id, spki = ops.generate_like(s, "SM2", 256)
        request = pkix.build_csr(subject, spki, ops.signer(s, new_id))
        ops.destroy_pair(s, new_id)
    assert csr.CertificationRequest.load(request)["signature_algorithm"]["algorithm"].native == "sm2_sm3"
    path = tmp_path / "req.der"
    path.write_bytes(request)
    args = ["openssl", "req", "-in", str(path), "-inform", "DER", "-noout", "-verify"]
    good = subprocess.run([*args, "-vfyopt", "distid:1234567812345678"], capture_output=True, text=True)
    assert good.returncode == 0 and "verify OK" in (good.stdout + good.stderr), good.stderr
    other_id = subprocess.run([*args, "-vfyopt", "distid:0000000000000000"], capture_output=True, text=True)
    # (openssl 3.0's req exits 0 either way; its verdict is in the text.)  The ID is part of what was signed:
    assert "verify OK" not in other_id.stdout + other_id.stderr and "failure" in other_id.stderr
    assert new_id.decode() not in _containers(skf_root, k)


def test_doctor_says_what_the_skf_library_allows(skf_only: SkfOnly, make_skf_key) -> None:
    make_skf_key()
    r = skf_only("doctor", "--json")
    assert r.returncode == 0, r.stderr
    (user,) = [u for u in json.loads(r.stdout)["user_modules"] if u["kind"] == "skf"]
    assert user["library"]["renewal_missing"] == [] and user["library"]["device_events"] is True
    r = skf_only("doctor")
    assert "在线续期 online renewal: 支持 supported; 热插拔 hot-plug: SKF_WaitForDevEvent" in r.stdout, r.stdout
