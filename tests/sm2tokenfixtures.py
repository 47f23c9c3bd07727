"""pytest plugin: the software SM2 token (libsm2token.so), SM2 test certificates and a raw ctypes caller.

Registered in conftest.py through ``pytest_plugins``.  Fixtures:

- ``sm2token_lib``: the built module (``zhenglian.reference.native.built_module``).
- ``sm2_material``: an SM2 CA and an end-entity key + certificate issued by it
  ("NETCA" in the issuer, so the client names the CA), made once per run
  with the openssl CLI (OpenSSL 3: ``-sm3 -sigopt distid:1234567812345678``).
- ``make_sm2_token(family=..., **add_token_kwargs)``: a fresh token directory
  holding that key and certificate, and a private copy of the module so this
  process loads a separate instance that reads this directory at
  ``C_Initialize`` (python-pkcs11 caches a library per path).

``RawP11`` calls a module through ctypes (the vendor-DLL path), for the
vendor mechanisms python-pkcs11 cannot name.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zhenglian.reference import sm2token
from zhenglian.reference.native import NativeBuildError, built_module

DISTID = "distid:1234567812345678"
USER_PIN = "Sm2@Token2026"
SO_PIN = "Sm2So@Token2026"
_serials = itertools.count(1)

CKR_OK = 0
CKR_BUFFER_TOO_SMALL = 0x150
CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 1, 2, 3
CKA_CLASS, CKA_ID, CKA_VALUE = 0x0, 0x102, 0x11
CKF_SERIAL_SESSION, CKF_RW_SESSION = 0x4, 0x2
CKU_SO, CKU_USER = 0, 1

_NAMES = ["C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo", "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState", "C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject", "C_GetObjectSize", "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects", "C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal", "C_DecryptInit", "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest", "C_DigestUpdate", "C_DigestKey", "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate", "C_SignFinal", "C_SignRecoverInit", "C_SignRecover", "C_VerifyInit", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal", "C_VerifyRecoverInit", "C_VerifyRecover", "C_DigestEncryptUpdate", "C_DecryptDigestUpdate", "C_SignEncryptUpdate", "C_DecryptVerifyUpdate", "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey", "C_UnwrapKey", "C_DeriveKey", "C_SeedRandom", "C_GenerateRandom", "C_GetFunctionStatus", "C_CancelFunction", "C_WaitForSlotEvent"]
assert len(_NAMES) == 68

UL = ctypes.c_ulong
P = ctypes.c_void_p


class _FunctionList(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte), ("fn", P * 68)]


class Mechanism(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", P), ("ulParameterLen", UL)]


class Attribute(ctypes.Structure):
    _fields_ = [("type", UL), ("pValue", P), ("ulValueLen", UL)]


class TokenInfo(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32),
                ("model", ctypes.c_char * 16), ("serialNumber", ctypes.c_char * 16), ("flags", UL),
                ("counts", UL * 10), ("hw", ctypes.c_ubyte * 2), ("fw", ctypes.c_ubyte * 2),
                ("utcTime", ctypes.c_char * 16)]


class P11Error(Exception):
    def __init__(self, name: str, rv: int) -> None:
        super().__init__(f"{name} -> 0x{rv:X}")
        self.rv = rv


class RawP11:
    """A PKCS#11 module called through its function list with ctypes."""

    def __init__(self, path: Path) -> None:
        self.lib = ctypes.CDLL(str(path))
        get = self.lib.C_GetFunctionList
        get.argtypes = [ctypes.POINTER(ctypes.POINTER(_FunctionList))]
        get.restype = UL
        fl = ctypes.POINTER(_FunctionList)()
        assert get(ctypes.byref(fl)) == CKR_OK
        self.fl = fl.contents
        assert all(self.fl.fn), "every function-list entry is set"

    def rv(self, name: str, *args: object) -> int:
        """Call a function by name; returns its CK_RV (arguments: ctypes values)."""
        types = [P if type(a).__name__ == "CArgObject" else type(a) for a in args]  # byref(...) -> pointer
        fn = ctypes.CFUNCTYPE(UL, *types)(self.fl.fn[_NAMES.index(name)])
        return int(fn(*args))

    def call(self, name: str, *args: object) -> None:
        rv = self.rv(name, *args)
        if rv != CKR_OK:
            raise P11Error(name, rv)

    # --- conveniences -------------------------------------------------------
    def initialize(self) -> None:
        self.call("C_Initialize", P(None))

    def finalize(self) -> None:
        self.call("C_Finalize", P(None))

    def slots(self) -> list[int]:
        n = UL(0)
        self.call("C_GetSlotList", ctypes.c_ubyte(1), P(None), ctypes.byref(n))
        arr = (UL * max(n.value, 1))()
        self.call("C_GetSlotList", ctypes.c_ubyte(1), ctypes.cast(arr, P), ctypes.byref(n))
        return list(arr[: n.value])

    def token_info(self, slot: int) -> TokenInfo:
        info = TokenInfo()
        self.call("C_GetTokenInfo", UL(slot), ctypes.byref(info))
        return info

    def mechanisms(self, slot: int) -> list[int]:
        n = UL(0)
        self.call("C_GetMechanismList", UL(slot), P(None), ctypes.byref(n))
        arr = (UL * max(n.value, 1))()
        self.call("C_GetMechanismList", UL(slot), ctypes.cast(arr, P), ctypes.byref(n))
        return list(arr[: n.value])

    def open(self, slot: int, rw: bool = False) -> int:
        h = UL(0)
        flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
        self.call("C_OpenSession", UL(slot), UL(flags), P(None), P(None), ctypes.byref(h))
        return h.value

    def login_rv(self, session: int, pin: str, user: int = CKU_USER) -> int:
        buf = ctypes.create_string_buffer(pin.encode(), len(pin.encode()))
        return self.rv("C_Login", UL(session), UL(user), ctypes.cast(buf, P), UL(len(pin.encode())))

    def find(self, session: int, cls: int) -> list[int]:
        value = UL(cls)
        tmpl = Attribute(CKA_CLASS, ctypes.cast(ctypes.byref(value), P), ctypes.sizeof(UL))
        self.call("C_FindObjectsInit", UL(session), ctypes.byref(tmpl), UL(1))
        out = (UL * 64)()
        n = UL(0)
        self.call("C_FindObjects", UL(session), ctypes.cast(out, P), UL(64), ctypes.byref(n))
        self.call("C_FindObjectsFinal", UL(session))
        return list(out[: n.value])

    def attribute(self, session: int, obj: int, attr: int) -> bytes:
        a = Attribute(attr, None, 0)
        self.call("C_GetAttributeValue", UL(session), UL(obj), ctypes.byref(a), UL(1))
        buf = ctypes.create_string_buffer(a.ulValueLen)
        a.pValue = ctypes.cast(buf, P)
        self.call("C_GetAttributeValue", UL(session), UL(obj), ctypes.byref(a), UL(1))
        return buf.raw[: a.ulValueLen]

    def sign_init(self, session: int, mech: int, key: int, param: bytes | None = None) -> None:
        pbuf = ctypes.create_string_buffer(param, len(param)) if param else None
        m = Mechanism(mech, ctypes.cast(pbuf, P) if pbuf is not None else None, len(param or b""))
        self.call("C_SignInit", UL(session), ctypes.byref(m), UL(key))

    def sign(self, session: int, data: bytes) -> bytes:
        """C_Sign with the two-call convention: ask the length, then sign."""
        d = ctypes.create_string_buffer(data, len(data))
        n = UL(0)
        self.call("C_Sign", UL(session), ctypes.cast(d, P), UL(len(data)), P(None), ctypes.byref(n))
        out = ctypes.create_string_buffer(n.value)
        self.call("C_Sign", UL(session), ctypes.cast(d, P), UL(len(data)), ctypes.cast(out, P), ctypes.byref(n))
        return out.raw[: n.value]

    def sign_update(self, session: int, data: bytes) -> None:
        d = ctypes.create_string_buffer(data, len(data))
        self.call("C_SignUpdate", UL(session), ctypes.cast(d, P), UL(len(data)))

    def sign_final(self, session: int) -> bytes:
        n = UL(0)
        self.call("C_SignFinal", UL(session), P(None), ctypes.byref(n))
        out = ctypes.create_string_buffer(n.value)
        self.call("C_SignFinal", UL(session), ctypes.cast(out, P), ctypes.byref(n))
        return out.raw[: n.value]


def _openssl(*args: str, cwd: Path) -> None:
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"openssl {' '.join(args)}: {res.stderr}"


@dataclass(frozen=True)
class Sm2Material:
    dir: Path
    key_pem: bytes  # end-entity private key, PKCS#8 PEM
    cert_der: bytes  # end-entity certificate, issued by the CA
    pub_pem: Path  # end-entity public key, for openssl pkeyutl -verify
    ca_pem: Path


@pytest.fixture(scope="session")
def sm2_material(tmp_path_factory: pytest.TempPathFactory) -> Sm2Material:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI to make SM2 test certificates")
    d = tmp_path_factory.mktemp("sm2-material")
    sm2 = ("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2")
    _openssl(*sm2, "-out", "ca.key", cwd=d)
    _openssl("req", "-x509", "-new", "-utf8", "-key", "ca.key", "-sm3", "-sigopt", DISTID,
             "-subj", "/C=CN/O=NETCA/CN=NETCA SM2 测试 CA", "-days", "30",
             "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign",
             "-out", "ca.pem", cwd=d)
    _openssl(*sm2, "-out", "ee.key", cwd=d)
    _openssl("req", "-new", "-utf8", "-key", "ee.key", "-sm3", "-sigopt", DISTID,
             "-subj", "/C=CN/O=东莞测试单位/CN=东莞测试单位", "-out", "ee.csr", cwd=d)
    (d / "ext.cnf").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    _openssl("x509", "-req", "-in", "ee.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-sm3", "-sigopt", DISTID, "-vfyopt", DISTID, "-days", "30", "-extfile", "ext.cnf",
             "-outform", "DER", "-out", "ee.der", cwd=d)
    _openssl("pkey", "-in", "ee.key", "-pubout", "-out", "ee.pub.pem", cwd=d)
    return Sm2Material(d, (d / "ee.key").read_bytes(), (d / "ee.der").read_bytes(), d / "ee.pub.pem",
                       d / "ca.pem")


@pytest.fixture(scope="session")
def sm2token_lib() -> Path:
    try:
        return built_module("sm2token")
    except NativeBuildError as exc:
        if shutil.which(os.environ.get("CC", "cc")) is None:
            pytest.skip(str(exc))
        raise


@dataclass
class Sm2Token:
    state_dir: Path
    serial: str
    family: str
    module: Path  # a private copy of libsm2token.so
    env: dict[str, str] = field(default_factory=dict)

    def counters(self) -> tuple[int, int]:
        return sm2token.read_counters(self.state_dir, self.serial)

    def raw(self) -> RawP11:
        """A new instance of the module through ctypes, initialised on this token's directory.

        Each call loads its own copy of the file, so two calls act like two
        processes (and python-pkcs11's instance of ``module`` is not touched).
        """
        copy = self.module.with_name(f"{self.module.stem}-raw{next(_serials)}.so")
        shutil.copy2(self.module, copy)
        os.environ["ZL_SM2TOKEN_DIR"] = str(self.state_dir)
        p11 = RawP11(copy)
        p11.initialize()
        return p11


@pytest.fixture
def make_sm2_token(tmp_path: Path, sm2token_lib: Path, sm2_material: Sm2Material,
                   monkeypatch: pytest.MonkeyPatch) -> Callable[..., Sm2Token]:
    def make(family: str = "vendor8000", keys: list[sm2token.TokenKey] | None = None, **kw: object) -> Sm2Token:
        n = next(_serials)
        serial = f"SM2T{os.getpid() % 10000:04d}{n:04d}"
        state = tmp_path / f"sm2state-{n}"
        if keys is None:
            keys = [sm2token.TokenKey(sm2_material.key_pem, sm2_material.cert_der, b"\x01", "签名证书")]
        sm2token.add_token(state, kw.pop("label", f"SM2 {family}"), serial,  # type: ignore[arg-type]
                           kw.pop("pin", USER_PIN), kw.pop("so_pin", SO_PIN), keys,  # type: ignore[arg-type]
                           family=family, **kw)  # type: ignore[arg-type]
        module = tmp_path / f"libsm2token-{n}.so"
        shutil.copy2(sm2token_lib, module)
        monkeypatch.setenv("ZL_SM2TOKEN_DIR", str(state))
        return Sm2Token(state, serial, family, module, {"ZL_SM2TOKEN_DIR": str(state)})

    return make
