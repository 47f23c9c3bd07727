"""Provision devices of skfsoft, the software GM/T 0016 (SKF) library.

skfsoft (``zhenglian/reference/native/skfsoft``) keeps its keys in the
directory named by ``ZL_SKFSOFT_DIR``: each subdirectory is a plugged-in
device.  This module writes such a device (serial, label, one application
with user and SO PINs and their retry counters, containers with sign and
encryption key pairs and certificates, as real dual-certificate keys hold)
and plugs it in or pulls it out atomically, for tests and the demo.

The PINs of a software key are test fixtures, yet they are still stored only
as salted SHA-256 hashes, taken from mutable buffers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ENV_DIR = "ZL_SKFSOFT_DIR"
ENV_LIB = "ZL_SKFSOFT_LIB"
DEFAULT_APP = "ZL_APP"
_SOURCES = Path(__file__).resolve().parent / "native" / "skfsoft"
_BUILD = Path(__file__).resolve().parents[2] / "build" / "native"  # build.sh writes here


class SkfSoftUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class KeyPair:
    """A private key (PKCS#8 PEM; b"" for none) and its certificate (DER, or None: none on the key)."""

    key_pem: bytes
    cert_der: bytes | None = None


@dataclass(frozen=True)
class Container:
    name: str
    kind: str  # "sm2" or "rsa"
    sign: KeyPair
    enc: KeyPair | None = None


def library_path() -> Path:
    """The built libskfsoft (``ZL_SKFSOFT_LIB`` overrides, e.g. the ASan build)."""
    override = os.environ.get(ENV_LIB)
    if override:
        return Path(override)
    return _BUILD / "libskfsoft.so"


def build(*, asan: bool = False, timeout: float = 300) -> Path:
    """Build (or find up to date) the library; returns its path."""
    script = _SOURCES / "build.sh"
    args = [str(script)] + (["--asan"] if asan else [])
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SkfSoftUnavailable(f"skfsoft build failed: {exc}") from exc
    return (_BUILD / "asan" if asan else _BUILD) / "libskfsoft.so"


def _check_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or len(name.encode()) > 63 or "\0" in name:
        raise ValueError(f"invalid skfsoft name: {name!r}")
    return name


def _pin_lines(side: str, pin: bytes | bytearray, max_tries: int, default: bool) -> list[str]:
    salt = secrets.token_bytes(16)
    h = hashlib.sha256(salt)
    h.update(pin)  # hashes the buffer in place; no immutable copy of the PIN
    return [
        f"{side}_salt={salt.hex()}",
        f"{side}_hash={h.hexdigest()}",
        f"{side}_remaining={max_tries}",
        f"{side}_default={1 if default else 0}",
    ]


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def create_device(
    root: Path,
    name: str,
    *,
    serial: str,
    label: str,
    user_pin: bytes | bytearray,
    admin_pin: bytes | bytearray,
    containers: Iterable[Container] = (),
    app: str = DEFAULT_APP,
    manufacturer: str = "zhenglian skfsoft",
    issuer: str = "zhenglian",
    max_tries: int = 10,
    user_pin_default: bool = False,
    sign_delay_ms: int = 0,
    max_containers: int | None = None,
    plug_in: bool = True,
) -> Path:
    """Write a device; with ``plug_in`` it appears at once (atomic rename).

    Returns the device directory (its final place even when not plugged in:
    then it waits under a dot-name, see :func:`plug_in`).
    """
    _check_name(name)
    _check_name(app)
    if not 1 <= max_tries <= 255:
        raise ValueError("max_tries must be 1..255")
    for text in (serial, label, manufacturer, issuer):
        if "\n" in text or "\r" in text:
            raise ValueError("device fields are single lines")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        info = [f"serial={serial}", f"label={label}", f"manufacturer={manufacturer}", f"issuer={issuer}",
                f"sign_delay_ms={int(sign_delay_ms)}"]
        if max_containers is not None:  # how many containers SKF_CreateContainer allows (default 16)
            info.append(f"max_containers={int(max_containers)}")
        _write(staging / "device", ("\n".join(info) + "\n").encode())
        app_dir = staging / app
        app_dir.mkdir()
        _write(app_dir / "app", b"")
        lines = [f"max_tries={max_tries}"]
        lines += _pin_lines("admin", admin_pin, max_tries, False)
        lines += _pin_lines("user", user_pin, max_tries, user_pin_default)
        _write(app_dir / "pins", ("\n".join(lines) + "\n").encode())
        for c in containers:
            _check_name(c.name)
            if c.kind not in ("sm2", "rsa"):
                raise ValueError(f"container kind must be sm2 or rsa, not {c.kind!r}")
            cdir = app_dir / c.name
            cdir.mkdir()
            for usage, pair in (("sign", c.sign), ("enc", c.enc)):
                if pair is None:
                    continue
                if pair.key_pem:  # b"": a certificate only (some CAs keep their CA certificate so)
                    _write(cdir / f"{usage}_key.pem", pair.key_pem)
                if pair.cert_der is not None:
                    _write(cdir / f"{usage}_cert.der", pair.cert_der)
            _write(cdir / "type", c.kind.encode())
        if not plug_in:
            parked = root / f".{name}.unplugged"
            shutil.rmtree(parked, ignore_errors=True)
            staging.rename(parked)
            return root / name
        staging.rename(root / name)
        return root / name
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def unplug(root: Path, name: str) -> None:
    """Pull the device out: it disappears at once and waits under a dot-name."""
    _check_name(name)
    parked = root / f".{name}.unplugged"
    shutil.rmtree(parked, ignore_errors=True)
    (root / name).rename(parked)


def plug_in(root: Path, name: str) -> None:
    """Plug a device pulled out with :func:`unplug` (or created unplugged) back in."""
    _check_name(name)
    (root / f".{name}.unplugged").rename(root / name)


def retry_counters(root: Path, name: str, app: str = DEFAULT_APP) -> dict[str, int]:
    """The persisted remaining tries, as the library stores them (for tests)."""
    text = (root / name / app / "pins").read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {"user": int(values["user_remaining"]), "admin": int(values["admin_remaining"])}


# --- key material for tests and the demo ----------------------------------


def rsa_key_pem(bits: int = 2048) -> tuple[bytes, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, key


def openssl_sm2_self_signed(workdir: Path, cn: str, *, encryption: bool = False,
                            openssl: str = "openssl", timeout: float = 60) -> KeyPair:
    """An SM2 key and a self-signed SM3-with-SM2 certificate, made by the openssl CLI.

    ``cryptography`` has no SM2; the project's SM2 demo CA can replace this.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / f"{secrets.token_hex(4)}.key.pem"
    cert = key.with_suffix(".der")
    usage = "keyEncipherment,dataEncipherment" if encryption else "digitalSignature,nonRepudiation"
    try:
        subprocess.run([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2",
                        "-out", str(key)], check=True, capture_output=True, timeout=timeout)
        subprocess.run([openssl, "req", "-new", "-x509", "-key", str(key), "-sm3",
                        "-sigopt", "distid:1234567812345678", "-subj", f"/CN={cn}", "-days", "365",
                        "-addext", f"keyUsage=critical,{usage}", "-outform", "DER", "-out", str(cert)],
                       check=True, capture_output=True, timeout=timeout)
        return KeyPair(key.read_bytes(), cert.read_bytes())
    except (OSError, subprocess.SubprocessError) as exc:
        raise SkfSoftUnavailable(f"openssl could not make an SM2 certificate: {exc}") from exc
    finally:
        key.unlink(missing_ok=True)
        cert.unlink(missing_ok=True)


def issued_containers(subject: object, *, sm2_ca: object | None = None, rsa_ca: object | None = None,
                      days_valid: int = 730, encryption: bool = True, ca_certs: bool = True) -> list[Container]:
    """Containers whose certificates a demo CA issued, as a CA puts them on a real key.

    ``sm2_ca`` (a :class:`~zhenglian.reference.democa.SM2DemoCA`) gives an ``SM2_CON``
    container (sign + encryption pair, as dual-certificate keys hold); ``rsa_ca`` (a
    :class:`~zhenglian.reference.democa.DemoCA`) an ``RSA_CON`` one (RSA-2048 signing
    certificate).  ``subject`` is a cryptography ``x509.Name`` (``provision.subject_for``).
    With ``ca_certs``, the issuing CA certificates are kept in certificate-only containers
    (``CA_SM2``, ``CA_RSA``), as some CAs ship them on the key, so the signer's chain is complete.
    """
    import datetime as dt

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    end = start + dt.timedelta(days=days_valid)
    out: list[Container] = []
    if sm2_ca is not None:
        pair = sm2_ca.issue_sm2_pair(subject, start, end, encryption=encryption)  # type: ignore[attr-defined]
        enc = None
        if pair.enc_cert is not None and pair.enc_key is not None:
            enc = KeyPair(pair.enc_key.pkcs8_pem(), pair.enc_cert.dump())
        out.append(Container("SM2_CON", "sm2", KeyPair(pair.sign_key.pkcs8_pem(), pair.sign_cert.dump()), enc))
        if ca_certs:
            out.append(Container("CA_SM2", "sm2", KeyPair(b"", sm2_ca.sub_cert.dump())))  # type: ignore[attr-defined]
    if rsa_ca is not None:
        pem, key = rsa_key_pem()
        cert = rsa_ca.issue(subject, key.public_key(), start, end, "signing")  # type: ignore[attr-defined]
        out.append(Container("RSA_CON", "rsa", KeyPair(pem, cert.public_bytes(serialization.Encoding.DER))))
        if ca_certs:
            sub_der = rsa_ca.sub_cert.public_bytes(serialization.Encoding.DER)  # type: ignore[attr-defined]
            out.append(Container("CA_RSA", "rsa", KeyPair(b"", sub_der)))
    return out


# --- the demo's SKF key ------------------------------------------------------------------------

DEMO_NAME = "skfdemo"
DEMO_SERIAL = "SKFDEMO0001"
DEMO_LABEL = "SKF-DEMO"
DEMO_USER_PIN = "Skf@2026demo"  # public demo PINs, like the SoftHSM demo keys'
DEMO_SO_PIN = "SkfSo@2026demo"


@dataclass(frozen=True)
class DemoSkfKey:
    serial: str
    label: str
    organization: str
    library: Path
    devices: Path
    user_pin: str
    so_pin: str


def demo_dir(home: Path | None = None) -> Path:
    """``{home}/skfsoft``: the library and ``devices/`` that ``drivers/skfsoft.toml`` names."""
    from zhenglian import paths

    return (home or paths.data_dir()) / "skfsoft"


def provision_demo(home: Path | None = None, ca_base: Path | None = None) -> DemoSkfKey:
    """The SKF demo key: skfsoft (built if needed) copied beside its devices, one device with an
    SM2 dual-certificate container the SM2 demo CA issued to the SZCA demo institution."""
    from zhenglian.reference import democa, provision

    built = build()
    target = demo_dir(home)
    devices = target / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    lib = target / "libskfsoft.so"
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".libskfsoft.")
    os.close(fd)
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, lib)  # never a half-copied library where the client loads it
    finally:
        Path(tmp).unlink(missing_ok=True)
    spec = provision.DEMO_KEYS[1]
    containers = issued_containers(provision.subject_for(spec),
                                   sm2_ca=democa.load_or_create_sm2(spec.ca_id, ca_base), days_valid=spec.days_valid)
    shutil.rmtree(devices / DEMO_NAME, ignore_errors=True)
    create_device(devices, DEMO_NAME, serial=DEMO_SERIAL, label=DEMO_LABEL,
                  user_pin=bytearray(DEMO_USER_PIN.encode()), admin_pin=bytearray(DEMO_SO_PIN.encode()),
                  containers=containers)
    return DemoSkfKey(DEMO_SERIAL, DEMO_LABEL, spec.organization, lib, devices, DEMO_USER_PIN, DEMO_SO_PIN)
