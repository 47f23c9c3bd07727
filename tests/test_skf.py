"""SKF (GM/T 0016) binding over skfsoft, the software SKF library.

Signatures are judged by others: SM2 by ``openssl pkeyutl -verify -rawin
-digest sm3 -pkeyopt distid:…``, RSA by ``cryptography``.  e = SM3(Z‖M) is
computed here independently (hashlib's SM3, Z per GB/T 32918.2).
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from helpers.skf import ADMIN_PIN, USER_PIN  # noqa: F401

from zhenglian import errors
from zhenglian.reference import skfsoft
from zhenglian.tokens.secret import PinBuffer
from zhenglian.tokens.skf import (
    SAR_ERRORS,
    SkfLibrary,
    elf_machine,
    error_for,
    is_skf_library,
    library_kind,
    parse_ecc_signature,
    pe_machine,
    poll_events,
    process_machine,
)
from zhenglian.tokens.skf.library import SM2_N

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="skfsoft is built for Linux")

APP = skfsoft.DEFAULT_APP
SM2_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
SM2_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
SM2_GX = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
SM2_GY = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
DEFAULT_ID = b"1234567812345678"


def sm2_e(x: bytes, y: bytes, message: bytes, user_id: bytes = DEFAULT_ID) -> bytes:
    entl = struct.pack(">H", len(user_id) * 8)
    z = hashlib.new("sm3", entl + user_id + SM2_A + SM2_B + SM2_GX + SM2_GY + x + y).digest()
    return hashlib.new("sm3", z + message).digest()


def pin(value: bytes) -> PinBuffer:
    return PinBuffer(value)


def open_app(lib: SkfLibrary, name: str = "skf0"):  # type: ignore[no-untyped-def]
    dev = lib.connect(name)
    return dev, dev.open_application(APP)


# --- listing -------------------------------------------------------------------


def test_lists_devices_applications_containers_and_info(skf_lib, make_skf_device) -> None:  # noqa: F811
    make_skf_device("skf0", serial="SN-A-0001")
    make_skf_device("skf1", serial="SN-B-0002")
    assert skf_lib.devices() == ["skf0", "skf1"]
    assert skf_lib.device_present("skf1") and not skf_lib.device_present("nope")
    with skf_lib.connect("skf0") as dev:
        info = dev.info()
        assert (info.serial, info.label, info.manufacturer) == ("SN-A-0001", "软KEY skf0", "zhenglian skfsoft")
        assert dev.applications() == [APP]
        with dev.open_application(APP) as app:
            assert app.containers() == ["RSA_CON", "SM2_CON"]


def test_certificates_sign_and_encryption(skf_lib, make_skf_device, skf_material) -> None:  # noqa: F811
    make_skf_device(rsa_cert=False)
    dev, app = open_app(skf_lib)
    with app.open_container("SM2_CON") as sm2:
        assert sm2.key_type == "sm2"
        assert sm2.certificate(sign=True) == skf_material.sm2_sign.cert_der
        assert sm2.certificate(sign=False) == skf_material.sm2_enc.cert_der
    with app.open_container("RSA_CON") as rsa_con:
        assert rsa_con.key_type == "rsa"
        assert rsa_con.certificate() is None
        assert rsa_con.certificate(sign=False) is None
        with pytest.raises(errors.SkfCertificateMissing) as exc:
            rsa_con.certificate(required=True)
        assert "RSA_CON" in exc.value.message_zh() and "签名" in exc.value.message_zh()
    with pytest.raises(errors.SkfObjectMissing):
        app.open_container("NO_SUCH")
    with pytest.raises(errors.SkfObjectMissing):
        dev.open_application("NO_APP")
    app.close()
    dev.close()


# --- PIN -----------------------------------------------------------------------


def test_pin_info_and_exact_tries_left(skf_lib, make_skf_device, skf_root) -> None:  # noqa: F811
    make_skf_device(user_pin_default=True)
    dev, app = open_app(skf_lib)
    info = app.pin_info()
    assert (info.max_tries, info.remaining, info.is_default) == (10, 10, True)
    with pytest.raises(errors.WrongPin) as exc:
        app.verify_pin(pin(b"00000000"))
    assert exc.value.facts["tries_left"] == 9 and not isinstance(exc.value, errors.WrongSoPin)
    assert app.pin_info().remaining == 9
    # persisted: another connection (and the file) see the same count
    dev2, app2 = open_app(skf_lib)
    assert app2.pin_info().remaining == 9
    assert skfsoft.retry_counters(skf_root, "skf0") == {"user": 9, "admin": 10}
    app.verify_pin(pin(USER_PIN))
    assert app2.pin_info().remaining == 10
    for h in (app, dev, app2, dev2):
        h.close()


def test_nine_wrong_then_tenth_locks_and_so_pin_unblocks(skf_lib, make_skf_device) -> None:  # noqa: F811
    make_skf_device()
    dev, app = open_app(skf_lib)
    for left in range(9, 0, -1):
        with pytest.raises(errors.WrongPin) as exc:
            app.verify_pin(pin(b"99999999"))
        assert exc.value.facts["tries_left"] == left
    assert app.pin_info().final_try
    with pytest.raises(errors.PinLocked):
        app.verify_pin(pin(b"99999999"))
    assert app.pin_info().locked
    # locked means locked: the right PIN is refused too, and spends nothing
    with pytest.raises(errors.PinLocked):
        app.verify_pin(pin(USER_PIN))
    # a wrong SO PIN counts on the SO side only
    with pytest.raises(errors.WrongSoPin) as so_exc:
        app.unblock_pin(pin(b"WrongAdmin1"), pin(b"NewPin#2026"))
    assert so_exc.value.facts["tries_left"] == 9
    assert app.pin_info(admin=True).remaining == 9
    app.unblock_pin(pin(ADMIN_PIN), pin(b"NewPin#2026"))
    assert app.pin_info().remaining == 10 and app.pin_info(admin=True).remaining == 10
    with pytest.raises(errors.WrongPin):
        app.verify_pin(pin(USER_PIN))
    app.verify_pin(pin(b"NewPin#2026"))
    app.close()
    dev.close()


def test_so_pin_locks_after_max_tries(skf_lib, make_skf_device) -> None:  # noqa: F811
    make_skf_device(max_tries=3)
    dev, app = open_app(skf_lib)
    for _ in range(2):
        with pytest.raises(errors.WrongSoPin):
            app.unblock_pin(pin(b"WrongAdmin1"), pin(b"NewPin#2026"))
    with pytest.raises(errors.SoPinLocked):
        app.unblock_pin(pin(b"WrongAdmin1"), pin(b"NewPin#2026"))
    with pytest.raises(errors.SoPinLocked):
        app.unblock_pin(pin(ADMIN_PIN), pin(b"NewPin#2026"))
    app.verify_pin(pin(USER_PIN))  # the user PIN was never touched
    app.close()
    dev.close()


def test_change_pin(skf_lib, make_skf_device) -> None:  # noqa: F811
    make_skf_device(user_pin_default=True)
    dev, app = open_app(skf_lib)
    with pytest.raises(errors.WrongPin) as exc:
        app.change_pin(pin(b"00000000"), pin(b"Changed#1"))
    assert exc.value.facts["tries_left"] == 9
    app.change_pin(pin(USER_PIN), pin(b"Changed#1"))
    info = app.pin_info()
    assert info.remaining == 10 and not info.is_default
    with pytest.raises(errors.WrongPin):
        app.verify_pin(pin(USER_PIN))
    app.verify_pin(pin(b"Changed#1"))
    app.change_pin(pin(ADMIN_PIN), pin(b"Admin#New1"), admin=True)
    app.unblock_pin(pin(b"Admin#New1"), pin(b"Again#2026"))
    app.close()
    dev.close()


def test_pin_input_is_checked_before_the_key_counts_a_try(skf_lib, make_skf_device) -> None:  # noqa: F811
    make_skf_device()
    dev, app = open_app(skf_lib)
    with pytest.raises(TypeError):
        app.verify_pin("12345678")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.verify_pin(b"12345678")  # type: ignore[arg-type]
    with pytest.raises(errors.SkfPinRejected):
        app.verify_pin(pin(b"1234\x005678"))
    with pytest.raises(errors.SkfPinRejected):
        app.verify_pin(pin(b"12"))  # the key refuses the length: SAR_PIN_LEN_RANGE
    assert app.pin_info().remaining == 10
    buf = bytearray(USER_PIN)
    app.verify_pin(buf)  # a plain bytearray works and is left to its owner to wipe
    assert buf == bytearray(USER_PIN)
    app.close()
    dev.close()


def test_retry_counter_is_shared_between_processes(skf_lib_path, make_skf_device, skf_root) -> None:  # noqa: F811
    make_skf_device()
    script = (
        "import sys\n"
        "from zhenglian.tokens.skf import SkfLibrary\n"
        "from zhenglian import errors\n"
        f"lib = SkfLibrary({str(skf_lib_path)!r})\n"
        "app = lib.connect('skf0').open_application('ZL_APP')\n"
        "for _ in range(3):\n"
        "    try:\n"
        "        app.verify_pin(bytearray(b'wrong-pin'))\n"
        "    except errors.WrongPin:\n"
        "        pass\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert skfsoft.retry_counters(skf_root, "skf0")["user"] == 4


# --- signing -------------------------------------------------------------------


def _openssl_verify_sm2(tmp: Path, cert_der: bytes, message: bytes, r: int, s: int) -> subprocess.CompletedProcess:
    (tmp / "cert.der").write_bytes(cert_der)
    pub = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(tmp / "cert.der"), "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=60).stdout
    (tmp / "pub.pem").write_bytes(pub)
    (tmp / "msg.bin").write_bytes(message)
    (tmp / "sig.der").write_bytes(encode_dss_signature(r, s))
    return subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "pub.pem"), "-rawin", "-digest", "sm3",
         "-pkeyopt", "distid:1234567812345678", "-in", str(tmp / "msg.bin"), "-sigfile", str(tmp / "sig.der")],
        capture_output=True, timeout=60, text=True)


def test_ecc_sign_verified_by_openssl(skf_lib, make_skf_device, skf_material, tmp_path) -> None:  # noqa: F811
    make_skf_device()
    dev, app = open_app(skf_lib)
    con = app.open_container("SM2_CON")
    pub = con.public_key()
    message = "证联 SKF 签名测试 / zhenglian SKF signing test".encode()
    e = sm2_e(pub.x, pub.y, message)
    with pytest.raises(errors.SkfNotLoggedIn):
        con.ecc_sign(e)
    app.verify_pin(pin(USER_PIN))
    rs = con.ecc_sign(e)
    assert len(rs) == 64
    r, s = int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")
    ok = _openssl_verify_sm2(tmp_path, skf_material.sm2_sign.cert_der, message, r, s)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout, ok.stderr
    bad = _openssl_verify_sm2(tmp_path, skf_material.sm2_sign.cert_der, message + b"!", r, s)
    assert bad.returncode != 0
    # the key's own SM3 with Z gives the same e
    assert dev.sm3_digest(message, public_key=pub) == e
    assert dev.sm3_digest(b"abc") == hashlib.new("sm3", b"abc").digest()
    with pytest.raises(ValueError):
        con.ecc_sign(e[:31])
    app.logout()
    with pytest.raises(errors.SkfNotLoggedIn):
        con.ecc_sign(e)
    for h in (con, app, dev):
        h.close()


def test_rsa_sign_verified_by_cryptography(skf_lib, make_skf_device, skf_material) -> None:  # noqa: F811
    make_skf_device()
    dev, app = open_app(skf_lib)
    con = app.open_container("RSA_CON")
    pub = con.public_key()
    numbers = skf_material.rsa_sign_key.public_key().public_numbers()
    assert (pub.modulus, pub.exponent, pub.bits) == (numbers.n, numbers.e, 2048)
    message = b"RSA over SKF"
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(message).digest()
    app.verify_pin(pin(USER_PIN))
    sig = con.rsa_sign(digest_info)
    assert len(sig) == 256
    skf_material.rsa_sign_key.public_key().verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(errors.SkfError) as exc:  # an SM2 sign on an RSA container
        con.ecc_sign(bytes(32))
    assert exc.value.facts["sar_name"] == "SAR_KEYUSAGEERR"
    for h in (con, app, dev):
        h.close()


def test_device_removed_mid_use(skf_lib, make_skf_device, skf_root) -> None:  # noqa: F811
    make_skf_device()
    dev, app = open_app(skf_lib)
    con = app.open_container("SM2_CON")
    app.verify_pin(pin(USER_PIN))
    skfsoft.unplug(skf_root, "skf0")
    with pytest.raises(errors.TokenRemoved):
        con.ecc_sign(bytes(range(1, 33)))
    with pytest.raises(errors.TokenRemoved):
        app.pin_info()
    with pytest.raises(errors.TokenRemoved):
        dev.info()
    with pytest.raises(errors.TokenRemoved):
        skf_lib.connect("skf0")
    assert skf_lib.devices() == []
    for h in (con, app, dev):
        h.close()  # closing after removal is quiet


# --- hot-plug ------------------------------------------------------------------


def _wait_in_thread(lib: SkfLibrary) -> tuple[threading.Thread, list]:
    out: list = []
    t = threading.Thread(target=lambda: out.append(lib.wait_for_event()), daemon=True)
    t.start()
    return t, out


def test_hot_plug_events_and_cancel(skf_lib, make_skf_device, skf_root) -> None:  # noqa: F811
    assert skf_lib.supports_wait
    assert skf_lib.devices() == []  # the library's view starts here
    t, out = _wait_in_thread(skf_lib)
    # wait_for_event does not take the library lock, so a listing made while it
    # (normally already) blocks returns; a wait holding the lock would hang here
    listed: list = []
    lister = threading.Thread(target=lambda: listed.append(skf_lib.devices()), daemon=True)
    lister.start()
    lister.join(timeout=60)
    assert listed == [[]]
    make_skf_device("skf7")
    t.join(timeout=60)
    assert not t.is_alive() and out[0].name == "skf7" and out[0].kind == "inserted"
    t, out = _wait_in_thread(skf_lib)
    skfsoft.unplug(skf_root, "skf7")
    t.join(timeout=60)
    assert not t.is_alive() and (out[0].name, out[0].kind) == ("skf7", "removed")
    t, out = _wait_in_thread(skf_lib)
    skf_lib.cancel_wait()
    t.join(timeout=60)
    assert not t.is_alive() and out == [None]


def test_poll_events(skf_lib, make_skf_device, skf_root) -> None:  # noqa: F811
    seen, events = poll_events(skf_lib, set())
    assert (seen, events) == (set(), [])
    make_skf_device("a1")
    seen, events = poll_events(skf_lib, seen)
    assert [(e.name, e.kind) for e in events] == [("a1", "inserted")]
    skfsoft.unplug(skf_root, "a1")
    seen, events = poll_events(skf_lib, seen)
    assert [(e.name, e.kind) for e in events] == [("a1", "removed")] and seen == set()


# --- what a library is ------------------------------------------------------


def test_library_kind(skf_lib_path, tmp_path) -> None:  # noqa: F811
    assert library_kind(skf_lib_path) == "skf" and is_skf_library(skf_lib_path)
    from zhenglian.reference import softhsm

    try:
        p11 = softhsm.module_path()
    except softhsm.SoftHSMUnavailable:
        p11 = None
    if p11 is not None:
        assert library_kind(p11) == "pkcs11" and not is_skf_library(p11)
        with pytest.raises(errors.SkfNotSkfLibrary) as exc:
            SkfLibrary(p11)
        assert "PKCS#11" in exc.value.message_zh()
    text = tmp_path / "not-a-library.so"
    text.write_text("hello")
    assert library_kind(text) is None
    with pytest.raises(errors.DriverInvalid):
        SkfLibrary(text)
    with pytest.raises(errors.DriverMissing):
        SkfLibrary(tmp_path / "missing.so")
    assert elf_machine(skf_lib_path) == process_machine()


def _compile(tmp: Path, source: str) -> Path:
    src = tmp / "lib.c"
    src.write_text(source)
    out = tmp / "libpartial.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), str(src)], check=True, timeout=120)
    return out


def test_library_missing_functions(tmp_path) -> None:
    lib = _compile(tmp_path, "unsigned int SKF_EnumDev(int p, char *l, unsigned int *s) { (void)p; (void)l;"
                             " *s = 1; return 0; }\n")
    assert library_kind(lib) == "skf"
    with pytest.raises(errors.SkfMissingFunctions) as exc:
        SkfLibrary(lib)
    assert "SKF_VerifyPIN" in exc.value.message_en()


def _pe(machine: int, e_lfanew: int = 0x80) -> bytes:
    head = bytearray(e_lfanew + 24)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, e_lfanew)
    head[e_lfanew:e_lfanew + 4] = b"PE\0\0"
    struct.pack_into("<H", head, e_lfanew + 4, machine)
    return bytes(head)


@pytest.mark.parametrize(("machine", "name"), [(0x014C, "x86"), (0x8664, "x64"), (0xAA64, "arm64"),
                                               (0x01C4, "arm"), (0x0200, "other")])
def test_pe_machine(tmp_path, machine: int, name: str) -> None:
    f = tmp_path / "x.dll"
    f.write_bytes(_pe(machine))
    assert pe_machine(f) == name


@pytest.mark.parametrize("data", [b"", b"MZ", b"ZM" + bytes(100), _pe(0x014C)[:0x84],
                                  _pe(0x014C).replace(b"PE\0\0", b"PX\0\0"),
                                  b"MZ" + bytes(0x3A) + struct.pack("<I", 0x7FFFFFFF) + bytes(64)])
def test_pe_machine_rejects_non_pe(tmp_path, data: bytes) -> None:
    f = tmp_path / "x.dll"
    f.write_bytes(data)
    assert pe_machine(f) is None


def test_32_bit_dll_is_reported_clearly(tmp_path) -> None:
    f = tmp_path / "SKFAPI32.dll"
    f.write_bytes(_pe(0x014C) + bytes(512))
    if process_machine() == "x86":
        pytest.skip("a 32-bit process can load it")
    with pytest.raises(errors.SkfWrongArchitecture) as exc:
        SkfLibrary(f)
    assert "32 位" in exc.value.message_zh() and "32-bit" in exc.value.message_en()
    assert library_kind(f) is None


# --- the SAR table and malformed answers ------------------------------------------


def test_every_sar_code_maps_to_a_typed_error() -> None:
    assert set(SAR_ERRORS) == set(range(0x0A000001, 0x0A000033))
    for code in SAR_ERRORS:
        exc = error_for(code, "SKF_Test", retry=3)
        assert isinstance(exc, errors.ZhenglianError)
        for text in (exc.message_zh(), exc.message_en()):
            assert "{" not in text, (hex(code), text)
    assert isinstance(error_for(0x0A000024, "op", retry=3), errors.WrongPin)
    assert isinstance(error_for(0x0A000024, "op", retry=0), errors.PinLocked)
    assert isinstance(error_for(0x0A000024, "op", retry=0, admin=True), errors.SoPinLocked)
    assert isinstance(error_for(0x0A000023, "op"), errors.TokenRemoved)
    unknown = error_for(0x12345678, "SKF_X")
    assert isinstance(unknown, errors.SkfError) and "0x12345678" in unknown.message_en()


def test_malformed_ecc_signature_blob_is_refused() -> None:
    good_r, good_s = (7).to_bytes(32, "big"), (9).to_bytes(32, "big")
    assert parse_ecc_signature(bytes(32) + good_r, bytes(32) + good_s) == good_r + good_s
    bad = [
        (good_r + bytes(32), good_s + bytes(32)),  # left-aligned
        (bytes(64), bytes(32) + good_s),  # r = 0
        (bytes(32) + SM2_N.to_bytes(32, "big"), bytes(32) + good_s),  # r = n
        (bytes(32) + good_r, bytes(31) + b"\x01" + good_s),  # s wider than 256 bits
        (good_r, good_s),  # 32-byte fields
    ]
    for r, s in bad:
        with pytest.raises(errors.SkfBadResponse):
            parse_ecc_signature(r, s)


def test_raw_calls_with_null_and_forged_arguments_do_not_crash(skf_lib_path, make_skf_device) -> None:  # noqa: F811
    """Every export, called with NULLs and a forged handle, answers with an error code."""
    import ctypes

    from zhenglian.tokens.skf import ffi

    make_skf_device()
    raw = ctypes.CDLL(str(skf_lib_path))
    funcs, missing = ffi.bind(raw)
    assert not missing
    forged = ctypes.c_void_p(0xDEADBEEF)
    by_name = ("SKF_EnumDev", "SKF_ConnectDev", "SKF_GetDevState")
    for name, f in funcs.items():
        if name in ("SKF_WaitForDevEvent", "SKF_CancelWaitForDevEvent"):
            continue
        types = ffi.PROTOTYPES[name]
        nulls = [0 if t in (ffi.ULONG, ffi.BOOL) else None for t in types]
        assert f(*nulls) != 0, name
        if name not in by_name:  # the first argument is a handle: a forged one is refused
            assert f(forged, *nulls[1:]) != 0, name
    # real handles with NULL buffers and out-pointers
    dev, app, con = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    assert funcs["SKF_ConnectDev"](b"skf0", ctypes.byref(dev)) == 0
    assert funcs["SKF_OpenApplication"](dev, APP.encode(), ctypes.byref(app)) == 0
    assert funcs["SKF_OpenContainer"](app, b"SM2_CON", ctypes.byref(con)) == 0
    owner = {"SKF_GetDevInfo": dev, "SKF_EnumApplication": dev, "SKF_OpenApplication": dev,
             "SKF_DigestInit": dev, "SKF_GetPINInfo": app, "SKF_VerifyPIN": app, "SKF_ChangePIN": app,
             "SKF_UnblockPIN": app, "SKF_EnumContainer": app, "SKF_OpenContainer": app,
             "SKF_GetContainerType": con, "SKF_ExportCertificate": con, "SKF_ExportPublicKey": con,
             "SKF_ECCSignData": con, "SKF_RSASignData": con}
    for name, handle in owner.items():
        types = ffi.PROTOTYPES[name]
        assert funcs[name](handle, *[0 if t in (ffi.ULONG, ffi.BOOL) else None for t in types[1:]]) != 0, name
    assert funcs["SKF_DisConnectDev"](dev) == 0
    assert funcs["SKF_CloseContainer"](con) != 0  # closed with its device: now a stale handle
    assert funcs["SKF_WaitForDevEvent"](None, None, None) != 0
    # names that try to leave the state directory
    h = ctypes.c_void_p()
    for bad in (b"..", b"../skf0", b"skf0/ZL_APP", b"", b"x" * 300):
        assert funcs["SKF_ConnectDev"](bad, ctypes.byref(h)) != 0 and not h.value


def test_doctor_entry_names_a_32_bit_skf_dll(tmp_path, skf_lib_path) -> None:  # noqa: F811
    from zhenglian import diagnostics

    dll = tmp_path / "NetcaSKF.dll"
    dll.write_bytes(_pe(0x014C) + bytes(256))
    entry = diagnostics._skf_file(dll)
    assert entry["present"] and entry["machine"] == "x86"
    if process_machine() != "x86":
        assert entry["error"]["error"] == "skf_wrong_architecture"
        assert "32 位" in entry["error"]["message_zh"]
    ok = diagnostics._skf_file(skf_lib_path)
    assert ok["machine"] == process_machine() and ok["error"] is None
    assert diagnostics._skf_file(tmp_path / "absent.dll")["present"] is False


def test_find_by_serial_certificates_and_flags(skf_lib, make_skf_device, skf_material) -> None:  # noqa: F811
    from zhenglian.tokens.skf import token_flags

    make_skf_device("k1", serial="SER-1")
    make_skf_device("k2", serial="SER-2", rsa_cert=False, user_pin_default=True)
    name, info = skf_lib.find_device("SER-2")
    assert name == "k2" and info.label == "软KEY k2"
    with pytest.raises(errors.NoKey):
        skf_lib.find_device("SER-404")
    dev, app = open_app(skf_lib, "k2")
    certs = app.certificates()
    assert [(c.container, c.sign, c.key_type) for c in certs] == [("SM2_CON", True, "sm2"), ("SM2_CON", False, "sm2")]
    assert certs[0].der == skf_material.sm2_sign.cert_der
    flags = token_flags(app.pin_info(), app.pin_info(admin=True))
    assert flags.pin_state() == "to_be_changed" and flags.pin_initialized
    for left in range(9, 0, -1):
        with pytest.raises(errors.WrongPin):
            app.verify_pin(pin(b"99999999"))
        state = token_flags(app.pin_info()).pin_state()
        assert state == ("final_try" if left == 1 else "count_low")
    with pytest.raises(errors.PinLocked):
        app.verify_pin(pin(b"99999999"))
    assert token_flags(app.pin_info()).locked
    app.close()
    dev.close()


# A library that lies: huge sizes, lengths beyond our buffers, a left-aligned
# ECCSIGNATUREBLOB, a wrong PIN without a retry count.  The binding must
# answer with typed errors and never read beyond what it allocated.
_EVIL_C = r"""
#include <stdint.h>
#include <string.h>
typedef uint32_t U; typedef void *H;
static int h;
#define OK(name, ...) U name(__VA_ARGS__) { return 0; }
U SKF_EnumDev(int p, char *l, U *s) { (void)p;
  if (!l) { *s = 6; return 0; } memcpy(l, "evil\0\0", 6); *s = 6; return 0; }
U SKF_ConnectDev(char *n, H *d) { (void)n; *d = &h; return 0; }
OK(SKF_DisConnectDev, H d)
U SKF_GetDevInfo(H d, unsigned char *i) { (void)d; memset(i, 'A', 294); return 0; }
U SKF_EnumApplication(H d, char *l, U *s) { (void)d; (void)l; *s = 0x7FFFFFFF; return 0; }
U SKF_OpenApplication(H d, char *n, H *a) { (void)d; (void)n; *a = &h; return 0; }
OK(SKF_CloseApplication, H a)
U SKF_GetPINInfo(H a, U t, U *m, U *r, int *dflt) { (void)a; (void)t; *m = 10; *r = 7; *dflt = 0; return 0; }
U SKF_VerifyPIN(H a, U t, char *p, U *r) { (void)a; (void)t; (void)p; (void)r; return 0x0A000024; }
U SKF_ChangePIN(H a, U t, char *o, char *n, U *r) { (void)a; (void)t; (void)o; (void)n; *r = 3; return 0x0A000024; }
U SKF_EnumContainer(H a, char *l, U *s) { (void)a;
  if (!l) { *s = 4; return 0; } memcpy(l, "c1\0\0", 4); *s = 9999; return 0; }
U SKF_OpenContainer(H a, char *n, H *c) { (void)a; (void)n; *c = &h; return 0; }
OK(SKF_CloseContainer, H c)
U SKF_GetContainerType(H c, U *t) { (void)c; *t = 2; return 0; }
U SKF_ExportCertificate(H c, int s, unsigned char *b, U *l) { (void)c;
  if (!s) { *l = 1 << 30; return 0; }
  if (!b) return 0x0A000006; /* no size query */
  if (*l < 65536) return 0x0A000020; memset(b, 0x30, 16); *l = 70000; return 0; }
U SKF_ECCSignData(H c, unsigned char *e, U n, unsigned char *sig) { (void)c; (void)e; (void)n;
  memset(sig, 0, 128); sig[0] = 1; sig[64] = 1; return 0; }
U SKF_RSASignData(H c, unsigned char *d, U n, unsigned char *s, U *l) { (void)c; (void)d; (void)n; (void)s;
  *l = 100000; return 0; }
"""


def test_a_lying_library_gets_typed_errors(tmp_path) -> None:
    lib = SkfLibrary(_compile(tmp_path, _EVIL_C))
    assert lib.devices() == ["evil"]
    dev = lib.connect("evil")
    info = dev.info()  # fields without NUL: read only within the field
    assert info.label == "A" * 32 and info.serial == "A" * 32
    with pytest.raises(errors.SkfBadResponse):
        dev.applications()  # a 2 GiB name list
    app = dev.open_application("x")
    with pytest.raises(errors.WrongPin) as exc:
        app.verify_pin(pin(b"12345678"))  # no retry count given: asked from SKF_GetPINInfo
    assert exc.value.facts["tries_left"] == 7
    with pytest.raises(errors.WrongPin) as exc:
        app.change_pin(pin(b"12345678"), pin(b"87654321"))
    assert exc.value.facts["tries_left"] == 3
    assert app.containers() == ["c1"]  # a claimed length beyond the buffer is cut to the buffer
    con = app.open_container("c1")
    with pytest.raises(errors.SkfBadResponse):
        con.certificate()  # no size query: the 64 KiB cap is offered, and 70000 bytes claimed in it
    with pytest.raises(errors.SkfBadResponse):
        con.certificate(sign=False)  # 1 GiB certificate
    with pytest.raises(errors.SkfBadResponse):
        con.ecc_sign(bytes(32))  # left-aligned r and s
    with pytest.raises(errors.SkfBadResponse):
        con.rsa_sign(b"\x30" * 51)


def test_pin_scratch_is_wiped_and_no_pin_reaches_errors_or_the_key_files(skf_lib, make_skf_device,  # noqa: F811
                                                                          skf_root) -> None:  # noqa: F811
    from zhenglian.tokens.skf.library import _c_pin

    secret = b"LeakSkf#2026q"
    with _c_pin(bytearray(secret)) as arr:
        held = arr
        assert bytes(held) == secret + b"\0"
    assert bytes(held) == bytes(len(secret) + 1)

    make_skf_device(user_pin=bytearray(secret), admin_pin=bytearray(b"LeakSkfSo#2026"))
    dev, app = open_app(skf_lib)
    caught = []
    for wrong in (b"LeakWrong#2026z", b"LeakSo#Probe2026"):
        try:
            app.verify_pin(pin(wrong))
        except errors.ZhenglianError as exc:
            caught.append(exc)
    app.verify_pin(pin(secret))
    app.change_pin(pin(secret), pin(b"LeakNew#2026x"))
    texts = " ".join(e.user_message() + repr(e.facts) for e in caught)
    files = b"".join(p.read_bytes() for p in skf_root.rglob("*") if p.is_file())
    for s in (secret, b"LeakWrong#2026z", b"LeakSo#Probe2026", b"LeakNew#2026x", b"LeakSkfSo#2026"):
        assert s.decode() not in texts and s not in files
    app.close()
    dev.close()
