"""``zhenglian pin`` end to end in child processes: the real lockout, on the proxy and on SoftHSM.

On the lock proxy the key itself counts and locks (COUNT_LOW, FINAL_TRY at
the ninth wrong PIN, LOCKED at the tenth), through the code path a vendor
DLL takes.  On plain SoftHSM the key never locks and only sets COUNT_LOW:
the client's own counter must give the same warnings and lock the client
side after ten wrong PINs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_pin_support as support
from test_pin_support import GOOD, NEW, SO, WRONG, Cli, netca_spec

from zhenglian.errors import ExitCode
from zhenglian.reference import provision

lockproxy = support.lockproxy  # fixture


@pytest.fixture(params=["proxy", "softhsm"])
def cli(request: pytest.FixtureRequest) -> Cli:
    if request.param == "proxy":
        return Cli("proxy", request.getfixturevalue("lockproxy"))
    return Cli("softhsm", None)


def status(cli: Cli, serial: str) -> dict:
    r = cli("pin", "status", "--key", serial, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def verify(cli: Cli, serial: str, pin: str, *extra: str):
    return cli("pin", "verify", "--key", serial, "--pin-stdin", *extra, input=pin + "\n")


def test_ten_wrong_pins_lock_then_so_unlock(cli: Cli, make_key, tmp_path: Path) -> None:
    serial = make_key(netca_spec()).serial
    st = status(cli, serial)
    assert st["ca"] == "netca"
    assert st["user_pin"]["tries_left"] == 10 and not st["user_pin"]["locked"]
    assert st["initial_pin"] is None  # cannot be known without trying: not guessed

    for i in range(1, 10):
        r = verify(cli, serial, WRONG)
        assert r.returncode == ExitCode.WRONG_PIN, r.stderr
        assert f"还可尝试 {10 - i} 次" in r.stderr  # "最多" while the count is ours
        assert f"{10 - i} tries left" in r.stderr
        assert "Traceback" not in r.stderr
        st = status(cli, serial)["user_pin"]
        assert st["tries_left"] == 10 - i
        if cli.backend == "proxy":  # the key itself: COUNT_LOW, then FINAL_TRY at the last
            assert st["flags"]["pin_state"] == ("final_try" if i == 9 else "count_low")
        else:  # SoftHSM shows only COUNT_LOW; our counter knows the rest
            assert st["flags"]["pin_state"] == "count_low"
    assert st["final_try"] is True

    # The status before entry says so, in words.
    r = cli("pin", "status", "--key", serial)
    assert "还可尝试 1 次" in r.stdout and "最后一次" in r.stdout

    # The tenth: refused without confirmation, the PIN is not even read.
    r, consumed = cli.with_stdin_file("pin", "verify", "--key", serial, "--pin-stdin",
                                      data=(WRONG + "\n").encode(), tmp=tmp_path)
    assert r.returncode == ExitCode.CANCELLED
    assert "最后一次" in r.stderr.decode()
    assert consumed == 0
    assert status(cli, serial)["user_pin"]["tries_left"] == 1

    # Confirmed: the tenth wrong PIN locks.
    r = verify(cli, serial, WRONG, "--confirm-final-try")
    assert r.returncode == ExitCode.PIN_LOCKED, r.stderr
    assert "已锁定" in r.stderr
    # The CA's unlock route from the manifest: form, counter address, hours, hotline.
    for part in ("解锁", "东城西路92号", "8:30", "400-830-1330", "Only the CA can unlock it"):
        assert part in r.stderr
    st = status(cli, serial)
    assert st["user_pin"]["locked"] and st["user_pin"]["tries_left"] == 0
    assert "400-830-1330" in st["unlock"]["route_zh"]

    # Locked: no PIN read at all (even the right one), no C_Login (the proxy's counter file unchanged).
    before = cli.proxy.state(serial) if cli.proxy else None
    r, consumed = cli.with_stdin_file("pin", "verify", "--key", serial, "--pin-stdin", "--confirm-final-try",
                                      data=(GOOD + "\n").encode(), tmp=tmp_path)
    assert r.returncode == ExitCode.PIN_LOCKED
    assert consumed == 0
    if cli.proxy:
        assert before is not None and "user_failures 10" in before
        assert cli.proxy.state(serial) == before
    # Change is refused the same way.
    r, consumed = cli.with_stdin_file("pin", "change", "--key", serial, "--pin-stdin",
                                      data=f"{GOOD}\n{NEW}\n{NEW}\n".encode(), tmp=tmp_path)
    assert r.returncode == ExitCode.PIN_LOCKED and consumed == 0

    # SO unlock: SO PIN, new PIN twice.  A weak new PIN is refused first, costing nothing.
    r = cli("pin", "unlock", "--key", serial, "--pin-stdin", input=f"{SO}\n12345678\n12345678\n")
    assert r.returncode == ExitCode.PIN_POLICY, r.stderr
    assert "不计入错误次数" in r.stderr
    r = cli("pin", "unlock", "--key", serial, "--pin-stdin", input=f"{SO}\n{NEW}\n{NEW}\n")
    assert r.returncode == 0, r.stderr
    st = status(cli, serial)["user_pin"]
    assert st["tries_left"] == 10 and not st["locked"] and st["flags"]["pin_state"] == "ok"

    # Working again, with the new PIN; the old one is gone.
    assert verify(cli, serial, NEW).returncode == 0
    r = verify(cli, serial, GOOD)
    assert r.returncode == ExitCode.WRONG_PIN and "还可尝试 9 次" in r.stderr
    assert verify(cli, serial, NEW).returncode == 0
    assert status(cli, serial)["user_pin"]["tries_left"] == 10


def test_pin_outside_key_limits_costs_no_try(cli: Cli, make_key) -> None:
    serial = make_key(netca_spec()).serial
    before = cli.proxy.state(serial) if cli.proxy else None
    for bad in ("12", "x" * 17, "密码密码密码密码"):  # NETCA keys: 6–16 ASCII characters
        r = verify(cli, serial, bad)
        assert r.returncode == ExitCode.PIN_POLICY, r.stderr
        assert "未提交到 UKey" in r.stderr
    st = status(cli, serial)["user_pin"]
    assert st["tries_left"] == 10 and st["flags"]["pin_state"] == "ok"
    if cli.proxy:
        assert cli.proxy.state(serial) == before


def test_change_pin_policy_wrong_old_counts(cli: Cli, make_key) -> None:
    serial = make_key(netca_spec()).serial

    def change(old: str, new: str, repeat: str | None = None):
        return cli("pin", "change", "--key", serial, "--pin-stdin", input=f"{old}\n{new}\n{repeat or new}\n")

    # Rules first, before anything reaches the key: none of these costs a try.
    for new, why in (("Sh@1abc", "至少 8 位"), ("alllowercase1@", "大写"), ("NoDigits@@aa", "数字"),
                     ("NoSpecial123a", "特殊字符"), (GOOD, "与旧 PIN 不同"), ("aaaaaaaaaaa", "同一字符")):
        r = change(GOOD, new)
        assert r.returncode == ExitCode.PIN_POLICY, (new, r.stderr)
        if why:
            assert why in r.stderr
    r = change(GOOD, NEW, NEW + "x")
    assert r.returncode == ExitCode.PIN_POLICY and "两次输入一致" in r.stderr
    assert status(cli, serial)["user_pin"]["tries_left"] == 10

    # A wrong old PIN counts as a try and is shown as one.
    r = change(WRONG, NEW)
    assert r.returncode == ExitCode.WRONG_PIN and "还可尝试 9 次" in r.stderr
    assert status(cli, serial)["user_pin"]["tries_left"] == 9

    r = change(GOOD, NEW)
    assert r.returncode == 0, r.stderr
    assert "PIN 已修改" in r.stdout
    assert status(cli, serial)["user_pin"]["tries_left"] == 10
    assert verify(cli, serial, NEW).returncode == 0
    assert verify(cli, serial, GOOD).returncode == ExitCode.WRONG_PIN


def test_factory_pin_leads_to_change_it_now(cli: Cli, make_key) -> None:
    serial = make_key(provision.DEMO_KEYS[0]).serial  # NETCA's factory PIN 12345678
    r = verify(cli, serial, "12345678")
    assert r.returncode == ExitCode.PIN_POLICY
    assert "出厂初始 PIN，请立即修改" in r.stderr and "change it now" in r.stderr
    assert "zhenglian pin change" in r.stderr
    # The new PIN may not be the factory PIN again.
    r = cli("pin", "change", "--key", serial, "--pin-stdin", input="12345678\n12345678\n12345678\n")
    assert r.returncode == ExitCode.PIN_POLICY and "出厂初始 PIN" in r.stderr
    r = cli("pin", "change", "--key", serial, "--pin-stdin", input=f"12345678\n{NEW}\n{NEW}\n")
    assert r.returncode == 0, r.stderr
    assert verify(cli, serial, NEW).returncode == 0


def test_wrong_so_pin_counts_separately(cli: Cli, make_key) -> None:
    serial = make_key(netca_spec()).serial
    r = cli("pin", "unlock", "--key", serial, "--pin-stdin", input=f"Wrong@So2026\n{NEW}\n{NEW}\n")
    assert r.returncode == ExitCode.WRONG_PIN, r.stderr
    assert "管理员 PIN（SO PIN）错误，还可尝试 9 次" in r.stderr
    st = status(cli, serial)
    assert st["so_pin"]["tries_left"] == 9 and st["user_pin"]["tries_left"] == 10
    assert verify(cli, serial, GOOD).returncode == 0  # the user PIN was not touched


def test_no_key_exit_code_and_json_error(cli: Cli) -> None:
    r = cli("pin", "verify", "--key", "NOSUCHSERIAL", "--pin-stdin", input="whatever\n")
    assert r.returncode == ExitCode.NO_KEY
    assert "未检测到 UKey" in r.stderr


def test_missing_stdin_line_is_a_usage_error(make_key, run_cli) -> None:
    serial = make_key(netca_spec()).serial
    r = run_cli("pin", "change", "--key", serial, "--pin-stdin", input=f"{GOOD}\n{NEW}\n")
    assert r.returncode == ExitCode.USAGE
    assert "标准输入" in r.stderr
    r = run_cli("pin", "verify", "--key", serial, input=f"{GOOD}\n")  # no terminal, no --pin-stdin
    assert r.returncode == ExitCode.USAGE and "--pin-stdin" in r.stderr


def test_verify_json(make_key, run_cli) -> None:
    serial = make_key(netca_spec()).serial
    r = run_cli("pin", "verify", "--key", serial, "--pin-stdin", "--json", input=WRONG + "\n")
    assert r.returncode == ExitCode.WRONG_PIN
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["error"] == "wrong_pin" and d["status"]["tries_left"] == 9
    assert WRONG not in r.stdout + r.stderr
    r = run_cli("pin", "verify", "--key", serial, "--pin-stdin", "--json", input=GOOD + "\n")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["initial_pin"] is False and d["status"]["tries_left"] == 10
