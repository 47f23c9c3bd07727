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

``Sm2Token.raw()`` gives a ``zhenglian.reference.p11ctypes.RawP11`` on the
token: the module through ctypes (the vendor-DLL path), for the vendor
mechanisms python-pkcs11 cannot name.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.requires import require

from zhenglian.reference import sm2token
from zhenglian.reference.native import NativeBuildError, built_module
from zhenglian.reference.p11ctypes import RawP11

DISTID = "distid:1234567812345678"
USER_PIN = "Sm2@Token2026"
SO_PIN = "Sm2So@Token2026"
_serials = itertools.count(1)


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
        require(False, "no openssl CLI to make SM2 test certificates")
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
            require(False, str(exc))
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
