"""``zhenglian tasks list|sync|sign`` as a user runs it (child process, real server)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers.server import RunningServer  # noqa: F401
from helpers.tasks import SZCA

from zhenglian.errors import ExitCode


def _env(tmp_path: Path) -> dict[str, str]:
    home = Path(os.environ["ZHENGLIAN_HOME"]) / f"cli-{tmp_path.name}"
    home.mkdir(exist_ok=True)
    return {"ZHENGLIAN_HOME": str(home)}


def test_list_sign_and_sync(reference_server, demo_keys, run_cli, tmp_path: Path, file_keyring) -> None:  # noqa: F811
    server: RunningServer = reference_server
    ids = server.add_tasks(SZCA.uscc, SZCA.organization, 3, kinds=("贷款合同",))
    env = _env(tmp_path)
    base = ("--server", server.url, "--key", SZCA.label)
    listed = run_cli("tasks", "list", *base, "--pin-stdin", input=f"{SZCA.user_pin}\n", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "3 个任务" in listed.stdout and "甲方（盖章）" in listed.stdout
    assert SZCA.user_pin not in listed.stdout + listed.stderr
    # The login went to the (file) keyring: the next command needs no PIN at all.
    again = run_cli("tasks", "list", *base, "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert sorted(t["id"] for t in json.loads(again.stdout)["tasks"]) == sorted(ids)
    signed = run_cli("tasks", "sign", ids[0], *base, "--pin-stdin", input=f"{SZCA.user_pin}\n", env=env)
    assert signed.returncode == 0, signed.stderr
    assert "已签署并上传 1 个" in signed.stdout and "[1/1]" in signed.stdout
    rest = run_cli("tasks", "sign", "--all", *base, "--pin-stdin", "--json", input=f"{SZCA.user_pin}\n", env=env)
    assert rest.returncode == 0, rest.stderr
    result = json.loads(rest.stdout)
    assert sorted(t["task_id"] for t in result["tasks"]) == sorted(ids[1:])
    assert {t["state"] for t in result["tasks"]} == {"uploaded"}
    synced = run_cli("tasks", "sync", *base, env=env)
    assert synced.returncode == 0 and "待签署任务 / pending tasks: 0" in synced.stdout
    assert server.uploads_per_task() == {i: 1 for i in ids}


def test_cli_errors_are_clear(reference_server, demo_keys, run_cli, tmp_path: Path) -> None:  # noqa: F811
    env = _env(tmp_path)
    none = run_cli("tasks", "list", "--key", SZCA.label, env=env)
    assert none.returncode == ExitCode.SERVER and "未设置签署服务器地址" in none.stderr
    insecure = run_cli("tasks", "list", "--server", "http://sign.example.org", "--key", SZCA.label, env=env)
    assert insecure.returncode == ExitCode.SERVER and "HTTPS" in insecure.stderr
    both = run_cli("tasks", "sign", "x", "--all", "--server", reference_server.url, "--key", SZCA.label, env=env)
    assert both.returncode == ExitCode.USAGE
    wrong = run_cli("tasks", "list", "--server", reference_server.url, "--key", SZCA.label, "--pin-stdin",
                    input="Wrong@PIN1\n", env=dict(env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"))
    assert wrong.returncode == ExitCode.WRONG_PIN and "PIN" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    unknown = run_cli("tasks", "sign", "no-such-task", "--server", reference_server.url, "--key", SZCA.label,
                      "--pin-stdin", input=f"{SZCA.user_pin}\n",
                      env=dict(env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"))
    assert unknown.returncode == ExitCode.SERVER and "任务不存在" in unknown.stdout
    down = run_cli("tasks", "sync", "--server", "http://127.0.0.1:9", "--key", SZCA.label, "--pin-stdin",
                   input=f"{SZCA.user_pin}\n", env=dict(env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"))
    assert down.returncode == ExitCode.SERVER and "无法连接签署服务器" in down.stderr


def test_sign_checks_the_key_before_the_pin(reference_server, make_key, run_cli) -> None:  # noqa: F811
    """Locked: refused without reading a PIN; final try: refused unless confirmed; then signed."""
    from zhenglian.tokens import pincounter

    server: RunningServer = reference_server
    key = make_key(SZCA)  # the same institution, its own serial (and PIN counter)
    tid = server.add_tasks(SZCA.uscc, SZCA.organization, 1, kinds=("贷款合同",))[0]
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}  # no stored login
    args = ("tasks", "sign", tid, "--server", server.url, "--key", key.serial, "--pin-stdin")
    try:
        pincounter.record_locked(key.serial, 10)
        locked = run_cli(*args, input="", env=env)  # no PIN line: a locked key must not ask
        assert locked.returncode == ExitCode.PIN_LOCKED, locked.stderr
        assert "Traceback" not in locked.stderr
        pincounter.reset(key.serial)
        for _ in range(9):
            pincounter.record_failure(key.serial)
        final = run_cli(*args, input=f"{SZCA.user_pin}\n", env=env)
        assert final.returncode == ExitCode.CANCELLED, final.stderr
        assert "最后一次" in final.stderr
        assert server.store.task(tid).status == "pending"
        assert pincounter.failures(key.serial) == 9  # no try spent
        done = run_cli(*args, "--confirm-final-try", input=f"{SZCA.user_pin}\n", env=env)
        assert done.returncode == 0, done.stderr
        assert SZCA.user_pin not in done.stdout + done.stderr
        assert server.uploads_per_task().get(tid) == 1
        assert pincounter.failures(key.serial) == 0
    finally:
        pincounter.reset(key.serial)


def test_tasks_sign_refuses_the_factory_pin(reference_server, demo_keys, run_cli, tmp_path: Path) -> None:  # noqa: F811
    """`zhenglian tasks sign` with NETCA's factory PIN: refused before the key, the server untouched,
    and the message names the command that changes it."""
    from zhenglian.reference.provision import DEMO_KEYS

    netca = DEMO_KEYS[0]
    server: RunningServer = reference_server
    tid = server.add_tasks(netca.uscc, netca.organization, 1)[0]
    env = dict(_env(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")  # no stored login
    res = run_cli("tasks", "sign", tid, "--server", server.url, "--key", netca.label, "--pin-stdin",
                  input=f"{netca.user_pin}\n", env=env)
    assert res.returncode == ExitCode.PIN_POLICY, res.stderr
    out = res.stdout + res.stderr
    assert "出厂初始 PIN" in out and "zhenglian pin change" in out and "Traceback" not in out
    assert server.store.task(tid).status == "pending" and server.uploads_per_task() == {}
