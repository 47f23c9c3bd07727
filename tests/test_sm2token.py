"""The software SM2 PKCS#11 token (zhenglian/reference/native/sm2token) on the vendor-DLL path.

Listing through python-pkcs11 and ``zhenglian keys``, the real PIN counter
(raw and through ``zhenglian pin``), and every signing mechanism of every
vendor numbering called through ctypes, each signature checked by OpenSSL
(``pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…``), not by our code.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asn1crypto import algos, x509
from sm2tokenfixtures import SO_PIN, USER_PIN

from zhenglian.errors import ExitCode
from zhenglian.reference import sm2token
from zhenglian.reference.p11ctypes import (
    CKO_CERTIFICATE,
    CKO_PRIVATE_KEY,
    CKO_PUBLIC_KEY,
    CKU_SO,
    UL,
    Mechanism,
    P,
    P11Error,
    RawP11,
)
from zhenglian.reference.sm2token import FAMILIES, SM2_KEY_TYPES

ROOT = Path(__file__).resolve().parent.parent
V = 0x80000000
CKR_ARGUMENTS_BAD = 0x7
CKR_DATA_LEN_RANGE = 0x21
CKR_MECHANISM_INVALID = 0x70
CKR_MECHANISM_PARAM_INVALID = 0x71
CKR_OPERATION_NOT_INITIALIZED = 0x91
CKR_PIN_INCORRECT = 0xA0
CKR_PIN_LEN_RANGE = 0xA2
CKR_PIN_LOCKED = 0xA4
CKR_USER_NOT_LOGGED_IN = 0x101
CKR_BUFFER_TOO_SMALL = 0x150
CKA_EC_PARAMS, CKA_EC_POINT = 0x180, 0x181
USER_LOW, USER_FINAL, USER_LOCKED = 0x10000, 0x20000, 0x40000
SO_LOW, SO_FINAL, SO_LOCKED = 0x100000, 0x200000, 0x400000
PIN_BITS = USER_LOW | USER_FINAL | USER_LOCKED | SO_LOW | SO_FINAL | SO_LOCKED

# GB/T 32918.5 curve parameters, written out here so Z is computed independently of the module.
SM2_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
SM2_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
SM2_GX = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
SM2_GY = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
DEFAULT_ID = b"1234567812345678"
MESSAGE = "证联 SM2 测试 — 东莞住房公积金".encode() * 7

ALL_MECHS = [(fam, m) for fam, mechs in FAMILIES.items() for m in mechs]


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def cert_point(cert_der: bytes) -> bytes:
    return x509.Certificate.load(cert_der).public_key["public_key"].native


def z_value(cert_der: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    point = cert_point(cert_der)
    assert point[0] == 4 and len(point) == 65
    entl = (len(uid) * 8).to_bytes(2, "big")
    return sm3(entl + uid + SM2_A + SM2_B + SM2_GX + SM2_GY + point[1:])


def der_from_raw(sig: bytes) -> bytes:
    assert len(sig) == 64
    return algos.DSASignature({"r": int.from_bytes(sig[:32], "big"), "s": int.from_bytes(sig[32:], "big")}).dump()


def openssl_verifies(pub_pem: Path, msg: bytes, sig_der: bytes, tmp: Path, uid: bytes = DEFAULT_ID) -> bool:
    (tmp / "msg").write_bytes(msg)
    (tmp / "sig").write_bytes(sig_der)
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt",
                        f"distid:{uid.decode()}", "-pubin", "-inkey", str(pub_pem), "-sigfile",
                        str(tmp / "sig"), "-in", str(tmp / "msg")], capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and "Signature Verified Successfully" in r.stdout


def logged_in(p11: RawP11) -> tuple[int, int]:
    """(session, private key handle) on the first slot, user logged in."""
    slot = p11.slots()[0]
    s = p11.open(slot)
    assert p11.login_rv(s, USER_PIN) == 0
    [key] = p11.find(s, CKO_PRIVATE_KEY)
    return s, key


# --- listing --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_python_pkcs11_lists_token_and_reads_sm2_certificate(make_sm2_token, sm2_material, family: str) -> None:
    import pkcs11
    from pkcs11 import Attribute as A
    from pkcs11 import ObjectClass as O

    tok = make_sm2_token(family)
    lib = pkcs11.lib(str(tok.module))
    [slot] = lib.get_slots(token_present=True)
    token = slot.get_token()
    assert token.serial.decode().strip() == tok.serial
    assert token.label == f"SM2 {family}"
    mechs = {int(m) for m in slot.get_mechanisms()}
    assert {m.number for m in FAMILIES[family]} <= mechs
    with token.open() as session:
        [cert] = list(session.get_objects({A.CLASS: O.CERTIFICATE}))
        assert bytes(cert[A.VALUE]) == sm2_material.cert_der
        assert bytes(cert[A.ID]) == b"\x01" and cert[A.LABEL] == "签名证书"
        [pub] = list(session.get_objects({A.CLASS: O.PUBLIC_KEY}))
        assert bytes(pub[A.EC_PARAMS]) == bytes.fromhex("06082A811CCF5501822D")  # the SM2 curve
        assert bytes(pub[A.EC_POINT]) == b"\x04\x41" + cert_point(sm2_material.cert_der)
        # Private keys are invisible before login, as on a CA's UKey.
        assert list(session.get_objects({A.CLASS: O.PRIVATE_KEY})) == []
        if family == "v8005":
            assert pub[A.KEY_TYPE] == pkcs11.KeyType.EC
        else:  # python-pkcs11 cannot name a vendor key type: the client must never ask it to
            with pytest.raises(ValueError):
                pub[A.KEY_TYPE]  # noqa: B018
    with token.open(user_pin=USER_PIN) as session:
        [priv] = list(session.get_objects({A.CLASS: O.PRIVATE_KEY}))
        assert bytes(priv[A.ID]) == b"\x01" and priv[A.SIGN] is True and priv[A.SENSITIVE] is True
        with pytest.raises(pkcs11.AttributeSensitive):
            priv[A.VALUE]  # noqa: B018
    # The raw key type is the family's vendor number.
    p11 = tok.raw()
    s = p11.open(p11.slots()[0])
    [pub_h] = p11.find(s, CKO_PUBLIC_KEY)
    assert int.from_bytes(p11.attribute(s, pub_h, 0x100), sys.byteorder) == SM2_KEY_TYPES[family]
    p11.finalize()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_keys_cli_lists_the_sm2_key_without_crashing(make_sm2_token, family: str) -> None:
    tok = make_sm2_token(family)
    r = subprocess.run([sys.executable, "-m", "zhenglian", "keys", "--module", str(tok.module), "--json"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ, **tok.env))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    [key] = [k for k in json.loads(r.stdout)["keys"] if k["serial"] == tok.serial]
    assert key["ca"] == "netca"  # named from the certificate's issuer, as for a vendor module
    assert key["read_error"] is None
    [cert] = key["certificates"]
    assert cert["key_type"] == "SM2" and cert["organization"] == "东莞测试单位"
    assert cert["paired"] is True  # EC_POINT of the public key object matches the certificate


def test_a_broken_token_is_reported_and_skipped(make_sm2_token, sm2_material) -> None:
    tok = make_sm2_token("vendor4")
    bad = tok.state_dir / "token-0broken"  # sorts first
    bad.mkdir()
    (bad / "token.ini").write_text("[token]\nserial = X\nfamily = nonsense\n")
    r = subprocess.run([sys.executable, "-c", "import pkcs11,sys; l=pkcs11.lib(sys.argv[1]); "
                        "print([s.get_token().serial for s in l.get_slots()])", str(tok.module)],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, **tok.env))
    assert r.returncode == 0, r.stderr
    assert tok.serial in r.stdout and "X'" not in r.stdout
    assert "token-0broken" in r.stderr and "skipped" in r.stderr


# --- signing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "mech"), ALL_MECHS, ids=[f"{f}-{m.name}" for f, m in ALL_MECHS])
def test_each_mechanism_signs_and_openssl_verifies(make_sm2_token, sm2_material, tmp_path: Path,
                                                   family: str, mech: sm2token.Sm2Mechanism) -> None:
    p11 = make_sm2_token(family).raw()
    s, key = logged_in(p11)
    p11.sign_init(s, mech.number, key)
    data = MESSAGE if mech.input == "message" else sm3(z_value(sm2_material.cert_der) + MESSAGE)
    sig = p11.sign(s, data)
    if mech.output == "raw":
        assert len(sig) == 64
        sig = der_from_raw(sig)
    else:
        assert algos.DSASignature.load(sig).dump() == sig  # strict DER
    assert openssl_verifies(sm2_material.pub_pem, MESSAGE, sig, tmp_path)
    assert not openssl_verifies(sm2_material.pub_pem, MESSAGE + b"!", sig, tmp_path)  # the check can fail
    p11.finalize()


def test_vendor8000_takes_the_signer_id_as_parameter(make_sm2_token, sm2_material, tmp_path: Path) -> None:
    p11 = make_sm2_token("vendor8000").raw()
    s, key = logged_in(p11)
    p11.sign_init(s, V + 0x8101, key, param=b"ALICE123")
    sig = p11.sign(s, MESSAGE)
    assert openssl_verifies(sm2_material.pub_pem, MESSAGE, sig, tmp_path, uid=b"ALICE123")
    assert not openssl_verifies(sm2_material.pub_pem, MESSAGE, sig, tmp_path)
    # The "default ID" variants refuse a parameter.
    with pytest.raises(P11Error) as e:
        p11.sign_init(s, V + 0x8103, key, param=b"ALICE123")
    assert e.value.rv == CKR_MECHANISM_PARAM_INVALID
    p11.finalize()


@pytest.mark.parametrize(("family", "number"), [("vendor8000", V + 0x8100), ("v8005", 0x8005000C)])
def test_multipart_sign_hashes_the_whole_message(make_sm2_token, sm2_material, tmp_path: Path,
                                                 family: str, number: int) -> None:
    p11 = make_sm2_token(family).raw()
    s, key = logged_in(p11)
    p11.sign_init(s, number, key)
    for i in range(0, len(MESSAGE), 50):
        p11.sign_update(s, MESSAGE[i:i + 50])
    sig = p11.sign_final(s)
    if len(sig) == 64:
        sig = der_from_raw(sig)
    assert openssl_verifies(sm2_material.pub_pem, MESSAGE, sig, tmp_path)
    p11.finalize()


def test_two_call_convention_and_buffer_too_small(make_sm2_token, sm2_material, tmp_path: Path) -> None:
    p11 = make_sm2_token("vendor4").raw()
    s, key = logged_in(p11)
    e = sm3(z_value(sm2_material.cert_der) + MESSAGE)
    p11.sign_init(s, V + 4, key)
    data = ctypes.create_string_buffer(e, 32)
    n = UL(0)
    assert p11.rv("C_Sign", UL(s), ctypes.cast(data, P), UL(32), P(None), ctypes.byref(n)) == 0
    exact = n.value
    assert 8 <= exact <= 72
    small = ctypes.create_string_buffer(exact - 1)
    n = UL(exact - 1)
    assert p11.rv("C_Sign", UL(s), ctypes.cast(data, P), UL(32), ctypes.cast(small, P), ctypes.byref(n)) \
        == CKR_BUFFER_TOO_SMALL
    assert n.value == exact  # the operation is still active, the length unchanged
    out = ctypes.create_string_buffer(exact)
    assert p11.rv("C_Sign", UL(s), ctypes.cast(data, P), UL(32), ctypes.cast(out, P), ctypes.byref(n)) == 0
    assert openssl_verifies(sm2_material.pub_pem, MESSAGE, out.raw[: n.value], tmp_path)
    # Finished: another C_Sign needs a new C_SignInit.
    assert p11.rv("C_Sign", UL(s), ctypes.cast(data, P), UL(32), ctypes.cast(out, P), ctypes.byref(n)) \
        == CKR_OPERATION_NOT_INITIALIZED
    p11.finalize()


def test_sm3_digest_where_the_family_has_it(make_sm2_token) -> None:
    p11 = make_sm2_token("vendor4").raw()
    s = p11.open(p11.slots()[0])
    m = Mechanism(V + 31, None, 0)
    p11.call("C_DigestInit", UL(s), ctypes.byref(m))
    d = ctypes.create_string_buffer(MESSAGE, len(MESSAGE))
    out, n = ctypes.create_string_buffer(32), UL(32)
    p11.call("C_Digest", UL(s), ctypes.cast(d, P), UL(len(MESSAGE)), ctypes.cast(out, P), ctypes.byref(n))
    assert out.raw[: n.value] == sm3(MESSAGE)
    # One operation at a time per session: a digest in progress refuses a signature and is kept.
    assert p11.login_rv(s, USER_PIN) == 0
    [key] = p11.find(s, CKO_PRIVATE_KEY)
    p11.call("C_DigestInit", UL(s), ctypes.byref(m))
    p11.call("C_DigestUpdate", UL(s), ctypes.cast(d, P), UL(len(MESSAGE)))
    n = UL(0)
    p11.call("C_DigestFinal", UL(s), P(None), ctypes.byref(n))
    assert n.value == 32
    assert p11.rv("C_SignInit", UL(s), ctypes.byref(Mechanism(V + 4, None, 0)), UL(key)) == 0x90
    p11.call("C_DigestFinal", UL(s), ctypes.cast(out, P), ctypes.byref(n))
    assert out.raw[: n.value] == sm3(MESSAGE)
    p11.sign_init(s, V + 4, key)
    assert len(p11.sign(s, b"\x00" * 32)) >= 8
    p11.finalize()
    p11 = make_sm2_token("vendor8000").raw()  # no digest mechanism in this family
    s = p11.open(p11.slots()[0])
    assert p11.rv("C_DigestInit", UL(s), ctypes.byref(m)) == CKR_MECHANISM_INVALID
    p11.finalize()


def test_bad_sign_calls_get_errors_not_crashes(make_sm2_token) -> None:
    p11 = make_sm2_token("vendor8000").raw()
    slot = p11.slots()[0]
    s = p11.open(slot)
    m = Mechanism(V + 0x8104, None, 0)
    assert p11.rv("C_SignInit", UL(s), ctypes.byref(m), UL(1)) == CKR_USER_NOT_LOGGED_IN
    assert p11.login_rv(s, USER_PIN) == 0
    [key] = p11.find(s, CKO_PRIVATE_KEY)
    [cert] = p11.find(s, CKO_CERTIFICATE)
    assert p11.rv("C_SignInit", UL(s), P(None), UL(key)) == CKR_ARGUMENTS_BAD
    assert p11.rv("C_SignInit", UL(s), ctypes.byref(Mechanism(V + 4, None, 0)), UL(key)) == CKR_MECHANISM_INVALID
    assert p11.rv("C_SignInit", UL(s), ctypes.byref(m), UL(cert)) != 0
    # e must be exactly 32 bytes; the failed C_Sign ends the operation.
    p11.sign_init(s, V + 0x8104, key)
    with pytest.raises(P11Error) as e:
        p11.sign(s, b"\x01" * 31)
    assert e.value.rv == CKR_DATA_LEN_RANGE
    assert p11.rv("C_SignFinal", UL(s), P(None), ctypes.byref(UL(0))) == CKR_OPERATION_NOT_INITIALIZED
    # NULL output-length pointers and unknown handles.
    p11.sign_init(s, V + 0x8104, key)
    assert p11.rv("C_Sign", UL(s), P(None), UL(0), P(None), P(None)) == CKR_ARGUMENTS_BAD
    for name, args in [("C_GetTokenInfo", (UL(slot), P(None))), ("C_GetSlotList", (ctypes.c_ubyte(1), P(None), P(None))),
                       ("C_GetSessionInfo", (UL(s), P(None))), ("C_GetInfo", (P(None),)),
                       ("C_FindObjects", (UL(s), P(None), UL(5), P(None)))]:
        assert p11.rv(name, *args) == CKR_ARGUMENTS_BAD, name
    assert p11.rv("C_CloseSession", UL(12345)) == 0xB3  # CKR_SESSION_HANDLE_INVALID
    assert p11.rv("C_GenerateRandom", UL(s), P(None), UL(0)) == 0x54  # CKR_FUNCTION_NOT_SUPPORTED
    p11.finalize()


def test_rsa_key_on_the_same_token(make_sm2_token, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    p11 = make_sm2_token("v8005", keys=[sm2token.TokenKey(pem, None, b"\x02", "rsa")]).raw()
    s, key = logged_in(p11)
    p11.sign_init(s, 0x40, key)  # CKM_SHA256_RSA_PKCS
    sig = p11.sign(s, MESSAGE)
    priv.public_key().verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    [pub] = p11.find(s, CKO_PUBLIC_KEY)
    assert int.from_bytes(p11.attribute(s, pub, 0x120), "big") == priv.public_key().public_numbers().n
    p11.finalize()


def test_concurrent_sessions_sign_from_threads(make_sm2_token, sm2_material, tmp_path: Path) -> None:
    p11 = make_sm2_token("vendor8000").raw()
    s0, key = logged_in(p11)
    slot = p11.slots()[0]
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            s = p11.open(slot)  # the login is the token's: every session of the process shares it
            for _ in range(10):
                p11.sign_init(s, V + 0x8101, key)
                results.append(p11.sign(s, MESSAGE))
            p11.call("C_CloseSession", UL(s))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40
    assert openssl_verifies(sm2_material.pub_pem, MESSAGE, results[-1], tmp_path)
    p11.finalize()


def test_sign_and_login_delays_make_a_slow_key(make_sm2_token, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = make_sm2_token("vendor8000", sign_delay_ms=1)
    monkeypatch.setenv("ZL_SM2TOKEN_SIGN_DELAY_MS", "150")  # the environment overrides token.ini
    monkeypatch.setenv("ZL_SM2TOKEN_LOGIN_DELAY_MS", "120")
    p11 = tok.raw()
    t0 = time.monotonic()
    s, key = logged_in(p11)
    t1 = time.monotonic()
    p11.sign_init(s, V + 0x8102, key)
    p11.sign(s, MESSAGE)
    t2 = time.monotonic()
    assert t1 - t0 >= 0.12 and t2 - t1 >= 0.15  # lower bounds only: the delay happened
    p11.finalize()


# --- PIN counter -------------------------------------------------------------------------------


def test_pin_counter_flags_lock_and_so_reset(make_sm2_token) -> None:
    tok = make_sm2_token("vendor4")
    p11 = tok.raw()
    slot = p11.slots()[0]
    s = p11.open(slot, rw=True)
    flags = lambda: p11.token_info(slot).flags & PIN_BITS  # noqa: E731
    assert flags() == 0
    assert p11.login_rv(s, "abc") == CKR_PIN_LEN_RANGE  # refused before checking: no try used
    assert tok.counters() == (0, 0) and flags() == 0
    for i in range(1, 10):
        assert p11.login_rv(s, "Wrong@2026x") == CKR_PIN_INCORRECT
        assert tok.counters() == (i, 0)
        assert flags() == (USER_FINAL if i == 9 else USER_LOW)
    # A second instance (another process, as far as the module knows) sees the same counter.
    other = tok.raw()
    assert other.token_info(other.slots()[0]).flags & PIN_BITS == USER_FINAL
    assert p11.login_rv(s, "Wrong@2026x") == CKR_PIN_INCORRECT  # the tenth
    assert flags() == USER_LOCKED and tok.counters() == (10, 0)
    assert p11.login_rv(s, USER_PIN) == CKR_PIN_LOCKED  # even the right PIN, not checked
    assert other.login_rv(other.open(other.slots()[0]), USER_PIN) == CKR_PIN_LOCKED
    other.finalize()

    # SO: wrong SO PINs count on their own counter; the right one resets it.
    assert p11.login_rv(s, "Wrong@So2026", CKU_SO) == CKR_PIN_INCORRECT
    assert flags() == USER_LOCKED | SO_LOW and tok.counters() == (10, 1)
    assert p11.login_rv(s, SO_PIN, CKU_SO) == 0
    assert tok.counters() == (10, 0)
    new = b"Fresh#Pin2026"
    buf = ctypes.create_string_buffer(new, len(new))
    p11.call("C_InitPIN", UL(s), ctypes.cast(buf, P), UL(len(new)))
    assert tok.counters() == (0, 0)
    p11.call("C_Logout", UL(s))
    assert flags() == 0
    assert p11.login_rv(s, USER_PIN) == CKR_PIN_INCORRECT  # the old PIN is gone
    assert p11.login_rv(s, new.decode()) == 0 and tok.counters() == (0, 0)  # success resets
    p11.finalize()


def test_so_pin_locks_too(make_sm2_token) -> None:
    tok = make_sm2_token("v8005", max_tries=3)
    p11 = tok.raw()
    slot = p11.slots()[0]
    s = p11.open(slot, rw=True)
    expect = [SO_LOW, SO_FINAL, SO_LOCKED]
    for want in expect:
        assert p11.login_rv(s, "Wrong@So2026", CKU_SO) == CKR_PIN_INCORRECT
        assert p11.token_info(slot).flags & PIN_BITS == want
    assert p11.login_rv(s, SO_PIN, CKU_SO) == CKR_PIN_LOCKED
    p11.finalize()


def _pin(tok, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zhenglian", "pin", *args, "--key", tok.serial,
                           "--module", str(tok.module)], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=dict(os.environ, **tok.env))


def test_lockout_through_the_pin_cli(make_sm2_token) -> None:
    tok = make_sm2_token("vendor8000")
    for i in range(1, 10):
        r = _pin(tok, "verify", "--pin-stdin", stdin="Wrong@2026x\n")
        assert r.returncode == ExitCode.WRONG_PIN, r.stderr
        assert f"还可尝试 {10 - i} 次" in r.stderr and "Traceback" not in r.stderr
        assert tok.counters() == (i, 0)  # the key's own counter, written by the child
    r = _pin(tok, "status", "--json", stdin="")
    st = json.loads(r.stdout)["user_pin"]
    assert st["flags"]["pin_state"] == "final_try" and st["tries_left"] == 1
    r = _pin(tok, "verify", "--pin-stdin", "--confirm-final-try", stdin="Wrong@2026x\n")
    assert r.returncode == ExitCode.PIN_LOCKED, r.stderr
    assert tok.counters() == (10, 0)
    r = _pin(tok, "verify", "--pin-stdin", "--confirm-final-try", stdin=USER_PIN + "\n")
    assert r.returncode == ExitCode.PIN_LOCKED and tok.counters() == (10, 0)
    new = "Fresh#Pin2026"
    r = _pin(tok, "unlock", "--pin-stdin", stdin=f"{SO_PIN}\n{new}\n{new}\n")
    assert r.returncode == 0, r.stderr
    assert tok.counters() == (0, 0)
    assert _pin(tok, "verify", "--pin-stdin", stdin=new + "\n").returncode == 0


def test_add_token_refuses_bad_input(tmp_path: Path, sm2_material) -> None:
    key = sm2token.TokenKey(sm2_material.key_pem, sm2_material.cert_der)
    with pytest.raises(ValueError):
        sm2token.add_token(tmp_path, "x", "bad serial!", "Pin@1234", "So@12345", [key])
    with pytest.raises(ValueError):
        sm2token.add_token(tmp_path, "x\n[token]", "S1", "Pin@1234", "So@12345", [key])
    with pytest.raises(ValueError):
        sm2token.add_token(tmp_path, "x", "S1", "Pin@1234", "So@12345", [key], family="vendor9")
    sm2token.add_token(tmp_path, "x", "S1", "Pin@1234", "So@12345", [key])
    with pytest.raises(FileExistsError):
        sm2token.add_token(tmp_path, "x", "S1", "Pin@1234", "So@12345", [key])
    state = (tmp_path / "token-S1" / "state").read_text()
    assert "Pin@1234" not in state and sm2token.pin_hash("S1", "Pin@1234") in state
    assert [p.name for p in tmp_path.iterdir()] == ["token-S1"]  # no temporary directory left


def test_pin_change_through_the_cli_counts_a_wrong_old_pin(make_sm2_token) -> None:
    tok = make_sm2_token("vendor4")
    new = "Fresh#Pin2026"
    r = _pin(tok, "change", "--pin-stdin", stdin=f"Wrong@2026x\n{new}\n{new}\n")
    assert r.returncode == ExitCode.WRONG_PIN and tok.counters() == (1, 0)
    r = _pin(tok, "change", "--pin-stdin", stdin=f"{USER_PIN}\n{new}\n{new}\n")
    assert r.returncode == 0, r.stderr
    assert tok.counters() == (0, 0)  # C_SetPIN with the right old PIN resets the counter
    assert _pin(tok, "verify", "--pin-stdin", stdin=USER_PIN + "\n").returncode == ExitCode.WRONG_PIN
    assert _pin(tok, "verify", "--pin-stdin", stdin=new + "\n").returncode == 0


def test_null_pointers_everywhere_get_arguments_bad(make_sm2_token) -> None:
    p11 = make_sm2_token("vendor8000").raw()
    slot = p11.slots()[0]
    s, key = logged_in(p11)
    h, n0 = UL(s), UL(0)
    calls = [
        ("C_GetInfo", P(None)), ("C_GetSlotList", ctypes.c_ubyte(1), P(None), P(None)),
        ("C_GetSlotInfo", UL(slot), P(None)), ("C_GetTokenInfo", UL(slot), P(None)),
        ("C_GetMechanismList", UL(slot), P(None), P(None)), ("C_GetMechanismInfo", UL(slot), UL(V + 0x8100), P(None)),
        ("C_OpenSession", UL(slot), UL(4), P(None), P(None), P(None)), ("C_GetSessionInfo", h, P(None)),
        ("C_Login", h, UL(1), P(None), UL(8)), ("C_SetPIN", h, P(None), UL(8), P(None), UL(8)),
        ("C_GetAttributeValue", h, UL(key), P(None), UL(1)), ("C_FindObjectsInit", h, P(None), UL(1)),
        ("C_SignInit", h, P(None), UL(key)), ("C_DigestInit", h, P(None)),
    ]
    for name, *args in calls:
        assert p11.rv(name, *args) == CKR_ARGUMENTS_BAD, name
    # A template entry with a length but no buffer; a mechanism parameter length without a pointer.
    bad = (ctypes.c_ulong * 3)(0x0, 0, 8)  # CK_ATTRIBUTE {CKA_CLASS, NULL, 8}
    assert p11.rv("C_FindObjectsInit", h, ctypes.cast(bad, P), UL(1)) == CKR_ARGUMENTS_BAD
    assert p11.rv("C_SignInit", h, ctypes.byref(Mechanism(V + 0x8100, None, 16)), UL(key)) == CKR_ARGUMENTS_BAD
    # Operations not started, and data pointers missing once they are.
    assert p11.rv("C_SignUpdate", h, P(None), n0) == CKR_OPERATION_NOT_INITIALIZED
    assert p11.rv("C_DigestFinal", h, P(None), P(None)) == CKR_OPERATION_NOT_INITIALIZED
    p11.sign_init(s, V + 0x8100, key)
    assert p11.rv("C_SignUpdate", h, P(None), UL(5)) == CKR_ARGUMENTS_BAD
    p11.sign_init(s, V + 0x8100, key)  # the failed update ended the operation
    assert p11.rv("C_SignFinal", h, P(None), P(None)) == CKR_ARGUMENTS_BAD
    p11.finalize()
    # After C_Finalize every call says so, none crashes.
    assert p11.rv("C_GetSlotList", ctypes.c_ubyte(1), P(None), ctypes.byref(n0)) == 0x190
    assert p11.rv("C_Sign", h, P(None), n0, P(None), ctypes.byref(n0)) == 0x190


def test_a_corrupt_counter_file_is_a_device_error_not_a_fresh_count(make_sm2_token) -> None:
    tok = make_sm2_token("vendor4")
    p11 = tok.raw()
    slot = p11.slots()[0]
    s = p11.open(slot)
    (tok.state_dir / f"token-{tok.serial}" / "state").write_text("user_failures lots\n")
    assert p11.login_rv(s, USER_PIN) == 0x30  # CKR_DEVICE_ERROR
    with pytest.raises(P11Error) as e:
        p11.token_info(slot)
    assert e.value.rv == 0x30
    p11.finalize()


def test_a_token_added_later_appears_after_reinitialize(make_sm2_token, sm2_material) -> None:
    """Plugging a key in, as the hot-plug watcher sees it: add_token, then C_Finalize/C_Initialize."""
    import pkcs11

    tok = make_sm2_token("vendor4")
    lib = pkcs11.lib(str(tok.module))
    assert [s.get_token().serial.decode().strip() for s in lib.get_slots(token_present=True)] == [tok.serial]
    sm2token.add_token(tok.state_dir, "second", "PLUGGED1", USER_PIN, SO_PIN,
                       [sm2token.TokenKey(sm2_material.key_pem, sm2_material.cert_der)], family="v8005")
    lib.reinitialize()
    serials = sorted(s.get_token().serial.decode().strip() for s in lib.get_slots(token_present=True))
    assert serials == sorted([tok.serial, "PLUGGED1"])
