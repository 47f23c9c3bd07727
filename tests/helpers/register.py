"""Seal-use register helpers for tests: sample entries, filled registers, writer processes.

Registered in tests/conftest.py through ``pytest_plugins``; test modules
import only the plain helpers (``make_use``, ``start_writer``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from zhenglian.register import Placement, Register, SealUse

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).resolve().parent.parent / "register_writer.py"
SEALS = (("东莞示例有限公司合同专用章", "合同专用章", "seal-1"), ("东莞示例有限公司", "公章", "seal-2"))
KEYS = ("SZCA-0001", "GDCA-0002")
OUTCOME_CYCLE = ("signed", "signed", "signed", "refused", "cancelled", "failed")


def make_use(i: int, *, when: datetime | None = None, output_path: str = "") -> SealUse:
    """A varied, realistic entry: seal, key and outcome cycle with ``i``; one day apart from 2026-11-01."""
    when = when or datetime(2026, 11, 1, 1, 30, tzinfo=UTC) + timedelta(days=i % 28, minutes=i)
    seal_name, seal_type, seal_id = SEALS[i % 2]
    outcome = OUTCOME_CYCLE[i % len(OUTCOME_CYCLE)]
    signed = outcome == "signed"
    return SealUse(
        outcome=outcome,
        origin=("task", "web", "local")[i % 3],
        document_name=f"缴存基数调整申请表-{i:04d}.pdf",
        time_utc=when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        time_local=when.astimezone().isoformat(timespec="seconds"),
        os_user="operator",
        key_ca=("SZCA", "GDCA")[i % 2],
        key_serial=KEYS[i % 2],
        cert_serial=f"{0x1F00 + i:x}",
        cert_subject="CN=东莞示例有限公司,O=东莞示例有限公司",
        cert_uscc="91441900MA4UXXXX1X",
        organization="东莞示例有限公司",
        seal_name=seal_name,
        seal_type=seal_type,
        seal_id=seal_id,
        document_size=10_000 + i,
        input_sha256=hashlib.sha256(f"in{i}".encode()).hexdigest(),
        output_sha256=hashlib.sha256(f"out{i}".encode()).hexdigest() if signed else "",
        page_count=3,
        placements=(Placement(2, 120.0, 200.5, 42.0, 42.0),) if signed else (),
        server="https://gjj.example.cn" if i % 3 == 0 else "",
        task_id=f"T{i}" if i % 3 == 0 else "",
        web_origin="https://gjj.example.cn" if i % 3 == 1 else "",
        local_path=f"/home/operator/{i}.pdf" if i % 3 == 2 else "",
        output_path=output_path,
        error_code="" if signed else {"refused": "document_locked", "cancelled": "cancelled",
                                      "failed": "signing_failed"}[outcome],
    )


@pytest.fixture
def register_path(tmp_path: Path) -> Path:
    return tmp_path / "register.sqlite3"


@pytest.fixture
def filled_register(register_path: Path) -> Path:
    """A register of 30 varied entries (closed again: tests open it as they need)."""
    with Register.open(register_path) as reg:
        for i in range(30):
            reg.record(make_use(i))
    return register_path


def start_writer(db: Path, count: int, tag: str, out_dir: Path | None = None) -> subprocess.Popen[str]:
    """A real second process appending ``count`` entries (see register_writer.py for its protocol)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, str(WRITER), str(db), str(count), tag]
    if out_dir is not None:
        args.append(str(out_dir))
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"  # waits on the child's state, not on time
    return proc
