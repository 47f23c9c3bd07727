"""Provision the software SM2 PKCS#11 token (``libsm2token.so``) for tests and the demo.

The token's state is a directory (``ZL_SM2TOKEN_DIR``) with one
sub-directory per token, read by the module at ``C_Initialize``::

    <dir>/token-<serial>/token.ini    what the token is and holds
    <dir>/token-<serial>/state        PIN hashes and try counters (the module updates it)
    <dir>/token-<serial>/cert-<id>.der, key-<id>.pem

Slots follow the sorted directory names.  The format and the behaviour of
each vendor numbering are documented in docs/sm2.md, "The test token".
PINs are stored only as salted SHA-256 hashes, as a key's chip would keep
them out of reach.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zhenglian.tokens.secret import PinBuffer

CKM_VENDOR_DEFINED = 0x80000000
CKK_VENDOR_DEFINED = 0x80000000
CKK_EC = 0x3
CKM_RSA_PKCS = 0x1
CKM_SHA256_RSA_PKCS = 0x40
DEFAULT_SM2_ID = b"1234567812345678"


@dataclass(frozen=True)
class Sm2Mechanism:
    """One signing (or digest) mechanism of a vendor numbering, as the token implements it.

    ``input``: ``"message"`` (the token computes Z and e = SM3(Z‖M) itself) or
    ``"e"`` (the caller passes the 32-byte e).  ``output``: ``"raw"`` (r‖s, 64
    bytes) or ``"der"`` (SEQUENCE of two INTEGERs).  ``id_param``: the
    mechanism parameter, if given, is the signer's ID (else the default ID).
    """

    number: int
    name: str
    input: str
    output: str
    id_param: bool = False


FAMILIES: dict[str, tuple[Sm2Mechanism, ...]] = {
    "vendor8000": (
        Sm2Mechanism(CKM_VENDOR_DEFINED + 0x8100, "SM3_SM2", "message", "raw", id_param=True),
        Sm2Mechanism(CKM_VENDOR_DEFINED + 0x8101, "SM3_SM2_DER", "message", "der", id_param=True),
        Sm2Mechanism(CKM_VENDOR_DEFINED + 0x8102, "SM3_SM2_DEFAULT_ID", "message", "raw"),
        Sm2Mechanism(CKM_VENDOR_DEFINED + 0x8103, "SM3_SM2_DEFAULT_ID_DER", "message", "der"),
        Sm2Mechanism(CKM_VENDOR_DEFINED + 0x8104, "SM2_RAW", "e", "raw"),
    ),
    "vendor4": (Sm2Mechanism(CKM_VENDOR_DEFINED + 4, "SM2", "e", "der"),),
    "v8005": (Sm2Mechanism(0x8005000C, "SM2_SM3", "message", "der"),),
}
SM2_KEY_TYPES = {"vendor8000": CKK_VENDOR_DEFINED + 4, "vendor4": CKK_VENDOR_DEFINED + 1, "v8005": CKK_EC}
SM3_DIGEST = {"vendor4": CKM_VENDOR_DEFINED + 31}  # C_Digest with SM3, where the family has it

_SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,16}$")


@dataclass(frozen=True)
class TokenKey:
    """A key pair (PKCS#8 PEM private key, SM2 or RSA) and optionally its certificate (DER)."""

    key_pem: bytes
    cert_der: bytes | None = None
    cka_id: bytes = b"\x01"
    label: str = "sm2"


def token_dir(state_dir: Path, serial: str) -> Path:
    return Path(state_dir) / f"token-{serial}"


def pin_hash(serial: str, pin: PinBuffer | bytes | bytearray | str) -> str:
    """The hash the module compares a PIN with: SHA-256("sm2token:" serial ":" PIN)."""
    h = hashlib.sha256(b"sm2token:" + serial.encode() + b":")
    if isinstance(pin, PinBuffer):
        h.update(pin.buffer)
    elif isinstance(pin, str):
        h.update(pin.encode())
    else:
        h.update(pin)
    return h.hexdigest()


def _field(name: str, value: str, max_bytes: int) -> str:
    if any(c in value for c in "\r\n\x00") or value != value.strip():
        raise ValueError(f"{name}: no line breaks, NULs or surrounding blanks")
    if len(value.encode()) > max_bytes:
        raise ValueError(f"{name}: at most {max_bytes} bytes (UTF-8)")
    return value


def _state_text(user_hash: str, so_hash: str, user_failures: int = 0, so_failures: int = 0) -> str:
    return (f"user_pin_sha256 {user_hash}\nso_pin_sha256 {so_hash}\n"
            f"user_failures {user_failures}\nso_failures {so_failures}\n")


def add_token(state_dir: Path, label: str, serial: str, pin: PinBuffer | str, so_pin: PinBuffer | str,
              keys: Sequence[TokenKey] = (), *, family: str = "vendor8000",
              manufacturer: str = "zhenglian", model: str = "sm2token", max_tries: int = 10,
              min_pin_len: int = 4, max_pin_len: int = 32, sign_delay_ms: int = 0,
              login_delay_ms: int = 0, ca_certs: Sequence[bytes] = (),
              data_objects: Sequence[tuple[str, str, bytes]] = ()) -> Path:
    """Write a new token into ``state_dir``; returns its directory.

    ``ca_certs`` (DER) are stored as certificates without a key (CKA_ID
    ``ca01``, ``ca02`` …), as real keys carry their issuing CA certificate.
    ``data_objects``: (label, application, value) public data objects, e.g. a
    GB/T 38540 SESeal (application ``"GB/T 38540 SESeal"``) beside the certificate.

    The token appears to a process at its next ``C_Initialize``.  The
    directory is built aside and renamed into place, so a module never reads
    a half-written token.  Raises ``FileExistsError`` if the serial is taken.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
    if not _SERIAL.match(serial):
        raise ValueError("serial: 1-16 characters of A-Z a-z 0-9 . _ -")
    if not 1 <= max_tries <= 255 or not 1 <= min_pin_len <= max_pin_len <= 255:
        raise ValueError("max_tries 1..255, 1 <= min_pin_len <= max_pin_len <= 255")
    if not 0 <= sign_delay_ms <= 600000 or not 0 <= login_delay_ms <= 600000:
        raise ValueError("delays: 0..600000 ms")
    if 3 * len(keys) + len(ca_certs) + len(data_objects) > 64:
        raise ValueError("at most 64 objects on one token (3 per key, 1 per CA certificate)")
    lines = ["# sm2token: written by zhenglian.reference.sm2token", "[token]",
             f"label = {_field('label', label, 32)}", f"serial = {serial}",
             f"manufacturer = {_field('manufacturer', manufacturer, 32)}",
             f"model = {_field('model', model, 16)}", f"family = {family}",
             f"max_tries = {max_tries}", f"min_pin_len = {min_pin_len}", f"max_pin_len = {max_pin_len}",
             f"sign_delay_ms = {sign_delay_ms}", f"login_delay_ms = {login_delay_ms}"]
    files: dict[str, bytes] = {}
    for key in keys:
        if not 1 <= len(key.cka_id) <= 64:
            raise ValueError("cka_id: 1..64 bytes")
        hex_id = key.cka_id.hex()
        label_line = f"label = {_field('key label', key.label, 127)}"
        if f"key-{hex_id}.pem" in files:
            raise ValueError(f"two keys with CKA_ID {hex_id}")
        if b"PRIVATE KEY-----" not in key.key_pem:
            raise ValueError("key_pem: a PEM private key (PKCS#8)")
        files[f"key-{hex_id}.pem"] = key.key_pem
        lines += ["", "[private_key]", f"id = {hex_id}", label_line, f"file = key-{hex_id}.pem"]
        if key.cert_der is not None:
            files[f"cert-{hex_id}.der"] = key.cert_der
            lines += ["", "[certificate]", f"id = {hex_id}", label_line, f"file = cert-{hex_id}.der"]
    for n, der in enumerate(ca_certs, 1):
        hex_id = f"ca{n:02x}"
        files[f"cert-{hex_id}.der"] = bytes(der)
        lines += ["", "[certificate]", f"id = {hex_id}", "label = CA", f"file = cert-{hex_id}.der"]
    for n, (label, application, value) in enumerate(data_objects, 1):
        if not 0 < len(value) <= 1024 * 1024:
            raise ValueError("data object value: 1 byte .. 1 MiB")
        files[f"data-{n:02d}.bin"] = bytes(value)
        lines += ["", "[data]", f"label = {_field('data label', label, 127)}",
                  f"application = {_field('application', application, 127)}", f"file = data-{n:02d}.bin"]

    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    final = token_dir(state_dir, serial)
    if final.exists():
        raise FileExistsError(str(final))
    tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=state_dir))
    try:
        os.chmod(tmp, 0o700)
        (tmp / "token.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp / "state").write_text(_state_text(pin_hash(serial, pin), pin_hash(serial, so_pin)))
        for name, data in files.items():
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_counters(state_dir: Path, serial: str) -> tuple[int, int]:
    """(wrong user PINs, wrong SO PINs) in a row, as the module last wrote them."""
    values = dict(line.split(" ", 1) for line in
                  (token_dir(state_dir, serial) / "state").read_text().splitlines() if line)
    return int(values["user_failures"]), int(values["so_failures"])
