"""Fixtures for SKF tests: the built skfsoft library and provisioned software keys.

A pytest plugin (``pytest_plugins`` in conftest.py); older modules also import
the fixtures they need by name.

skfsoft reads ``ZL_SKFSOFT_DIR`` at every call, so each test gets its own
device directory while the library stays loaded once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- SKF keys as an operator has them: demo-CA certificates, only the SKF library ----------

@dataclass(frozen=True)
class SkfKey:
    serial: str
    name: str  # the skfsoft device directory
    user_pin: str
    admin_pin: str
    spec: object  # provision.DemoKeySpec: the subject's organisation, USCC, CA


@dataclass(frozen=True)
class SkfOnly:
    """What a CLI child needs to see the SKF library and no PKCS#11 module."""

    lib: Path
    root: Path
    drivers_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({skfsoft.ENV_DIR: str(self.root), "ZHENGLIAN_DRIVERS_DIR": str(self.drivers_dir)})
        return env

    def argv(self, *args: str) -> list[str]:
        import sys

        return [sys.executable, "-m", "zhenglian", *args, "--module", str(self.lib)]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120,
                 extra_env: dict[str, str] | None = None) -> Any:
        import subprocess

        root = Path(__file__).resolve().parents[2]
        return subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                              env=self.env() | (extra_env or {}), timeout=timeout, cwd=root)

    def manager(self) -> Any:
        """A TokenManager as such a child builds it: the CA manifests and the SKF library."""
        from zhenglian import manifest
        from zhenglian.tokens.manager import TokenManager

        return TokenManager(manifest.load_all(self.drivers_dir), [str(self.lib)])


@pytest.fixture()
def skf_only(skf_lib_path: Path, skf_root: Path, tmp_path: Path) -> SkfOnly:
    """The CA manifests without softhsm.toml (no PKCS#11 module at all) + ``--module libskfsoft.so``."""
    import shutil

    src = Path(__file__).resolve().parents[2] / "drivers"
    drivers = tmp_path / "drivers-skf-only"
    drivers.mkdir()
    for toml in src.glob("*.toml"):
        if toml.name != "softhsm.toml":
            shutil.copy(toml, drivers / toml.name)
    return SkfOnly(skf_lib_path, skf_root, drivers)


_skf_serials = iter(range(1, 10_000))


@pytest.fixture()
def make_skf_key(skf_root: Path) -> Callable[..., SkfKey]:
    """A software SKF key whose certificates the demo CAs issued (so the reference server and
    the demo trust roots accept them): ``sm2`` → an SM2 dual-certificate container (sign-only
    with ``encryption=False``), ``rsa`` → an RSA one.  The subject is a demo key spec's (``provision.DEMO_KEYS``)."""
    from zhenglian.reference import democa, provision

    def make(*, sm2: bool = True, rsa: bool = False, spec: Any = None, user_pin: str = "Skf@2026demo",
             admin_pin: str = "SkfAdmin@2026", plug_in: bool = True, encryption: bool = True,
             **kw: Any) -> SkfKey:
        spec = spec or provision.DEMO_KEYS[1]
        n = next(_skf_serials)
        serial, name = f"SKFT{n:06d}", f"skft{n}"
        containers = skfsoft.issued_containers(
            provision.subject_for(spec), sm2_ca=democa.load_or_create_sm2(spec.ca_id) if sm2 else None,
            rsa_ca=democa.load_or_create(spec.ca_id) if rsa else None, encryption=encryption)
        skfsoft.create_device(skf_root, name, serial=serial, label=f"SKF-{spec.ca_id}-{n}",
                              user_pin=bytearray(user_pin.encode()), admin_pin=bytearray(admin_pin.encode()),
                              containers=containers, plug_in=plug_in, **kw)
        return SkfKey(serial, name, user_pin, admin_pin, spec)

    return make
