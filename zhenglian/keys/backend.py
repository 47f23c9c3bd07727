"""The narrow interface of a key library: what the layers above may ask of it.

:class:`zhenglian.tokens.module.Pkcs11Module` is the PKCS#11 implementation.
The interface is kept small and plain (serials, bytes, ints — no python-pkcs11
objects cross it except the opaque session) so that a backend can later live
in a separate key-host process: vendor drivers crash, and some Windows SKF DLLs
are 32-bit only.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.model import KeyCert


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

