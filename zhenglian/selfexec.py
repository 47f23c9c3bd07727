"""Run this program again as a short-lived child for one job (standard library only).

Two jobs use it:

- trying a PKCS#11 module before the app loads it (:mod:`zhenglian.tokens.probe`): a
  broken driver crashes the child, not the tray;
- reading the signing-server login from the desktop keyring for the tray app
  (:mod:`zhenglian.server.tokenstore`): on Linux the keyring's Secret Service client
  brings D-Bus code and cryptography (≈ 8 MB) that a tray idling for hours would
  otherwise keep for one read at start-up.

A packaged build runs itself with the job's flag as ``argv[1]``
(``installer/pyinstaller/entry.py`` dispatches on :data:`JOBS`); a source tree or a pip
install runs the job's module with ``python -P -m``.  The child writes one JSON line to
fd 1 (a windowed packaged build may have no ``sys.stdout``, only the pipe).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# argv[1] of a packaged build -> the module whose main(argv) does the job
JOBS = {
    "--probe-pkcs11-module": "zhenglian.tokens.probe",
    "--read-keyring-token": "zhenglian.server.tokenstore",
}


def command(flag: str, *args: str) -> list[str]:
    """The command line that runs job ``flag`` with ``args`` in a child."""
    if getattr(sys, "frozen", False):
        return [sys.executable, flag, *args]
    # -P: the current directory is not put on sys.path (a folder of downloads is no package source).
    return [sys.executable, "-P", "-m", JOBS[flag], *args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):
        # The child finds this package as the parent does (a source checkout, tests).
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def run(flag: str, args: list[str], timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    """Run job ``flag`` in a child and wait for it (output captured, no stdin).

    Raises :class:`subprocess.TimeoutExpired` (the child is killed) and :class:`OSError`."""
    return subprocess.run(command(flag, *args), capture_output=True, timeout=timeout_s, env=environment(),
                          stdin=subprocess.DEVNULL, check=False,
                          # Windows: no console window flashes up when the tray app runs a job
                          creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))


def write_answer(line: str) -> None:
    """The child's answer: one line on fd 1."""
    os.write(1, (line + "\n").encode("utf-8"))


def main_for(flag: str, argv: list[str]) -> int:
    """Run job ``flag`` in this process (a packaged build's entry point calls this)."""
    import importlib

    return int(importlib.import_module(JOBS[flag]).main(argv))
