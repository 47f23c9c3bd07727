"""Shared set-up for the PIN tests: the lock proxy, in this process and in CLI children.

Not a test module of its own (no tests here); the ``test_`` prefix keeps it
among the PIN tests it serves.

The proxy (tests/pkcs11_lockproxy) forwards to a *copy* of libsofthsm2.so
under a unique path, so in this process it is a second SoftHSM instance over
the same token directory (SOFTHSM2_CONF of the run): keys made by
``make_key`` appear on both.  The proxy keeps its try counters in the
directory of SOFTHSM2_CONF (its default), so this process and CLI children
share them without any LOCKPROXY_* variable but the target.

A CLI child sees ONLY the proxy: ZHENGLIAN_DRIVERS_DIR points at a copy of
drivers/ without softhsm.toml (the CA manifests still give names and PIN
policy) and ``--module liblockproxy.so`` adds it, so keys are identified by
their certificate's issuer, as with a vendor module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.requires import require
from zhenglian import manifest
from zhenglian.manifest import ManifestSet
from zhenglian.reference import provision, softhsm
from zhenglian.tokens.manager import TokenManager
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.module import Pkcs11Module

ROOT = Path(__file__).resolve().parents[2]
BUILD_SH = ROOT / "tests" / "pkcs11_lockproxy" / "build.sh"

GOOD = "Netca@2026ok"  # the test key's user PIN (not NETCA's factory PIN)
WRONG = "Wrong@2026x"  # within every limit, so each one costs a try
SO = provision.DEMO_SO_PIN
NEW = "Fresh#Pin2026"


def netca_spec(**changes: object) -> provision.DemoKeySpec:
    """A NETCA-issued key (its manifest has the full unlock route) with a known PIN."""
    base = dataclasses.replace(provision.DEMO_KEYS[0], user_pin=GOOD, encryption_cert=False)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@contextlib.contextmanager
def environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set (str) or unset (None) variables, restore the old values afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class LockProxy:
    path: Path
    target: Path
    drivers_dir: Path  # drivers/ without softhsm.toml
    state_dir: Path

    def child_env(self) -> dict[str, str]:
        return {"ZHENGLIAN_DRIVERS_DIR": str(self.drivers_dir), "LOCKPROXY_TARGET": str(self.target)}

    def state(self, serial: str) -> str | None:
        f = self.state_dir / f"lockproxy-{serial}.state"
        return f.read_text() if f.exists() else None

    def manager(self) -> TokenManager:
        """A TokenManager of this process that sees only the proxy (like a vendor module)."""
        ms = manifest.load_all()
        only_cas = ManifestSet([m for m in ms.manifests if m.id != "softhsm"], ms.errors)
        mgr = TokenManager(only_cas, [str(self.path)])
        module = mgr.modules[0]
        module.rescan = "reinitialize"  # SoftHSM shows new tokens only after C_Initialize
        with environ({"LOCKPROXY_TARGET": str(self.target)}):
            module.load()
        return mgr


@pytest.fixture(scope="session")
def lockproxy(tmp_path_factory: pytest.TempPathFactory) -> LockProxy:
    if shutil.which(os.environ.get("CC", "cc")) is None:
        require(False, "no C compiler to build the lock proxy")
    base = tmp_path_factory.mktemp("pin-lockproxy")
    build = subprocess.run(["sh", str(BUILD_SH), str(base / "build")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    target = base / "libsofthsm2-pin-tests.so"
    shutil.copy2(softhsm.module_path(), target)
    drivers = base / "drivers"
    drivers.mkdir()
    for f in (ROOT / "drivers").glob("*.toml"):
        if f.name != "softhsm.toml":
            shutil.copy2(f, drivers / f.name)
    state_dir = Path(os.environ["SOFTHSM2_CONF"]).parent  # the proxy's default
    return LockProxy(base / "build" / "liblockproxy.so", target, drivers, state_dir)


@pytest.fixture(scope="session")
def proxy_manager(lockproxy: LockProxy) -> TokenManager:
    return lockproxy.manager()


@pytest.fixture(scope="session")
def softhsm_manager() -> TokenManager:
    """Plain SoftHSM (never locks), through the softhsm manifest."""
    return TokenManager(manifest.load_all())


def find(mgr: TokenManager, serial: str) -> tuple[KeyInfo, Pkcs11Module, manifest.Manifest | None]:
    key = mgr.find_key(serial, mgr.scan())
    return key, mgr.module_for(key), mgr.pin_policy_manifest(key)


@dataclass
class Cli:
    """``python -m zhenglian pin ...`` in a child process, on one backend."""

    backend: str
    proxy: LockProxy | None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.proxy is not None:
            env.update(self.proxy.child_env())
        return env

    def argv(self, *args: str) -> list[str]:
        extra = ["--module", str(self.proxy.path)] if self.proxy is not None else []
        return [sys.executable, "-m", "zhenglian", *args, *extra]

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                              env=self.env(), timeout=60, cwd=ROOT)

    def with_stdin_file(self, *args: str, data: bytes, tmp: Path) -> tuple[subprocess.CompletedProcess[bytes], int]:
        """Run with stdin from a file; also return how many bytes the child read from it."""
        f = tmp / "stdin.txt"
        f.write_bytes(data)
        with f.open("rb") as fh:
            res = subprocess.run(self.argv(*args), stdin=fh, capture_output=True, env=self.env(),
                                 timeout=60, cwd=ROOT)
            consumed = os.lseek(fh.fileno(), 0, os.SEEK_CUR)
        return res, consumed
