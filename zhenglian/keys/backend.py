"""The narrow interface of a key library: what the layers above may ask of it.

:class:`zhenglian.tokens.module.Pkcs11Module` is the PKCS#11 implementation.
The interface is kept small and plain (serials, bytes, ints — no python-pkcs11
objects cross it except the opaque session) so that a backend can later live
in a separate key-host process: vendor drivers crash, and some Windows SKF DLLs
are 32-bit only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.model import KeyCert

if TYPE_CHECKING:
    from asn1crypto import keys

    from zhenglian.keys.handle import KeyHandle

Signer = Callable[[bytes], bytes]


class KeyOps(Protocol):
    """What an online renewal asks of a key, on a logged-in read-write session.

    ``cka_id`` names a key pair: the PKCS#11 CKA_ID, the SKF container name.
    One renewal (``lifecycle.renew``) drives every backend through this.
    """

    def can_make_pair(self, session: Any, old_id: bytes, key_type: str) -> bool:
        """Can a new key pair replace the one of ``old_id`` (else the CA re-certifies it)?"""
        ...

    def has_private_key(self, session: Any, cka_id: bytes) -> bool: ...

    def public_key_info(self, session: Any, cka_id: bytes) -> keys.PublicKeyInfo | None: ...

    def signer(self, session: Any, cka_id: bytes) -> Signer:
        """sign(data) with that key pair, as a certificate or CMS carries it (DER for SM2)."""
        ...

    def pending_pairs(self, session: Any, keep: bytes) -> list[bytes]:
        """Key pairs an interrupted renewal left, never ``keep`` (the current signing pair)."""
        ...

    def destroy_pair(self, session: Any, cka_id: bytes) -> None: ...

    def generate_like(self, session: Any, key_type: str, bits: int) -> tuple[bytes, keys.PublicKeyInfo]:
        """A new signing key pair on the key, marked pending; returns (cka_id, public key)."""
        ...

    def store_certificate(self, session: Any, der: bytes, cka_id: bytes, label: str,
                          replaces: bytes) -> Callable[[], object]:
        """Write the certificate beside its key pair; returns the undo."""
        ...

    def adopt_pair(self, session: Any, cka_id: bytes, label: str) -> None:
        """The new pair is no longer pending: it is the signing key now."""
        ...

    def remove_old(self, session: Any, old_der: bytes, old_id: bytes, new_id: bytes) -> None:
        """Remove the old certificate (and the old key pair when a new one replaced it)."""
        ...

    def certificate_present(self, session: Any, der: bytes) -> bool: ...


class KeyBackend(Protocol):
    """One loaded key library (a PKCS#11 module, an SKF DLL)."""

    kind: str  # "pkcs11" | "skf"
    path: Path
    lock: threading.RLock  # every call into the library holds it

    def load(self) -> None: ...

    def present_tokens(self) -> list[tuple[int, Any]]: ...

    def find_token(self, serial: str) -> tuple[int, Any]: ...

    def session(self, serial: str, rw: bool = False) -> AbstractContextManager[Any]: ...

    def read_certificates(self, session: Any) -> list[KeyCert]: ...

    def flags(self, serial: str) -> TokenFlags: ...

    def tries_left(self, serial: str, so: bool = False) -> int | None:
        """The exact tries left where the key says so (SKF), else None (PKCS#11: flags only)."""
        ...

    def pin_length_range(self, serial: str) -> tuple[int, int] | None: ...

    # PIN calls take wipeable buffers and return PKCS#11 CKR codes (an SKF backend maps its
    # SAR codes onto them), so the PIN rules in tokens.pin stay one code path.
    def login(self, session: Any, user_type: int, pin: bytearray | None) -> int: ...

    def logout(self, session: Any) -> int: ...

    def set_pin(self, session: Any, old: bytearray, new: bytearray) -> int: ...

    def init_pin(self, session: Any, new: bytearray) -> int: ...

    def mechanisms(self, serial: str) -> list[int]: ...

    def sign_raw(self, session: Any, cka_id: bytes, mechanism: int, data: bytes) -> bytes: ...

    def key_ops(self, handle: KeyHandle) -> KeyOps:
        """The renewal's key work for this key; RenewalUnsupportedBackend (before any PIN) when the
        library cannot make key pairs or write certificates."""
        ...

