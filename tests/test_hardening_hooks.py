"""Issue 15.2: test hooks never act in a shipped build; log redaction is real."""

from __future__ import annotations

import ast
import logging
import os
import sys
from pathlib import Path

import pytest
from helpers.spec import spec_excludes_literal, spec_value

from zhenglian import logsetup
from zhenglian.bridge import protocol, testhook

ROOT = Path(__file__).resolve().parent.parent
HOOK_ENV = {testhook.ENV: "1", testhook.ENV_CONFIRM: "accept", testhook.ENV_PIN_FD: "3"}


def _literal_strings(expr: ast.expr) -> list[str]:
    """Every string in the list displays of ``expr`` (EXCLUDES = [...] + [f"PySide6.{m}" ...])."""
    return [e.value for node in ast.walk(expr) if isinstance(node, ast.List)
            for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def test_build_spec_excludes_the_test_hook_without_building() -> None:
    excludes = spec_value("EXCLUDES")
    assert "zhenglian.bridge.testhook" in _literal_strings(excludes)
    # tests/test_packaging.py reads the first list of EXCLUDES as a literal: keep it one.
    assert "zhenglian.bridge.testhook" in spec_excludes_literal()
    # HIDDEN lists every client module by a filter: it must not pull the hook back in.
    lambdas = [n for n in ast.walk(spec_value("HIDDEN")) if isinstance(n, ast.Lambda)]
    assert lambdas, "HIDDEN filters collect_submodules with a lambda"
    scope = {"EXCLUDES": _literal_strings(excludes)}
    keep = eval(compile(ast.Expression(lambdas[0]), "build.spec", "eval"), scope)  # noqa: S307 - our own spec
    assert not keep("zhenglian.bridge.testhook")
    assert keep("zhenglian.bridge.jobs") and keep("zhenglian.ui.bridge_ui") and keep("zhenglian.tokens.probe")


def test_no_client_module_imports_the_hook_statically() -> None:
    """A static import would fail in the build that leaves the module out."""
    found = []
    for path in (ROOT / "zhenglian").rglob("*.py"):
        if path.name == "testhook.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.endswith("testhook")]
    assert found == []


def test_hooks_work_in_a_source_run() -> None:
    hooks = testhook.from_env(HOOK_ENV)
    assert hooks is not None and hooks.confirm == "accept"


def test_hooks_are_refused_when_frozen(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with caplog.at_level(logging.ERROR):
        assert testhook.from_env(HOOK_ENV) is None
    assert "refused" in caplog.text
    r, w = os.pipe()
    try:
        os.write(w, b"123456\n")
        assert testhook.TestHooks("accept", r).read_pin(timeout_s=1) is None, "no PIN is read when frozen"
    finally:
        os.close(r)
        os.close(w)


def test_tray_bridge_takes_no_hooks_when_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("PySide6")
    from zhenglian.ui import bridge_ui

    for k, v in HOOK_ENV.items():
        monkeypatch.setenv(k, v)
    assert bridge_ui._test_hooks() is not None
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert bridge_ui._test_hooks() is None
    # and a build without the module still starts the bridge
    monkeypatch.delattr(sys, "frozen")
    monkeypatch.setitem(sys.modules, "zhenglian.bridge.testhook", None)
    assert bridge_ui._test_hooks() is None


# --- log redaction ----------------------------------------------------------------


def _formatted(message: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("zhenglian.t", logging.INFO, __file__, 1, message, args,
                               (type(exc), exc, exc.__traceback__) if exc else None)
    return logsetup.RedactingFormatter("%(message)s").format(record)


def test_a_sign_requests_ticket_is_redacted_from_the_log() -> None:
    ticket = "tk_9f8e7d6c5b4a39281706"
    protocol.SignRequest(origin="https://gjj.example", server="https://gjj.example",
                         server_origin="https://gjj.example", task_id="T1", ticket=ticket)
    line = _formatted("redeeming %s for %s", ticket, "T1")
    assert ticket not in line and "T1" in line
    try:
        raise ValueError(f"server refused {ticket}")
    except ValueError as exc:
        line = _formatted("failed", exc=exc)
    assert ticket not in line and "ValueError" in line


def test_credential_shapes_are_redacted_unregistered() -> None:
    line = _formatted("headers %s body %s", {"Authorization": "Bearer eyJhbGciOi.abc.def"},
                      '{"token": "s3cr3t-value", "title": "合同"}')
    assert "eyJhbGciOi" not in line and "s3cr3t-value" not in line
    assert "合同" in line


def test_registry_is_bounded_and_expires() -> None:
    for i in range(logsetup.MAX_SECRETS + 10):
        logsetup.register_secret(f"bounded-secret-{i:05d}")
    assert len(logsetup._secrets) <= logsetup.MAX_SECRETS
    logsetup.register_secret("expires-at-once-123", ttl_s=-1)
    assert "expires-at-once-123" in _formatted("%s", "expires-at-once-123")
    logsetup.register_secret("short")  # too short to redact without eating ordinary words
    assert _formatted("a short word") == "a short word"
