"""SKF keys through the client: the SKF backend behind the key seam, every flow.

The key is skfsoft (the software SKF library) loaded as a vendor library is:
``--module libskfsoft.so`` with no PKCS#11 module for it.  Its certificates
were issued by the demo CAs.  Signatures are judged by others: SM2 PDFs by
BouncyCastle, SM2 raw signatures by ``openssl pkeyutl``, RSA by pyHanko's
validator (``zhenglian verify``) and ``cryptography``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.skf import SkfKey, SkfOnly

from zhenglian import errors
from zhenglian.errors import ExitCode
from zhenglian.keys import sm2mech
from zhenglian.keys.session import KeySession
from zhenglian.reference import skfsoft
from zhenglian.tokens import pin
from zhenglian.tokens.secret import PinBuffer

WRONG = "Wrong@2026x"
NEW = "Fresh#Pin2026"


def _key(only: SkfOnly, serial: str):  # type: ignore[no-untyped-def]
    mgr = only.manager()
    key = mgr.find_key(serial)
    return mgr, key, mgr.handle(key)


def _pin(text: str) -> PinBuffer:
    return PinBuffer(bytearray(text.encode()))


def _login(h, text: str, **kw: object) -> None:  # type: ignore[no-untyped-def]
    with pin.user_session(h, _pin(text), **kw):  # type: ignore[arg-type]
        pass


# --- listing -------------------------------------------------------------------------------

def test_manager_lists_the_skf_key_with_its_certificates(skf_only: SkfOnly, make_skf_key) -> None:
    k: SkfKey = make_skf_key(sm2=True, rsa=False)
    mgr = skf_only.manager()
    assert [m.kind for m in mgr.modules] == ["skf"]  # no PKCS#11 module at all
    key = mgr.find_key(k.serial)
    assert key.backend == "skf" and key.module_path == str(skf_only.lib)
    assert key.ca_id == "szca" and key.ca_source == "issuer"
    assert key.pin_tries_left == 10 and key.flags.pin_state() == "ok"
    sign = key.signing_certificate()
    assert sign is not None and sign.paired is True and sign.cka_id == b"SM2_CON"
    assert sign.info.organization == k.spec.organization  # type: ignore[attr-defined]
    usages = sorted((c.info.usage, c.paired) for c in key.certificates if not c.info.is_ca)
    assert usages == [("encryption", False), ("signing", True)]  # the encryption certificate never signs
    assert len(mgr.handle(key).ca_ders) == 1  # the issuing CA, kept on the key in a container of its own


def test_keys_and_doctor_cli_name_the_backend_and_exact_tries(skf_only: SkfOnly, make_skf_key) -> None:
    k = make_skf_key()
    r = skf_only("keys", "--json")
    assert r.returncode == 0, r.stderr
    (key,) = json.loads(r.stdout)["keys"]
    assert key["serial"] == k.serial and key["backend"] == "skf" and key["pin_tries_left"] == 10
    r = skf_only("keys")
    assert "SKF (GM/T 0016)" in r.stdout and "还可尝试 10 次" in r.stdout
    r = skf_only("doctor", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    (dk,) = report["keys"]
    assert dk["backend"] == "skf" and dk["pin_tries_left"] == 10
    (user,) = report["user_modules"]
    assert user["kind"] == "skf" and user["loaded"] is True
    r = skf_only("doctor")
    assert "SKF (GM/T 0016)" in r.stdout and "Traceback" not in r.stderr


# --- PIN: exact from the key ------------------------------------------------------------------

def test_lockout_through_the_client(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    """9 wrong, the final try confirmed, the 10th locks, the SO PIN unlocks — all through the CLI."""
    k = make_skf_key()

    def status() -> dict:  # type: ignore[type-arg]
        r = skf_only("pin", "status", "--key", k.serial, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["user_pin"]

    def verify(p: str, *extra: str):  # type: ignore[no-untyped-def]
        return skf_only("pin", "verify", "--key", k.serial, "--pin-stdin", *extra, input=p + "\n")

    st = status()
    assert st["tries_left"] == 10 and st["exact"] is True
    for i in range(1, 10):
        r = verify(WRONG)
        assert r.returncode == ExitCode.WRONG_PIN, r.stderr
        assert f"还可尝试 {10 - i} 次" in r.stderr and "Traceback" not in r.stderr
        assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10 - i  # the key's own count
    st = status()
    assert st["tries_left"] == 1 and st["final_try"] is True and st["exact"] is True

    r = verify(WRONG)  # the final try is not spent without confirmation
    assert r.returncode == ExitCode.CANCELLED, r.stderr
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 1
    r = verify(WRONG, "--confirm-final-try")
    assert r.returncode == ExitCode.PIN_LOCKED and "已锁定" in r.stderr
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 0
    st = status()
    assert st["locked"] is True and st["tries_left"] == 0
    r = verify(k.user_pin, "--confirm-final-try")  # locked: not even the right PIN reaches the key
    assert r.returncode == ExitCode.PIN_LOCKED

    # A wrong SO PIN counts on the SO side only, exactly.
    r = skf_only("pin", "unlock", "--key", k.serial, "--pin-stdin", input=f"Bad@SoPin1\n{NEW}\n{NEW}\n")
    assert r.returncode == ExitCode.WRONG_PIN, r.stderr
    assert skfsoft.retry_counters(skf_root, k.name) == {"user": 0, "admin": 9}
    r = skf_only("pin", "unlock", "--key", k.serial, "--pin-stdin", input=f"{k.admin_pin}\n{NEW}\n{NEW}\n")
    assert r.returncode == 0, r.stderr
    assert skfsoft.retry_counters(skf_root, k.name) == {"user": 10, "admin": 10}
    assert verify(NEW).returncode == 0
    assert verify(k.user_pin).returncode == ExitCode.WRONG_PIN

    # Change: a wrong old PIN counts once; the right one changes it.
    r = skf_only("pin", "change", "--key", k.serial, "--pin-stdin", input=f"{WRONG}\n{k.user_pin}\n{k.user_pin}\n")
    assert r.returncode == ExitCode.WRONG_PIN and "还可尝试 8 次" in r.stderr
    r = skf_only("pin", "change", "--key", k.serial, "--pin-stdin", input=f"{NEW}\n{k.user_pin}\n{k.user_pin}\n")
    assert r.returncode == 0, r.stderr
    assert verify(k.user_pin).returncode == 0
    assert status()["tries_left"] == 10


def test_pin_status_comes_from_the_key_not_our_counter(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    k = make_skf_key()
    _mgr, _key_info, h = _key(skf_only, k.serial)
    with pytest.raises(errors.WrongPin) as exc:
        _login(h, WRONG)
    assert exc.value.facts["tries_left"] == 9
    # The key is reset elsewhere (the vendor's tool): the key's count wins at once.
    skfsoft.unplug(skf_root, k.name)
    text = (skf_root / f".{k.name}.unplugged" / skfsoft.DEFAULT_APP / "pins").read_text()
    (skf_root / f".{k.name}.unplugged" / skfsoft.DEFAULT_APP / "pins").write_text(
        text.replace("user_remaining=9", "user_remaining=10"))
    skfsoft.plug_in(skf_root, k.name)
    st = pin.status(h)
    assert st.tries_left == 10 and st.exact


def test_pin_locked_on_the_key_is_refused_before_asking(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    k = make_skf_key(max_tries=2)
    _mgr, _key_info, h = _key(skf_only, k.serial)
    with pytest.raises(errors.WrongPin):
        _login(h, WRONG)
    with pytest.raises(errors.PinLocked):
        _login(h, WRONG, confirmed_final_try=True)
    before = skfsoft.retry_counters(skf_root, k.name)
    with pytest.raises(errors.PinLocked) as exc:
        pin.gate(h)
    assert "CA" in exc.value.user_message()
    # Straight at the backend (as if our gate were bypassed): SAR_PIN_LOCKED → CKR_PIN_LOCKED.
    from zhenglian.tokens import p11raw

    with h.backend.session(h.serial) as s:
        assert h.backend.login(s, p11raw.CKU_USER, bytearray(k.user_pin.encode())) == p11raw.CKR_PIN_LOCKED
    assert skfsoft.retry_counters(skf_root, k.name) == before


# --- signing ------------------------------------------------------------------------------------

def test_sm2_and_rsa_sign_checked_and_judged(skf_only: SkfOnly, make_skf_key, openssl_sm2_verify) -> None:
    from asn1crypto import x509

    from zhenglian.pki import sm2

    k = make_skf_key(sm2=True)
    r = make_skf_key(sm2=False, rsa=True)
    mgr = skf_only.manager()
    h = mgr.handle(mgr.find_key(k.serial))
    with pin.user_session(h, _pin(k.user_pin)) as s:
        ks = KeySession(h, s)
        sig = ks.sign(b"message one")
        assert ks.plan.mechanism == sm2mech.MECH_SKF_SM2_E and ks.plan.output == "raw"
    point = sm2.public_point(x509.Certificate.load(h.signing_cert.info.der))
    assert openssl_sm2_verify(point, b"message one", sig)
    assert not openssl_sm2_verify(point, b"message two", sig)

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    h = mgr.handle(mgr.find_key(r.serial))
    with pin.user_session(h, _pin(r.user_pin)) as s:
        ks = KeySession(h, s)
        sig = ks.sign(b"rsa message")
        assert ks.plan.name == "CKM_RSA_PKCS"
    public = cx509.load_der_x509_certificate(h.signing_cert.info.der).public_key()
    public.verify(sig, b"rsa message", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


def test_sign_cli_sm2_pdf_validates_in_bouncycastle(skf_only: SkfOnly, make_skf_key, bc_pdf_check,
                                                   tmp_path: Path) -> None:
    from helpers import pdf as ph

    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk")
    k = make_skf_key(sm2=True)
    src = ph.make_contract(tmp_path / "合同.pdf", 1)
    before = ph.sha256_file(src)
    out = tmp_path / "signed.pdf"
    r = skf_only("sign", str(src), "-o", str(out), "--key", k.serial, "--anchor", "甲方（盖章）",
                 "--pin-stdin", "--json", input=k.user_pin + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["organization"] == k.spec.organization  # type: ignore[attr-defined]
    assert ph.sha256_file(src) == before
    judged = bc_pdf_check(out)
    assert judged.ok, "\n".join(judged.lines)


def test_sign_cli_rsa_pdf_validates(skf_only: SkfOnly, make_skf_key, tmp_path: Path) -> None:
    from helpers import pdf as ph

    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk")
    k = make_skf_key(sm2=False, rsa=True)
    src = ph.make_contract(tmp_path / "c.pdf", 1)
    out = tmp_path / "signed.pdf"
    r = skf_only("sign", str(src), "-o", str(out), "--key", k.serial, "--page", "1", "--at", "99,99",
                 "--pin-stdin", input=k.user_pin + "\n")
    assert r.returncode == 0, r.stderr
    trust = [a for p in ph.demo_roots_pem() for a in ("--trust", str(p))]
    r = skf_only("verify", str(out), "--json", *trust)
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["valid"] is True, r.stdout
    assert data["signatures"][0]["trusted"] is True


# --- bad input ------------------------------------------------------------------------------------

def test_container_without_certificate_is_no_certificate(skf_only: SkfOnly, skf_root: Path, skf_material) -> None:
    skfsoft.create_device(skf_root, "nocert", serial="SKFNOCERT", label="no cert",
                          user_pin=bytearray(b"Skf@2026demo"), admin_pin=bytearray(b"SkfAdmin@2026"),
                          containers=[skfsoft.Container("RSA_CON", "rsa", skfsoft.KeyPair(skf_material.rsa_sign_pem))])
    mgr = skf_only.manager()
    key = mgr.find_key("SKFNOCERT")
    assert key.certificates == () and key.read_error is None
    with pytest.raises(errors.NoCertificate):
        _ = mgr.handle(key).signing_cert
    r = skf_only("sign", str(skf_root / "x.pdf"), "-o", str(skf_root / "y.pdf"), "--key", "SKFNOCERT",
                 "--page", "1", "--at", "1,1", "--pin-stdin", input="")
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_malformed_signature_blob_writes_nothing(skf_only: SkfOnly, make_skf_key, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.tokens.skf import library

    k = make_skf_key()
    _mgr, _key_info, h = _key(skf_only, k.serial)

    def bad_blob(self, e: bytes) -> bytes:  # type: ignore[no-untyped-def]
        return library.parse_ecc_signature(b"\x01" * 64, b"\x02" * 64)  # bytes above 256 bits

    monkeypatch.setattr(library.SkfContainer, "ecc_sign", bad_blob)
    with pin.user_session(h, _pin(k.user_pin)) as s, pytest.raises(errors.SkfBadResponse):
        KeySession(h, s).sign(b"x")


def test_device_removed_mid_batch(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    k = make_skf_key()
    _mgr, _key_info, h = _key(skf_only, k.serial)
    with pin.user_session(h, _pin(k.user_pin)) as s:
        ks = KeySession(h, s)
        ks.sign(b"first")
        skfsoft.unplug(skf_root, k.name)
        with pytest.raises(errors.TokenRemoved):
            ks.sign(b"second")
    assert skfsoft.retry_counters(skf_root, f".{k.name}.unplugged")["user"] == 10


def test_not_an_skf_library_and_missing_functions_are_reported(tmp_path: Path) -> None:
    import subprocess

    from zhenglian import manifest
    from zhenglian.tokens.manager import TokenManager

    text = tmp_path / "notalib.so"
    text.write_text("hello")
    src = tmp_path / "partial.c"
    src.write_text("unsigned int SKF_EnumDev(int p, char *l, unsigned int *s) { (void)p; (void)l; *s = 1; return 0; }\n")
    partial = tmp_path / "libpartial.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(partial), str(src)], check=True, timeout=120)
    empty = tmp_path / "drivers"
    empty.mkdir()
    mgr = TokenManager(manifest.load_all(empty), [str(text), str(partial)])
    assert sorted(m.kind for m in mgr.modules) == ["pkcs11", "skf"]
    problems = mgr.load_all()
    kinds = {type(p) for p in problems}
    assert errors.SkfMissingFunctions in kinds and errors.DriverInvalid in kinds
    assert mgr.scan() == []  # reported and skipped, nothing crashes


# --- one key, two libraries; hot-plug -------------------------------------------------------

def test_a_key_reachable_through_both_is_shown_once(skf_only: SkfOnly, make_skf_key) -> None:
    import dataclasses

    k = make_skf_key()
    mgr = skf_only.manager()
    skf_view = mgr.find_key(k.serial)
    p11_view = dataclasses.replace(skf_view, backend="pkcs11", module_path="/x/libvendor-p11.so")
    # An SM2 key: SKF serves it unless the manifest says otherwise.
    assert [v.backend for v in mgr.one_per_key([p11_view, skf_view])] == ["skf"]
    szca = mgr.manifests.by_id("szca")
    mgr.manifests.manifests[mgr.manifests.manifests.index(szca)] = dataclasses.replace(szca, prefer_backend="pkcs11")
    assert [v.backend for v in mgr.one_per_key([p11_view, skf_view])] == ["pkcs11"]
    # Two different keys are both kept.
    other = dataclasses.replace(p11_view, serial="OTHER")
    assert len(mgr.one_per_key([other, skf_view])) == 2


def test_watcher_sees_skf_keys_come_and_go(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    from zhenglian.tokens.watcher import KeyWatcher

    k = make_skf_key(plug_in=False)
    w = KeyWatcher(skf_only.manager(), use_usb=False)
    assert w.poll_once() == []
    skfsoft.plug_in(skf_root, k.name)
    (ev,) = w.poll_once()
    assert ev.kind == "inserted" and ev.key is not None and ev.key.serial == k.serial
    assert ev.key.backend == "skf"
    _mgr, _key_info, h = _key(skf_only, k.serial)
    with pytest.raises(errors.WrongPin):
        _login(h, WRONG)
    (ev,) = w.poll_once()
    assert ev.kind == "changed" and ev.key is not None and ev.key.pin_tries_left == 9
    skfsoft.unplug(skf_root, k.name)
    (ev,) = w.poll_once()
    assert ev.kind == "removed"


# --- tasks against the reference server ----------------------------------------------------------

def test_tasks_sign_all_with_one_pin(skf_only: SkfOnly, make_skf_key, reference_server, skf_root: Path,  # noqa: F811
                                     tmp_path: Path) -> None:
    """An SKF key (RSA certificate from the demo CA) logs in, signs every task with one PIN, uploads."""
    from helpers import pdf as ph

    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk")
    k = make_skf_key(sm2=False, rsa=True)
    spec = k.spec
    server = reference_server
    ids = server.add_tasks(spec.uscc, spec.organization, 3, kinds=("贷款合同",))  # type: ignore[attr-defined]
    # An SKF key holds no PKCS#11 seal objects: the institution's seal comes from the server.
    server.admin("seal", "add", "--institution", spec.uscc, "--type", "合同专用章")  # type: ignore[attr-defined]
    base = ("--server", server.url, "--key", k.serial)
    # No stored login (null keyring): the one PIN logs in and signs.
    run = skf_only("tasks", "sign", "--all", *base, "--pin-stdin", "--json", input=k.user_pin + "\n",
                   extra_env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert sorted(t["task_id"] for t in result["tasks"]) == sorted(ids)
    assert {t["state"] for t in result["tasks"]} == {"uploaded"}
    assert server.uploads_per_task() == {i: 1 for i in ids}
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10  # one PIN, right first time


# --- forms ----------------------------------------------------------------------------

# Online renewal of SKF keys (and a library lacking the calls for it): tests/test_skf_renewal.py.


def test_forms_for_an_skf_key(skf_only: SkfOnly, make_skf_key, tmp_path: Path) -> None:
    k = make_skf_key(sm2=True)
    out = tmp_path / "unlock.pdf"
    r = skf_only("forms", "unlock", "-o", str(out), "--key", k.serial)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(b"%PDF")


# --- the bridge job ------------------------------------------------------------------------------

class _OnePin:
    """A PinPrompter that gives one PIN and records what it was asked (the Qt one is tested elsewhere)."""

    def __init__(self, events: list[str], text: str) -> None:
        self.events, self.text = events, text

    def locked(self, st: object, error: object) -> None:
        self.events.append("locked")

    def confirm_final_try(self, st: object) -> bool:
        self.events.append("final_try")
        return False

    def ask_pin(self, st: object) -> PinBuffer | None:
        self.events.append("pin")
        return _pin(self.text)

    def pinpad(self, st: object):  # type: ignore[no-untyped-def]
        from contextlib import nullcontext

        return nullcontext()

    def keep_pin(self) -> bool:
        return False

    def show_error(self, error: object) -> None:
        self.events.append("error")


def test_bridge_job_on_an_skf_key(skf_only: SkfOnly, make_skf_key, reference_server, skf_root: Path,  # noqa: F811
                                  tmp_path: Path) -> None:
    from types import SimpleNamespace

    import httpx

    from zhenglian.bridge.jobs import DONE, BridgeJobs
    from zhenglian.bridge.protocol import SignRequest
    from zhenglian.server.api import ServerClient
    from zhenglian.server.tokenstore import TokenStore
    from zhenglian.tasks.outbox import Outbox

    k = make_skf_key(sm2=False, rsa=True)
    spec = k.spec
    server = reference_server
    server.admin("seal", "add", "--institution", spec.uscc, "--type", "合同专用章")  # type: ignore[attr-defined]
    tid = server.add_tasks(spec.uscc, spec.organization, 1, kinds=("贷款合同",))[0]  # type: ignore[attr-defined]
    mgr = skf_only.manager()
    key = mgr.find_key(k.serial)
    events: list[str] = []
    page = "https://sign.example.org"
    settings = SimpleNamespace(ca_bundle="", allowed_origins=[page], server_url=server.url)
    outbox = Outbox(tmp_path / "outbox")
    jobs = BridgeJobs(settings, mgr, lambda: [key], lambda info: events.append("confirm") or True,
                      lambda _key: _OnePin(events, k.user_pin), token_store=TokenStore(use_keyring=False),
                      outbox=outbox, client_factory=lambda url: ServerClient(url, timeout=10, retries=1, backoff=0.05))
    r = httpx.post(f"{server.url}/web/api/tasks/{tid}/ticket", params={"institution": spec.uscc})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    req = SignRequest(origin=page, server=server.url, server_origin=server.url, task_id=tid,
                      ticket=r.json()["ticket"], institution=spec.uscc)  # type: ignore[attr-defined]
    job = jobs.table.create(req.origin, req.task_id)
    jobs.run(job, req)
    out = job.to_dict()
    assert out["state"] == DONE, out
    assert events == ["pin", "confirm"]  # one PIN for the login and the signature
    assert server.store.task(tid).status == "signed" and server.uploads_per_task() == {tid: 1}
    assert outbox.pending() == []
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10


# --- the key card ---------------------------------------------------------------------------------

def test_key_card_names_the_interface_tries_and_a_32_bit_dll(skf_only: SkfOnly, make_skf_key, qtbot,
                                                            tmp_path: Path) -> None:
    import dataclasses
    import struct

    from PySide6.QtWidgets import QLabel

    from zhenglian.tokens import usb
    from zhenglian.tokens.snapshot import UnrecognisedKey
    from zhenglian.ui.keys_view import KeysView

    k = make_skf_key()
    mgr = skf_only.manager()
    key = mgr.find_key(k.serial)
    dll = tmp_path / "NetcaSKF.dll"  # a 32-bit x86 PE file, as some CAs ship
    head = bytearray(0x80 + 24)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, 0x014C)
    dll.write_bytes(bytes(head) + bytes(256))
    netca = mgr.manifests.by_id("netca")
    assert netca is not None
    from zhenglian.manifest import current_os

    m32 = dataclasses.replace(netca, skf_modules={current_os(): (str(dll),)})
    view = KeysView()
    qtbot.addWidget(view)
    view.set_keys([key], [UnrecognisedKey(usb.UsbDevice("1234", "5678"), m32, True)])
    text = "\n".join(label.text() for label in view.findChildren(QLabel))
    assert "SKF" in text and ("10 tries left" in text or "还可尝试 10 次" in text)
    assert "32" in text  # the 32-bit DLL is named as the reason, not "no driver"


# --- the demo ------------------------------------------------------------------------------------

def test_demo_skf_key_is_found_through_the_demo_manifest(skf_lib_path: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``demo init``'s SKF key: the library under the data directory, found by drivers/skfsoft.toml,
    its devices folder set from the manifest's [modules.env] — no --module, no variable set by hand."""
    from zhenglian import manifest
    from zhenglian.tokens.manager import TokenManager

    home = tmp_path / "home"
    monkeypatch.setenv("ZHENGLIAN_HOME", str(home))
    monkeypatch.setenv(skfsoft.ENV_DIR, "unset-below")
    monkeypatch.delenv(skfsoft.ENV_DIR)  # restored after the test, whatever the backend sets
    made = skfsoft.provision_demo()
    assert made.library == home / "skfsoft" / "libskfsoft.so" and made.library.is_file()
    mgr = TokenManager(manifest.load_all(), [])
    skf = [m for m in mgr.modules if m.kind == "skf"]
    assert [m.path for m in skf] == [made.library] and skf[0].claimed_by == ("skfsoft",)
    key = mgr.find_key(skfsoft.DEMO_SERIAL)
    assert key.backend == "skf" and key.demo and key.ca_id == "szca"
    assert key.signing_certificate() is not None and key.pin_tries_left == 10
    h = mgr.handle(key)
    with pin.user_session(h, _pin(made.user_pin)) as s:
        KeySession(h, s).sign(b"demo")


def test_a_manifest_naming_a_pkcs11_module_as_skf_is_reported(tmp_path: Path) -> None:
    from zhenglian import manifest
    from zhenglian.reference import softhsm
    from zhenglian.tokens.manager import TokenManager

    drivers = tmp_path / "drivers"
    drivers.mkdir()
    (drivers / "wrong.toml").write_text(
        'id = "wrong"\nkind = "maker"\n[names]\nzh = "错配"\nen = "mismatch"\n'
        f'[modules]\nskf_linux = ["{softhsm.module_path()}"]\n', encoding="utf-8")
    mgr = TokenManager(manifest.load_all(drivers), [])
    problems = mgr.load_all()
    assert [type(p) for p in problems] == [errors.SkfNotSkfLibrary]
    assert "PKCS#11" in problems[0].message_en()
    assert mgr.scan() == []


def test_one_file_named_as_both_kinds_is_used_as_both(skf_only: SkfOnly, make_skf_key, tmp_path: Path) -> None:
    """A manifest that wrongly calls SoftHSM's module SKF costs nothing to the manifest that uses it as PKCS#11."""
    import shutil

    from zhenglian import manifest
    from zhenglian.reference import softhsm
    from zhenglian.tokens.manager import TokenManager

    drivers = tmp_path / "drivers"
    shutil.copytree(skf_only.drivers_dir, drivers)
    shutil.copy(Path(__file__).resolve().parent.parent / "drivers" / "softhsm.toml", drivers)
    (drivers / "aaa-wrong.toml").write_text(  # sorted before softhsm.toml
        'id = "aaa-wrong"\nkind = "maker"\n[names]\nzh = "错配"\nen = "mismatch"\n'
        f'[modules]\nskf_linux = ["{softhsm.module_path()}"]\n', encoding="utf-8")
    mgr = TokenManager(manifest.load_all(drivers), [str(skf_only.lib)])
    kinds = sorted((m.kind, m.claimed_by) for m in mgr.modules if m.path == softhsm.module_path())
    assert kinds == [("pkcs11", ("softhsm",)), ("skf", ("aaa-wrong",))]
    mgr.load_all()
    k = make_skf_key()
    assert mgr.find_key(k.serial).backend == "skf"
    assert mgr.handle(mgr.find_key(k.serial)).backend.kind == "skf"


def test_sm2_tasks_batch_uploads_that_the_server_and_bouncycastle_accept(
        skf_only: SkfOnly, make_skf_key, reference_server, bc_pdf_check, tmp_path: Path) -> None:  # noqa: F811
    """An SM2 SKF key signs a batch with one PIN; the server's SM2-aware check accepts every upload.

    The server login is given beforehand (a stored token, as from an earlier session): SM2 login
    belongs to the server protocol's SM2 work; this checks what the SKF key produces.
    """
    import secrets
    import time

    from helpers import pdf as ph

    from zhenglian.server.api import ServerClient
    from zhenglian.server.session import ServerSession
    from zhenglian.server.tokenstore import StoredToken, TokenStore
    from zhenglian.tasks import batch
    from zhenglian.tasks.outbox import Outbox

    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk")
    k = make_skf_key(sm2=True)
    spec = k.spec
    server = reference_server
    server.admin("seal", "add", "--institution", spec.uscc, "--type", "合同专用章")  # type: ignore[attr-defined]
    ids = server.add_tasks(spec.uscc, spec.organization, 3, kinds=("贷款合同", "抵押合同"))  # type: ignore[attr-defined]
    mgr = skf_only.manager()
    key = mgr.find_key(k.serial)
    cert = key.signing_certificate()
    assert cert is not None
    token, expires = secrets.token_urlsafe(32), time.time() + 3600
    server.store.add_session(token, spec.uscc, cert.info.sha256, expires)  # type: ignore[attr-defined]
    client = ServerClient(server.url, timeout=10, retries=1, backoff=0.05)
    tokens = TokenStore(use_keyring=False)
    tokens.put(client.origin, key.serial, StoredToken(token, expires, spec.uscc))  # type: ignore[attr-defined]
    session = ServerSession(client, key, tokens)
    outbox = Outbox(tmp_path / "outbox")
    pin_buf = _pin(k.user_pin)
    result = batch.sign_tasks(session, mgr.handle(key), pin_buf, None, outbox)
    assert pin_buf.wiped
    assert result.ok, result.summary_en()
    assert result.count(batch.UPLOADED) == 3 and server.uploads_per_task() == {i: 1 for i in ids}
    task = server.store.task(ids[0])
    signed = tmp_path / "server-copy.pdf"
    signed.write_bytes(server.store.read_file(task.signed_sha256))
    judged = bc_pdf_check(signed)
    assert judged.ok, "\n".join(judged.lines)


def test_key_pulled_out_mid_batch_leaves_no_partial_file(skf_only: SkfOnly, make_skf_key, skf_root: Path,
                                                         bc_pdf_check, tmp_path: Path) -> None:
    """Three documents, the key pulled out once the first is written: the batch stops with "key
    removed", no partial or temporary file is left, the inputs are untouched."""
    import subprocess
    import time

    from helpers import pdf as ph

    if not (ph.have_poppler() and ph.have_cjk_font()):
        pytest.skip("needs poppler-utils and fonts-noto-cjk")
    k = make_skf_key(sm2=True, sign_delay_ms=400)  # a slow key: time to pull it out between documents
    inputs = [ph.make_contract(tmp_path / f"doc{i}.pdf", 1) for i in range(3)]
    before = [ph.sha256_file(p) for p in inputs]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(k.user_pin + "\n")
    with pin_file.open("rb") as stdin:
        proc = subprocess.Popen(skf_only.argv("sign", *map(str, inputs), "--out-dir", str(out_dir), "--key",
                                              k.serial, "--page", "1", "--at", "99,99", "--pin-stdin"),
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=skf_only.env(), cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 120  # a bound on a hang, not a timing assumption
    while not any(p.suffix == ".pdf" for p in out_dir.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no document was signed"
        time.sleep(0.02)
    skfsoft.unplug(skf_root, k.name)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.NO_KEY, err
    assert "拔出" in err and "Traceback" not in err
    written = sorted(out_dir.iterdir())
    # The document in flight when the key went may have been signed in full; the rest were not written.
    assert 1 <= len(written) < 3 and all(p.suffix == ".pdf" for p in written), written  # no temporary file
    for p in written:  # each one written is whole and validly signed
        judged = bc_pdf_check(p)
        assert judged.ok, "\n".join(judged.lines)
    assert [ph.sha256_file(p) for p in inputs] == before


def test_a_pin_the_key_cannot_take_costs_no_try(skf_only: SkfOnly, make_skf_key, skf_root: Path) -> None:
    k = make_skf_key()
    for bad in ("12", "x" * 65):  # outside the PIN lengths of the issuing CA (SZCA) manifest
        r = skf_only("pin", "verify", "--key", k.serial, "--pin-stdin", input=bad + "\n")
        assert r.returncode == ExitCode.PIN_POLICY, r.stderr
    assert skfsoft.retry_counters(skf_root, k.name)["user"] == 10


def test_a_32_bit_library_given_as_module_is_named_as_such(tmp_path: Path) -> None:
    import struct

    from zhenglian import manifest
    from zhenglian.tokens.manager import TokenManager
    from zhenglian.tokens.skf.libkind import process_machine

    if process_machine() == "x86":
        pytest.skip("this process is 32-bit x86 itself")
    dll = tmp_path / "VendorSKF.dll"
    head = bytearray(0x80 + 24)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, 0x014C)
    dll.write_bytes(bytes(head) + bytes(256))
    empty = tmp_path / "drivers"
    empty.mkdir()
    mgr = TokenManager(manifest.load_all(empty), [str(dll)])
    (problem,) = mgr.load_all()
    assert isinstance(problem, errors.SkfWrongArchitecture)
    assert "32" in problem.message_zh() and "32-bit" in problem.message_en()


# --- a library that describes the user PIN only ---------------------------------------------

SAR_NOTSUPPORTYETERR = 0x0A000003


def _admin_pin_info_fails(monkeypatch: pytest.MonkeyPatch, sar: int) -> None:
    """SKF_GetPINInfo answers for the user PIN and returns ``sar`` for the admin (SO) PIN."""
    from zhenglian.tokens.skf import library as skflib
    from zhenglian.tokens.skf.sar import error_for

    orig = skflib.SkfApplication.pin_info

    def pin_info(self, *, admin: bool = False):  # type: ignore[no-untyped-def]
        if admin:
            raise error_for(sar, "SKF_GetPINInfo", admin=True)
        return orig(self, admin=admin)

    monkeypatch.setattr(skflib.SkfApplication, "pin_info", pin_info)


def test_so_pin_info_refused_leaves_its_count_unknown(skf_only: SkfOnly, make_skf_key,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    k = make_skf_key()
    _admin_pin_info_fails(monkeypatch, SAR_NOTSUPPORTYETERR)
    _mgr, _key_info, h = _key(skf_only, k.serial)
    assert h.backend.tries_left(k.serial, so=True) is None
    assert h.backend.tries_left(k.serial) == 10  # the user PIN's count is still the key's
    so = pin.status(h, so=True)  # falls back to the flags and our count: an upper bound
    assert so.key_tries is None and not so.counted_by_key and not so.locked and so.tries_left == 10
    with pin.user_session(h, _pin(k.user_pin)):  # the same while a session is open
        assert h.backend.tries_left(k.serial, so=True) is None


def test_so_pin_info_on_a_removed_key_still_says_removed(skf_only: SkfOnly, make_skf_key,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.tokens.skf.sar import SAR_DEVICE_REMOVED

    k = make_skf_key()
    _mgr, _key_info, h = _key(skf_only, k.serial)
    _admin_pin_info_fails(monkeypatch, SAR_DEVICE_REMOVED)
    with pytest.raises(errors.TokenRemoved):
        h.backend.tries_left(k.serial, so=True)


def _run_status(skf_only: SkfOnly, serial: str, monkeypatch: pytest.MonkeyPatch, *, json_out: bool) -> int:
    import argparse

    from zhenglian.cli import cmd_pin

    monkeypatch.setenv("ZHENGLIAN_DRIVERS_DIR", str(skf_only.drivers_dir))
    return cmd_pin.run_status(argparse.Namespace(module=[str(skf_only.lib)], key=serial, json=json_out))


def test_pin_status_with_so_pin_info_refused(skf_only: SkfOnly, make_skf_key, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    k = make_skf_key()
    _admin_pin_info_fails(monkeypatch, SAR_NOTSUPPORTYETERR)
    assert _run_status(skf_only, k.serial, monkeypatch, json_out=True) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["user_pin"]["tries_left"] == 10 and d["user_pin"]["exact"]
    assert d["so_pin"]["tries_left"] == 10 and not d["so_pin"]["locked"] and "unlock" not in d


def test_pin_status_shows_an_unreadable_so_pin_as_unknown(skf_only: SkfOnly, make_skf_key,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    k = make_skf_key()
    real = pin.status

    def so_fails(h, so: bool = False):  # type: ignore[no-untyped-def]
        if so:
            raise errors.SkfBadResponse(op="SKF_GetPINInfo", detail="remaining 300 of 10")
        return real(h, so)

    monkeypatch.setattr(pin, "status", so_fails)
    assert _run_status(skf_only, k.serial, monkeypatch, json_out=True) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["so_pin"] is None and d["user_pin"]["tries_left"] == 10
    assert _run_status(skf_only, k.serial, monkeypatch, json_out=False) == 0
    out = capsys.readouterr().out
    assert "SO PIN: 状态未知" in out and "state unknown" in out and "PIN 还可尝试 10 次" in out
