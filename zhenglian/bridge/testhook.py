"""TEST-ONLY hook: let an end-to-end test answer the bridge's confirmation and PIN.

Active only when the environment has ``ZHENGLIAN_TEST_HOOKS=1``; it is then
logged loudly (a warning at start and at every use) so it cannot go
unnoticed.  Never set it for real use: with it, the tray app answers the
confirmation dialog by itself and types the PIN the test supplies.

A shipped build never has it: ``build.spec`` leaves this module out, and
should it be there anyway, it refuses to act in a frozen (PyInstaller)
process whatever the environment says.

- ``ZHENGLIAN_TEST_CONFIRM=accept|reject`` — the confirmation dialog is
  still built and shown, then its 确认签章 / 取消 button is clicked;
- ``ZHENGLIAN_TEST_PIN_FD=N`` — an inherited pipe; each PIN the client asks
  for is one line read from it and typed into the real PIN dialog.  A pipe,
  not a file, so the test's PIN never touches the disk.
"""

from __future__ import annotations

import logging
import os
import select
import sys
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

ENV = "ZHENGLIAN_TEST_HOOKS"
ENV_CONFIRM = "ZHENGLIAN_TEST_CONFIRM"
ENV_PIN_FD = "ZHENGLIAN_TEST_PIN_FD"
BANNER = ("ZHENGLIAN TEST HOOKS ACTIVE (ZHENGLIAN_TEST_HOOKS=1): bridge confirmations are answered "
          "automatically and PINs are read from the test — for automated tests only, never for real use")


@dataclass(frozen=True)
class TestHooks:
    __test__ = False  # not a pytest test class

    confirm: str | None  # "accept", "reject", or None (ask the user)
    pin_fd: int | None

    def announce(self) -> None:
        log.warning(BANNER)
        print(BANNER, file=sys.stderr, flush=True)

    def read_pin(self, timeout_s: float = 20.0) -> str | None:
        """One line from the PIN pipe (without the newline); None when nothing comes in time."""
        if self.pin_fd is None or frozen():
            return None
        log.warning("TEST HOOK: reading a PIN from fd %d", self.pin_fd)
        data = bytearray()
        while True:
            if sys.platform != "win32":
                ready, _, _ = select.select([self.pin_fd], [], [], timeout_s)
                if not ready:
                    return None
            chunk = os.read(self.pin_fd, 1)
            if not chunk or chunk == b"\n":
                break
            data += chunk
        if not data:
            return None
        text = data.decode("utf-8").rstrip("\r")
        data[:] = b"\0" * len(data)
        return text


def frozen() -> bool:
    """True in a packaged (PyInstaller) build, where test hooks are refused."""
    return bool(getattr(sys, "frozen", False))


def from_env(environ: Mapping[str, str] | None = None) -> TestHooks | None:
    """The hooks asked for by the environment, or None (the normal case, and always when frozen)."""
    env = os.environ if environ is None else environ
    if env.get(ENV) != "1":
        return None
    if frozen():
        log.error("%s=1 ignored: test hooks are refused in a packaged build", ENV)
        return None
    confirm = env.get(ENV_CONFIRM) or None
    if confirm not in (None, "accept", "reject"):
        log.warning("%s=%r ignored (accept or reject)", ENV_CONFIRM, confirm)
        confirm = None
    fd_text = env.get(ENV_PIN_FD, "")
    pin_fd = int(fd_text) if fd_text.isdigit() else None
    return TestHooks(confirm, pin_fd)
