"""Start the REAL reference signing server for tests (reusable: task tests, tray tests).

The server runs as ``python -m zhenglian.reference.server run`` in a child
process on 127.0.0.1 and a free port, with its SQLite database under the
test's tmp directory, so a test can kill it (-9) and start it again on the
same port and data.  Tests reach its state directly through
:class:`zhenglian.reference.server.store.Store` (SQLite in WAL mode is made
for a second process reading and writing).

Use in a test module::

``reference_server`` trusts the demo CA roots and knows the three demo
institutions (no tasks: add them with :meth:`RunningServer.add_tasks`).
``file_keyring`` installs :class:`FileKeyring` as the keyring backend of
the test process (and tells child processes through PYTHON_KEYRING_BACKEND).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def terminate(proc: subprocess.Popen, *, group: bool = False) -> None:  # type: ignore[type-arg]
    """SIGTERM a child still running, then SIGKILL it if it has not ended within 10 s.

    ``group``: the child leads its own session (``start_new_session``); its whole process
    group is signalled (xvfb-run and the X server under it, a compositor's helpers)."""
    def send(sig: int) -> None:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    if proc.poll() is None:
        send(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            proc.wait(5)


@dataclass
class RunningServer:
    data: Path
    port: int
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None
    _store: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- process ----------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> RunningServer:
        self.log_file = self.data / "server.log"
        log = open(self.log_file, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zhenglian.reference.server", "run", "--data", str(self.data),
             "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_file.read_text(errors='replace')[-2000:]}")
            if self.ready():
                return self
            time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def ready(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/api/v1/info", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        self.proc = None

    def kill(self) -> None:
        """kill -9: no shutdown, no flushing, as a crash or a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> RunningServer:
        self.stop()
        return self.start()

    # --- state ------------------------------------------------------------------

    @property
    def store(self) -> Any:
        if self._store is None:
            from zhenglian.reference.server.config import ServerConfig
            from zhenglian.reference.server.store import Store

            self._store = Store(ServerConfig(self.data))
        return self._store

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``zhenglian-server ARGS --data DATA`` (the admin command line)."""
        proc = subprocess.run([sys.executable, "-m", "zhenglian.reference.server", *args, "--data", str(self.data)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"admin {args} failed: {proc.stderr}")
        return proc

    def fault(self, mode: str = "") -> None:
        self.store.set_meta("fault", mode)

    def add_institution(self, uscc: str, name: str) -> None:
        self.store.add_institution(uscc, name)

    def add_tasks(self, uscc: str, organization: str, count: int, *, kinds: Sequence[str] = ("委托扣款授权书",),
                  seal_type: str = "合同专用章", placement: dict[str, Any] | None = None, seed: int = 0) -> list[str]:
        """``count`` pending tasks with generated Chinese documents."""
        from zhenglian.reference.server import docgen

        ids = []
        for i in range(count):
            tpl = docgen.template(kinds[i % len(kinds)])
            pdf = docgen.make_pdf(tpl, organization, uscc, seed=seed * 100000 + i,
                                  font_dir=self.data / "fonts")
            ids.append(self.store.add_task(uscc, f"{tpl.title} #{i + 1}", tpl.business_type, pdf,
                                           f"{tpl.kind}-{i + 1}.pdf", seal_type,
                                           dict(placement if placement is not None else tpl.placement)))
        return ids

    def add_copies(self, uscc: str, organization: str, count: int, *, kind: str = "委托扣款授权书",
                   seal_type: str = "合同专用章", first: int = 1) -> list[str]:
        """``count`` pending tasks sharing one generated document, titled "… #first" onwards: a long
        listing made in a moment (:meth:`add_tasks` generates a PDF for each)."""
        from zhenglian.reference.server import docgen

        tpl = docgen.template(kind)
        pdf = docgen.make_pdf(tpl, organization, uscc, seed=first, font_dir=self.data / "fonts")
        return [self.store.add_task(uscc, f"{tpl.title} #{i}", tpl.business_type, pdf, f"{tpl.kind}-{i}.pdf",
                                    seal_type, dict(tpl.placement)) for i in range(first, first + count)]

    def uploads_per_task(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.store.uploads():
            counts[row["task_id"]] = counts.get(row["task_id"], 0) + 1
        return counts


def start_server(data: Path, *, port: int | None = None, args: Sequence[str] = (), trust_demo: bool = True,
                 institutions: bool = True) -> RunningServer:
    """Make the data directory (demo roots trusted, demo institutions known) and start the server."""
    data.mkdir(parents=True, exist_ok=True)
    server = RunningServer(data, port or free_port(), tuple(args))
    if trust_demo:
        from zhenglian.reference.server.seed import trust_demo_cas

        trust_demo_cas(server.store)
    if institutions:
        from zhenglian.reference.provision import DEMO_KEYS

        for spec in DEMO_KEYS:
            server.add_institution(spec.uscc, spec.organization)
    return server.start()


@pytest.fixture
def reference_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()
        if server._store is not None:
            server._store.close()


# --- a keyring that works headless ----------------------------------------------------------

try:
    from keyring.backend import KeyringBackend
except ImportError:  # pragma: no cover
    KeyringBackend = object  # type: ignore[assignment,misc]


class FileKeyring(KeyringBackend):  # type: ignore[misc,valid-type]
    """A plain JSON file as keyring (tests only!): path from the constructor or $ZHENGLIAN_TEST_KEYRING."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path | str | None = None) -> None:
        super().__init__()
        self.path = Path(path or os.environ.get("ZHENGLIAN_TEST_KEYRING", "keyring.json"))

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self, data: dict[str, str]) -> None:
        self.path.write_text(json.dumps(data), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\n{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        data = self._load()
        if data.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileKeyring]:
    import keyring

    path = tmp_path / "keyring.json"
    previous = keyring.get_keyring()
    backend = FileKeyring(path)
    keyring.set_keyring(backend)
    monkeypatch.setenv("ZHENGLIAN_TEST_KEYRING", str(path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "helpers.server.FileKeyring")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT / "tests"),
                                                                    os.environ.get("PYTHONPATH")])))
    try:
        yield backend
    finally:
        with contextlib.suppress(Exception):
            keyring.set_keyring(previous)
