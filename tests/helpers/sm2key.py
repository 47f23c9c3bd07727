"""pytest plugin: an SM2 *organisation key* on the software SM2 token, as an operator holds it.

Registered in conftest.py through ``pytest_plugins``.  Where ``helpers.sm2token`` gives the
raw token, this gives what the product sees: the demo SM2 CA (``democa.load_or_create_sm2``,
in a private folder) issues the organisation's certificate, the token holds the key, the
certificate and the issuing CA certificate, and the root is a file for ``--trust``.

``make_sm2_key(family="vendor8000", *, manifest=None, cert_der=None, ca_certs=None, **token_kw)``
returns an :class:`Sm2Key`.  ``manifest``: TOML text of ``[[sm2]]`` entries; when given, a
manifest claiming the token's module file is written into a private data directory
(``<home>/drivers``, the support staff's override folder) and ``key.env`` points there, so
the child process finds the module through the manifest instead of ``--module``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zhenglian.reference import democa, sm2token

SM2_PIN = "Sm2@Key2026"
SM2_SO_PIN = "Sm2So@Key2026"
SM2_ORG = "东莞市国密示范科技有限公司"
_n = itertools.count(1)


@dataclass(frozen=True)
class Sm2Org:
    ca: democa.SM2DemoCA
    ca_base: Path
    root_pem: Path
    pair: democa.SM2Pair
    uscc: str


@pytest.fixture(scope="session")
def sm2_org(tmp_path_factory: pytest.TempPathFactory) -> Sm2Org:
    from zhenglian.pki import uscc
    from zhenglian.reference import provision

    base = tmp_path_factory.mktemp("sm2-democa")
    ca = democa.load_or_create_sm2("netca", base)
    spec = provision.DemoKeySpec(ca_id="netca", label="SM2-TEST", organization=SM2_ORG,
                                 uscc=uscc.complete("91441900MA5GM2E2"), uscc_field="serialNumber",
                                 days_valid=365, user_pin=SM2_PIN)
    pair = ca.issue_sm2_pair(provision.subject_for(spec), encryption=False)
    root = base / "sm2-root.pem"
    root.write_bytes(democa.cert_pem(ca.chain[-1]))
    return Sm2Org(ca, base, root, pair, spec.uscc)


@dataclass
class Sm2Key:
    module: Path
    state_dir: Path
    serial: str
    family: str
    root_pem: Path
    cert_der: bytes
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    pin: str = SM2_PIN
    so_pin: str = SM2_SO_PIN
    via_manifest: bool = False

    def counters(self) -> tuple[int, int]:
        return sm2token.read_counters(self.state_dir, self.serial)

    def args(self) -> list[str]:
        """``--module`` (unless a manifest finds the module) and ``--trust`` for the CLI."""
        return ([] if self.via_manifest else ["--module", str(self.module)])

    def trust(self) -> list[str]:
        return ["--trust", str(self.root_pem)]


MANIFEST_HEAD = """id = "sm2test"
kind = "maker"
[names]
zh = "SM2 测试 UKey"
en = "SM2 test key"
[modules]
linux = ["{name}"]
linux_dirs = ["{dir}"]
"""


@pytest.fixture
def make_sm2_key(tmp_path: Path, sm2token_lib: Path, sm2_org: Sm2Org) -> Callable[..., Sm2Key]:
    def make(family: str = "vendor8000", *, manifest: str | None = None, cert_der: bytes | None = None,
             ca_certs: list[bytes] | None = None, **kw: object) -> Sm2Key:
        n = next(_n)
        serial = f"SM2K{os.getpid() % 10000:04d}{n:04d}"
        state = tmp_path / f"sm2key-{n}"
        cert = cert_der if cert_der is not None else sm2_org.pair.sign_cert.dump()
        cas = ca_certs if ca_certs is not None else [sm2_org.ca.chain[0].dump()]
        sm2token.add_token(state, f"SM2 {family}", serial, SM2_PIN, SM2_SO_PIN,  # type: ignore[arg-type]
                           [sm2token.TokenKey(sm2_org.pair.sign_key.pkcs8_pem(), cert, b"\x01", "签名证书")],
                           family=family, ca_certs=cas, **kw)  # type: ignore[arg-type]
        mod_dir = tmp_path / f"sm2mod-{n}"
        mod_dir.mkdir()
        module = mod_dir / "libsm2token.so"
        shutil.copy2(sm2token_lib, module)
        home = tmp_path / f"home-{n}"
        (home / "drivers").mkdir(parents=True)
        if manifest is not None:
            (home / "drivers" / "sm2test.toml").write_text(
                MANIFEST_HEAD.format(name=module.name, dir=mod_dir) + manifest, encoding="utf-8")
        env = {"ZL_SM2TOKEN_DIR": str(state), "ZHENGLIAN_HOME": str(home)}
        return Sm2Key(module, state, serial, family, sm2_org.root_pem, cert, home, env,
                      via_manifest=manifest is not None)

    return make


@pytest.fixture
def sm2_handle(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``open(key, manifest_toml=None) -> KeyHandle`` in this process (the token read through
    python-pkcs11 and the raw-call layer, as in the product).  ``manifest_toml``: ``[[sm2]]``
    entries given to the handle as its driver's manifest."""
    from zhenglian import manifest as mf
    from zhenglian.services import Context

    def open_(key: Sm2Key, manifest_toml: str | None = None):  # type: ignore[no-untyped-def]
        import dataclasses

        monkeypatch.setenv("ZL_SM2TOKEN_DIR", str(key.state_dir))  # read at this module copy's C_Initialize
        ctx = Context.create([str(key.module)])
        found = [k for k in ctx.tokens.scan() if k.serial == key.serial]
        assert found, f"token {key.serial} not found"
        h = ctx.tokens.handle(found[0])
        if manifest_toml is not None:
            path = key.home / "drivers" / "inproc.toml"
            path.write_text(MANIFEST_HEAD.format(name=key.module.name, dir=key.module.parent) + manifest_toml,
                            encoding="utf-8")
            h = dataclasses.replace(h, driver_manifests=(mf.load_file(path),))
        return h

    return open_
