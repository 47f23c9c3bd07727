"""Fixtures for SKF tests: the built skfsoft library and provisioned software keys.

Import the fixtures a test module needs:
    from skffixtures import skf_lib, skf_root, skf_material, make_skf_device  # noqa: F401

skfsoft reads ``ZL_SKFSOFT_DIR`` at every call, so each test gets its own
device directory while the library stays loaded once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.requires import require

from zhenglian.reference import skfsoft

USER_PIN = b"12345678"
ADMIN_PIN = b"Admin@2026"


@dataclass(frozen=True)
class SkfMaterial:
    sm2_sign: skfsoft.KeyPair
    sm2_enc: skfsoft.KeyPair
    rsa_sign_pem: bytes
    rsa_sign_key: rsa.RSAPrivateKey
    rsa_sign_cert: bytes


@pytest.fixture(scope="session")
def skf_lib_path() -> Path:
    """skfsoft, built if its sources changed (``ZL_SKFSOFT_LIB`` picks another build, e.g. ASan)."""
    if os.environ.get(skfsoft.ENV_LIB):
        return skfsoft.library_path()
    try:
        return skfsoft.build()
    except skfsoft.SkfSoftUnavailable as exc:
        require(False, f"skfsoft cannot be built here: {exc}")


@pytest.fixture(scope="session")
def skf_material(tmp_path_factory: pytest.TempPathFactory) -> SkfMaterial:
    """Key pairs made once per run: SM2 sign+encryption (openssl CLI) and RSA (cryptography)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    work = tmp_path_factory.mktemp("skf-material")
    sm2_sign = skfsoft.openssl_sm2_self_signed(work, "SKF SM2 sign")
    sm2_enc = skfsoft.openssl_sm2_self_signed(work, "SKF SM2 enc", encryption=True)
    pem, key = skfsoft.rsa_key_pem()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SKF RSA sign")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    return SkfMaterial(sm2_sign, sm2_enc, pem, key, cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture()
def skf_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "skfsoft"
    root.mkdir()
    monkeypatch.setenv(skfsoft.ENV_DIR, str(root))
    return root


@pytest.fixture()
def make_skf_device(skf_root: Path, skf_material: SkfMaterial) -> Callable[..., Path]:
    """Write a device with an SM2 dual-certificate container and an RSA container."""

    def make(name: str = "skf0", *, serial: str = "SKF0001", rsa_cert: bool = True, **kw: object) -> Path:
        m = skf_material
        containers = [
            skfsoft.Container("SM2_CON", "sm2", m.sm2_sign, m.sm2_enc),
            skfsoft.Container("RSA_CON", "rsa", skfsoft.KeyPair(m.rsa_sign_pem, m.rsa_sign_cert if rsa_cert else None)),
        ]
        kw.setdefault("user_pin", bytearray(USER_PIN))
        kw.setdefault("admin_pin", bytearray(ADMIN_PIN))
        kw.setdefault("label", f"软KEY {name}")
        return skfsoft.create_device(skf_root, name, serial=serial, containers=containers, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture()
def skf_lib(skf_lib_path: Path, skf_root: Path) -> Iterator[object]:
    from zhenglian.tokens.skf import SkfLibrary

    yield SkfLibrary(skf_lib_path)
