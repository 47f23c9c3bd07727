"""Shared fixtures: one private SoftHSM for the whole test run, demo keys on it.

python-pkcs11 loads a library once per path per process and SoftHSM reads
SOFTHSM2_CONF when it is initialised, so the whole pytest process uses one
SoftHSM configuration, set here before anything loads the module.  Tests that
need a key of their own create it on that SoftHSM with a unique label
(``make_key``).  ZHENGLIAN_HOME points at a private directory too, so nothing
touches the developer's real data.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Fixture plugins shared by several test modules.
pytest_plugins = [
    "helpers.requires",  # what a test needs from the machine: skipped locally, a failure in CI
    "helpers.server",  # the reference signing server on loopback, a file keyring
    "helpers.pins",  # the lock proxy (a PKCS#11 module that really counts and locks) and PIN managers
    "helpers.sm2token",  # the software SM2 token (libsm2token.so) and a ctypes caller
    "helpers.sm2key",  # an SM2 organisation key (demo SM2 CA chain) on that token
    "helpers.judges",  # BouncyCastle and openssl as independent SM2 judges
    "helpers.register",  # the seal-use register
    "helpers.skf",  # the software SKF library
    "helpers.ui",  # the tray app on real keys and server, screenshots, visible texts
]
_RUN_DIR: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _RUN_DIR
    import tempfile

    _RUN_DIR = Path(tempfile.mkdtemp(prefix="zhenglian-tests-"))
    home = _RUN_DIR / "home"
    home.mkdir()
    os.environ["ZHENGLIAN_HOME"] = str(home)
    # No deployment defaults (the shipped Dongguan server, /etc/zhenglian) unless a test sets them.
    os.environ["ZHENGLIAN_DEFAULTS"] = ""
    conf_dir = _RUN_DIR / "softhsm"
    conf_dir.mkdir()
    from zhenglian.reference import softhsm

    os.environ["SOFTHSM2_CONF"] = str(softhsm.write_conf(conf_dir / "softhsm2.conf"))
    # No USB devices of this machine leak into tests unless a test asks.
    empty = _RUN_DIR / "no-usb"
    empty.mkdir()
    os.environ["ZHENGLIAN_USB_SYSFS"] = str(empty)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    if _RUN_DIR is not None and not os.environ.get("ZHENGLIAN_KEEP_TEST_DIR"):
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def softhsm_conf() -> Path:
    return Path(os.environ["SOFTHSM2_CONF"])


@pytest.fixture(scope="session")
def demo_keys(softhsm_conf: Path):  # type: ignore[no-untyped-def]
    """The three demo keys (NETCA, SZCA, GDCA), provisioned once per run."""
    from zhenglian.reference import provision

    return provision.provision_all(softhsm_conf)


_counter = itertools.count(1)


@pytest.fixture
def make_key(softhsm_conf: Path, demo_keys):  # type: ignore[no-untyped-def]
    """Create a fresh key (a demo spec with a unique label) on the shared SoftHSM."""
    from zhenglian.reference import provision, softhsm

    made: list[str] = []

    def _make(spec: provision.DemoKeySpec | None = None, **changes):  # type: ignore[no-untyped-def]
        base = spec or provision.DEMO_KEYS[1]
        label = changes.pop("label", None) or f"T{next(_counter)}-{base.ca_id}"[:32]
        key = provision.provision_key(dataclasses.replace(base, label=label, **changes), softhsm_conf)
        made.append(label)
        return key

    yield _make
    for label in made:
        try:
            softhsm.delete_token(softhsm_conf, label)
        except subprocess.CalledProcessError:
            pass


@pytest.fixture
def run_cli():  # type: ignore[no-untyped-def]
    """Run ``python -m zhenglian`` in a child process, as a user would."""

    def _run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "zhenglian", *args], input=input, capture_output=True,
            text=True, env=full_env, timeout=timeout, cwd=ROOT,
        )

    return _run


