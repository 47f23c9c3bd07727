"""The PIN core in this process: status arithmetic, counter, policy, buffer, cache, sessions."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import pytest
from helpers.pins import GOOD, NEW, SO, WRONG, Cli, find, netca_spec

from zhenglian import errors, paths
from zhenglian.errors import ExitCode
from zhenglian.keys.handle import KeyHandle
from zhenglian.manifest import PinPolicy
from zhenglian.tokens import pin, pincounter, pinpolicy
from zhenglian.tokens.flags import (
    CKF_PROTECTED_AUTHENTICATION_PATH,
    CKF_SO_PIN_FINAL_TRY,
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_LOCKED,
    TokenFlags,
)
from zhenglian.tokens.pincache import PinCache
from zhenglian.tokens.secret import PinBuffer
from zhenglian.tokens.watcher import KeyEvent


def st(flags: int = 0, failures: int = 0, reports: str | None = None, so: bool = False, max_tries: int = 10):
    return pin.PinStatus("S", so, TokenFlags(flags), failures, max_tries, reports)


# --- PinStatus: flags and counter combined -----------------------------------

def test_counter_alone_when_the_key_reports_nothing() -> None:
    assert st().tries_left == 10 and st().exact
    assert st(failures=3).tries_left == 7
    assert st(failures=9).final_try and st(failures=9).tries_left == 1
    assert st(failures=10).locked and st(failures=10).tries_left == 0


def test_count_low_only_keys_still_get_final_try_and_lock_from_our_counter() -> None:
    # SoftHSM and some vendor drivers set only COUNT_LOW, never FINAL_TRY/LOCKED.
    assert st(CKF_USER_PIN_COUNT_LOW, 9, "low").final_try
    assert st(CKF_USER_PIN_COUNT_LOW, 10, "low").locked
    # COUNT_LOW with no count of ours: at least one wrong try somewhere else; an estimate.
    s = st(CKF_USER_PIN_COUNT_LOW, 0)
    assert s.tries_left == 9 and not s.exact
    assert "约" in s.describe_zh() and "about" in s.describe_en()


def test_flags_win_when_they_disagree() -> None:
    assert st(CKF_USER_PIN_LOCKED, 0).locked  # locked elsewhere
    assert st(CKF_USER_PIN_FINAL_TRY, 0).final_try  # 9 wrong tries in another program
    assert st(CKF_USER_PIN_FINAL_TRY, 12).tries_left == 1  # the key says one is left
    # Key known to report FINAL_TRY shows only COUNT_LOW: at least 2 left, whatever we counted.
    s = st(CKF_USER_PIN_COUNT_LOW, 9, "full")
    assert s.tries_left == 2 and not s.final_try and not s.exact
    # Key known to report failures shows none: reset elsewhere (e.g. unlocked at the CA).
    for rep in ("low", "full"):
        s = st(0, 10, rep)
        assert s.stale and not s.locked and s.tries_left == 10
    # A key never seen to report anything: our count stands.
    assert st(0, 10, "none").locked and st(0, 10, None).locked


def test_so_status_reads_so_flags() -> None:
    s = st(CKF_SO_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED, so=True)
    assert s.final_try and not s.locked
    assert "管理员" in s.describe_zh()


def test_pinpad_flag() -> None:
    assert st(CKF_PROTECTED_AUTHENTICATION_PATH).pinpad


# --- counter file -------------------------------------------------------------

def test_counter_is_atomic_json_and_survives_a_damaged_file() -> None:
    serial = f"CNT{os.getpid()}"
    assert pincounter.record_failure(serial) == 1
    assert pincounter.record_failure(serial) == 2
    assert pincounter.failures(serial) == 2 and pincounter.failures(serial, so=True) == 0
    f = paths.data_dir() / "pin-tries.json"
    assert json.loads(f.read_text())[f"user:{serial}"] == 2
    assert pincounter.learn(serial, CKF_USER_PIN_COUNT_LOW) == "low"
    assert pincounter.learn(serial, 0) == "low"  # never goes down
    assert pincounter.learn(serial, CKF_USER_PIN_LOCKED) == "full"
    pincounter.reset(serial)
    assert pincounter.failures(serial) == 0
    saved = f.read_bytes()
    try:
        f.write_text("{not json")
        assert pincounter.failures(serial) == 0
        assert pincounter.record_failure(serial) == 1  # rewritten whole
        assert json.loads(f.read_text()) == {f"user:{serial}": 1}
    finally:
        f.write_bytes(saved)


def test_counter_threads_do_not_lose_counts() -> None:
    serial = f"THR{os.getpid()}"
    threads = [threading.Thread(target=lambda: [pincounter.record_failure(serial) for _ in range(5)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pincounter.failures(serial) == 20
    pincounter.reset(serial)


# --- policy ---------------------------------------------------------------------

def test_new_pin_checklist() -> None:
    policy = PinPolicy(initial="12345678", min_length=6, max_length=16)
    ok = {r.id: r.ok for r in pinpolicy.evaluate_new(NEW, policy, old=GOOD, repeat=NEW)}
    assert all(ok.values()), ok
    bad = {r.id: r.ok for r in pinpolicy.evaluate_new("12345678", policy, old="12345678", repeat="x")}
    assert not bad["upper"] and not bad["lower"] and not bad["special"] and bad["digit"]
    assert not bad["not_sequence"] and not bad["not_initial"] and not bad["not_old"] and not bad["repeat"]
    assert not {r.id: r.ok for r in pinpolicy.evaluate_new("zzzzzzzz", policy)}["not_repeated"]
    with pytest.raises(errors.PinPolicyViolation) as exc:
        pinpolicy.check_entry(PinBuffer("密码"), policy)
    assert "未提交到 UKey" in exc.value.message_zh()


# --- PinBuffer ------------------------------------------------------------------

def test_pin_buffer_never_shows_and_wipes() -> None:
    p = PinBuffer("Secret@123")
    raw = p.buffer
    assert "Secret" not in repr(p) and "Secret" not in str(p) and "Secret" not in f"{p}"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(p)
    assert p.equals(PinBuffer(b"Secret@123")) and not p.equals(PinBuffer("Secret@124"))
    with p:
        pass
    assert p.wiped and raw == bytearray(len("Secret@123"))
    q = PinBuffer("Other@123")
    raw_q = q.buffer
    del q
    gc.collect()
    assert raw_q == bytearray(len("Other@123"))  # wiped when collected


# A PIN line with one GBK byte, decoded the way Python decodes stdin under the C locale
# (surrogateescape): the byte becomes a lone surrogate that UTF-8 cannot encode.
SURROGATE_PIN = "Secr\udca3tQin#42"
PIN_PARTS = ("Secr", "tQin#42")


def _chain(exc: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def _assert_pin_free(exc: BaseException) -> None:
    import traceback

    shown = "".join(traceback.format_exception(exc))
    for e in _chain(exc):
        for text in (str(e), repr(e), repr(e.args), shown):
            assert not any(part in text for part in PIN_PARTS), text
    assert exc.__context__ is None and exc.__cause__ is None


def test_unencodable_pin_is_a_typed_error_without_the_pin() -> None:
    with pytest.raises(errors.PinUnreadable) as exc:
        PinBuffer(SURROGATE_PIN)
    _assert_pin_free(exc.value)
    assert exc.value.exit_code == ExitCode.USAGE
    assert "无法识别" in exc.value.message_zh() and "cannot be read" in exc.value.message_en()


def test_terminal_reader_never_lets_an_undecodable_line_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from zhenglian.cli import cmd_pin

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def undecodable(prompt: str) -> str:  # getpass on a UTF-8 terminal fed a GBK byte
        raise UnicodeDecodeError("utf-8", SURROGATE_PIN.encode("utf-8", "surrogateescape"), 4, 5, "invalid")

    monkeypatch.setattr(cmd_pin.getpass, "getpass", undecodable)
    with pytest.raises(errors.PinUnreadable) as exc:
        cmd_pin.read_pin(False, "PIN", "PIN")
    _assert_pin_free(exc.value)
    monkeypatch.setattr(cmd_pin.getpass, "getpass", lambda prompt: SURROGATE_PIN)  # surrogateescape fallback
    with pytest.raises(errors.PinUnreadable) as exc:
        cmd_pin.read_pin(False, "PIN", "PIN")
    _assert_pin_free(exc.value)


# --- PIN cache ------------------------------------------------------------------

class FakeKey:
    def __init__(self, serial: str) -> None:
        self.serial = serial


def test_cache_keeps_copies_and_forgets_on_batch_end_and_removal() -> None:
    cache = PinCache(idle_s=60)
    p = PinBuffer(GOOD)
    with cache.batch("A"):
        cache.put("A", p)
        p.wipe()  # the caller's own buffer; the cache has its copy
        got = cache.get("A")
        assert got is not None and got.equals(PinBuffer(GOOD))
        got.wipe()
        assert cache.get("A").equals(PinBuffer(GOOD))  # still there: get hands out copies
    assert cache.get("A") is None  # batch over
    cache.put("B", PinBuffer(GOOD))
    cache.on_key_event(KeyEvent("changed", key=FakeKey("B")))  # type: ignore[arg-type]
    assert cache.has("B")
    cache.on_key_event(KeyEvent("removed", key=FakeKey("B")))  # type: ignore[arg-type]
    assert not cache.has("B")
    cache.close()


def test_cache_idle_expiry_wipes_without_being_asked() -> None:
    cache = PinCache(idle_s=0.3)
    cache.put("C", PinBuffer(GOOD))
    kept = cache._entries["C"].pin.buffer  # the cache's own buffer
    time.sleep(0.2)
    cache.get("C").wipe()  # a read restarts the idle time
    time.sleep(0.2)
    assert cache.has("C")  # 0.4 s after put, 0.2 s after the read
    deadline = time.monotonic() + 3
    while kept != bytearray(len(GOOD)) and time.monotonic() < deadline:
        time.sleep(0.05)  # nobody reads: the timer thread wipes it
    assert kept == bytearray(len(GOOD))
    assert len(cache) == 0
    cache.close()


def test_cache_disabled_with_zero_idle_time() -> None:
    cache = PinCache(idle_s=0)
    cache.put("D", PinBuffer(GOOD))
    assert cache.get("D") is None


# --- sessions on a real module, in this process -------------------------------

class Scripted:
    """A PinPrompter that answers from a script and records what it was asked."""

    def __init__(self, *pins: str, confirm: bool = False, keep: bool = False) -> None:
        self.pins = list(pins)
        self.confirm = confirm
        self.keep = keep
        self.asked: list[str] = []

    def keep_pin(self) -> bool:
        return self.keep

    def show_error(self, error) -> None:
        self.asked.append(f"error:{error.code}")

    def locked(self, st, error) -> None:
        self.asked.append("locked")

    def confirm_final_try(self, st) -> bool:
        self.asked.append("confirm")
        return self.confirm

    def ask_pin(self, st):
        self.asked.append(f"pin:{st.tries_left}")
        return PinBuffer(self.pins.pop(0)) if self.pins else None

    def ask_change(self, st, policy):
        self.asked.append("change")
        return tuple(PinBuffer(self.pins.pop(0)) for _ in range(3))

    def ask_unlock(self, st, policy):
        self.asked.append("unlock")
        return tuple(PinBuffer(self.pins.pop(0)) for _ in range(3))

    def pinpad(self, st):
        self.asked.append("pinpad")
        return nullcontext()


@pytest.fixture(params=["proxy", "softhsm"])
def mgr(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_manager")


def private_objects(session) -> int:
    from pkcs11 import Attribute, ObjectClass

    return sum(1 for _ in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))


def test_failed_login_leaves_no_session_open(mgr, make_key) -> None:
    """SoftHSM refuses an SO login (C_InitPIN's route) while any read-only session is open:
    so an SO unlock right after a failed login proves that login left nothing open."""
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    with pytest.raises(errors.WrongPin), pin.user_session(KeyHandle(module, key, manifest), PinBuffer(WRONG)):
        pass
    pin.unlock(KeyHandle(module, key, manifest), PinBuffer(SO), PinBuffer(NEW), PinBuffer(NEW))
    with pin.user_session(KeyHandle(module, key, manifest), PinBuffer(NEW)) as session:
        assert private_objects(session) == 1  # logged in: the private key is visible
    with module.session(serial) as session:
        assert private_objects(session) == 0  # logged out after the block
    pin.unlock(KeyHandle(module, key, manifest), PinBuffer(SO), PinBuffer(NEW + "2"), PinBuffer(NEW + "2"))
    assert pin.status(KeyHandle(module, key, manifest)).tries_left == 10


def test_already_logged_in_never_accepts_an_unchecked_pin(mgr, make_key) -> None:
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    with module.session(serial) as s1:
        assert pin.login(KeyHandle(module, key, manifest), s1, PinBuffer(GOOD)) is False
        # Login state is per application: s2 is logged in too, and C_Login says so unchecked.
        with module.session(serial) as s2, pytest.raises(errors.WrongPin):
            pin.login(KeyHandle(module, key, manifest), s2, PinBuffer(WRONG))
    assert pin.status(KeyHandle(module, key, manifest)).failures == 1


def test_key_pin_length_range_is_read_from_the_key(mgr, make_key) -> None:
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    policy = pin.key_policy(KeyHandle(module, key, manifest))
    assert (policy.min_length, policy.max_length) == (6, 16)  # NETCA manifest within SoftHSM's 4..255
    key_only = pin.key_policy(KeyHandle(module, key, None))
    assert (key_only.min_length, key_only.max_length) == (4, 16)  # default 4..16 within 4..255


def test_interactive_flows_with_a_prompter(mgr, make_key) -> None:
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    cache = PinCache(idle_s=60)
    p = Scripted(GOOD, keep=True)
    with pin.interactive_session(KeyHandle(module, key, manifest), p, cache=cache):
        pass
    assert p.asked == ["pin:10"] and cache.has(serial)
    p2 = Scripted()  # the kept PIN is used: no question
    with pin.interactive_session(KeyHandle(module, key, manifest), p2, cache=cache):
        pass
    assert p2.asked == []
    pin.interactive_change(KeyHandle(module, key, manifest), Scripted(GOOD, NEW, NEW), cache=cache)
    assert not cache.has(serial)  # a changed PIN is forgotten
    # A kept PIN that fails is forgotten at once and never retried.
    cache.put(serial, PinBuffer(GOOD))
    p3 = Scripted()
    with pytest.raises(errors.WrongPin), pin.interactive_session(KeyHandle(module, key, manifest), p3, cache=cache):
        pass
    assert not cache.has(serial) and p3.asked == []
    with pytest.raises(errors.PinCancelled):
        pin.interactive_verify(KeyHandle(module, key, manifest), Scripted())
    assert pin.status(KeyHandle(module, key, manifest)).failures == 1
    cache.close()


def test_locked_flow_never_asks(mgr, make_key) -> None:
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(mgr, serial)
    for _ in range(9):
        with pytest.raises(errors.WrongPin):
            pin.interactive_verify(KeyHandle(module, key, manifest), Scripted(WRONG))
    p = Scripted(WRONG)  # final try, not confirmed
    with pytest.raises(errors.FinalTryNotConfirmed):
        pin.interactive_verify(KeyHandle(module, key, manifest), p)
    assert p.asked == ["confirm"]
    with pytest.raises(errors.PinLocked) as exc:
        pin.interactive_verify(KeyHandle(module, key, manifest), Scripted(WRONG, confirm=True))
    assert "东城西路92号" in exc.value.user_message()
    p = Scripted(GOOD, confirm=True)
    with pytest.raises(errors.PinLocked):
        pin.interactive_verify(KeyHandle(module, key, manifest), p)
    assert p.asked == ["locked"]
    pin.interactive_unlock(KeyHandle(module, key, manifest), Scripted(SO, NEW, NEW))
    assert pin.interactive_verify(KeyHandle(module, key, manifest), Scripted(NEW)) is False


def test_counter_stale_after_unlock_elsewhere_follows_the_key(proxy_manager, make_key, lockproxy) -> None:
    """The CA desk unlocks with its own software: our counter says locked, the key says fine."""
    serial = make_key(netca_spec()).serial
    key, module, manifest = find(proxy_manager, serial)
    for _ in range(3):
        with pytest.raises(errors.WrongPin):
            pin.interactive_verify(KeyHandle(module, key, manifest), Scripted(WRONG))
    assert pincounter.reports(serial) == "low"
    # "Elsewhere": the proxy's own counter is cleared (as C_InitPIN at the CA would).
    (lockproxy.state_dir / f"lockproxy-{serial}.state").unlink()
    pincounter.record_locked(serial, 10)  # and ours says locked
    s = pin.status(KeyHandle(module, key, manifest))
    assert not s.locked and s.tries_left == 10
    assert pincounter.failures(serial) == 0


def test_pinpad_key_is_never_asked_for_a_pin(lockproxy, make_key, tmp_path: Path) -> None:
    serial = make_key(netca_spec()).serial
    cli = Cli("proxy", lockproxy)
    env = {"LOCKPROXY_PINPAD": "1", "LOCKPROXY_PINPAD_PIN": GOOD}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        r, consumed = cli.with_stdin_file("pin", "verify", "--key", serial, "--pin-stdin",
                                          data=b"ignored\n", tmp=tmp_path)
        s = cli("pin", "status", "--key", serial, "--json")
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert r.returncode == 0, r.stderr
    assert consumed == 0
    assert "密码键盘" in r.stderr.decode()
    assert json.loads(s.stdout)["user_pin"]["pinpad"] is True


def test_reset_count_command(make_key, run_cli) -> None:
    serial = make_key(netca_spec()).serial
    pincounter.record_locked(serial, 10)
    r = run_cli("pin", "reset-count", "--key", serial)
    assert r.returncode == 0 and "原为 10" in r.stdout
    assert pincounter.failures(serial) == 0
    assert ExitCode.OK == 0
