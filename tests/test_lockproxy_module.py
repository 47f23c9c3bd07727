"""The PIN-locking PKCS#11 test proxy (tests/pkcs11_lockproxy) on its own.

SoftHSM2 never locks a PIN; real UKeys lock after 10 wrong tries.  The proxy
forwards to SoftHSM and keeps a real try counter.  These tests drive it with
python-pkcs11 exactly as the client drives a vendor module, and check the
counter, the token flags, the lock, the SO unlock and persistence.

Isolation from other tests in the same pytest process:

* The proxy's target is a *copy* of libsofthsm2.so under a unique path, so
  this module gets its own SoftHSM instance.  Other tests that load the
  real libsofthsm2.so are not finalised or re-initialised by our
  ``lib.reinitialize()`` calls.
* That instance uses a private SoftHSM config and token directory.
  SOFTHSM2_CONF (and the LOCKPROXY_* variables) are set only while our
  instance runs C_Initialize and are restored right after, so whatever
  SOFTHSM2_CONF the rest of the run uses is untouched and none of our
  tokens appear in its token directory.
* Every token gets a unique label (and SoftHSM gives it a unique serial,
  which is what the proxy keys its counters on).

python-pkcs11 quirk: ``Token.open(user_pin=...)`` leaks its session when
C_Login fails, and a leaked read-only session makes a later SO login fail
with SessionReadOnlyExists.  Every failed attempt is therefore followed by
``lib.reinitialize()``, which closes all sessions.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.requires import require

pkcs11 = pytest.importorskip("pkcs11")
from helpers.pins import environ  # noqa: E402
from pkcs11 import KeyType, ObjectClass, TokenFlag  # noqa: E402
from pkcs11.exceptions import PinIncorrect, PinLocked  # noqa: E402

HERE = Path(__file__).resolve().parent
BUILD_SH = HERE / "pkcs11_lockproxy" / "build.sh"
SOFTHSM_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)

USER_PIN = "123456"
SO_PIN = "87654321"
WRONG_PIN = "000000"  # same length as USER_PIN, so it always counts
WRONG_SO_PIN = "00000000"
MAX_TRIES = 10  # the proxy's default, like the real keys

USER_BITS = TokenFlag.USER_PIN_COUNT_LOW | TokenFlag.USER_PIN_FINAL_TRY | TokenFlag.USER_PIN_LOCKED
SO_BITS = TokenFlag.SO_PIN_COUNT_LOW | TokenFlag.SO_PIN_FINAL_TRY | TokenFlag.SO_PIN_LOCKED
NO_FLAGS = TokenFlag(0)

_labels = itertools.count(1)


@dataclass
class Proxy:
    path: Path  # liblockproxy.so
    target: Path  # private copy of libsofthsm2.so
    conf: Path  # private SoftHSM config
    state_dir: Path  # LOCKPROXY_STATE_DIR
    util: str  # softhsm2-util
    lib: Any = None

    def env(self, **extra: str | None) -> dict[str, str | None]:
        """The environment our instance is initialised with (defaults otherwise)."""
        env: dict[str, str | None] = {
            "SOFTHSM2_CONF": str(self.conf),
            "LOCKPROXY_TARGET": str(self.target),
            "LOCKPROXY_STATE_DIR": str(self.state_dir),
            "LOCKPROXY_MAX_TRIES": None,
            "LOCKPROXY_MANUFACTURER": None,
            "LOCKPROXY_PINPAD": None,
            "LOCKPROXY_PINPAD_PIN": None,
            "LOCKPROXY_SIGN_DELAY_MS": None,
            "LOCKPROXY_LOGIN_DELAY_MS": None,
        }
        env.update(extra)
        return env

    def load(self) -> None:
        with environ(self.env()):
            self.lib = pkcs11.lib(str(self.path))

    def reinit(self, **extra: str | None) -> None:
        """C_Finalize + C_Initialize: closes all sessions, rereads config and tokens."""
        with environ(self.env(**extra)):
            self.lib.reinitialize()

    def new_token(self) -> str:
        label = f"LP{os.getpid()}-{next(_labels)}"
        subprocess.run(
            [self.util, "--init-token", "--free", "--label", label,
             "--so-pin", SO_PIN, "--pin", USER_PIN],
            check=True, env=dict(os.environ, SOFTHSM2_CONF=str(self.conf)),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.reinit()  # SoftHSM sees new tokens only after C_Initialize
        return label

    def token(self, label: str) -> Any:
        return self.lib.get_token(token_label=label)

    def flags(self, label: str) -> TokenFlag:
        """The PIN status bits of the token, as C_GetTokenInfo reports them now."""
        return TokenFlag(self.token(label).flags) & (USER_BITS | SO_BITS)

    # -- attempts -------------------------------------------------------

    def login(self, label: str, pin: str) -> None:
        with self.token(label).open(user_pin=pin):
            pass

    def login_fails(self, label: str, pin: str, exc: type[Exception] = PinIncorrect) -> None:
        with pytest.raises(exc):
            self.login(label, pin)
        self.reinit()  # drop the session python-pkcs11 leaked

    def so_login(self, label: str, pin: str) -> None:
        with self.token(label).open(rw=True, so_pin=pin):
            pass

    def so_login_fails(self, label: str, pin: str, exc: type[Exception] = PinIncorrect) -> None:
        with pytest.raises(exc):
            self.so_login(label, pin)
        self.reinit()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    softhsm = next((p for p in SOFTHSM_CANDIDATES if os.path.isfile(p)), None)
    util = shutil.which("softhsm2-util")
    if softhsm is None or util is None:
        require(False, "SoftHSM2 is not installed (apt-get install softhsm2)")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        require(False, "no C compiler to build the lock proxy")

    base = tmp_path_factory.mktemp("lockproxy")
    build = subprocess.run(
        ["sh", str(BUILD_SH), str(base / "build")], capture_output=True, text=True
    )
    assert build.returncode == 0, f"build.sh failed:\n{build.stdout}{build.stderr}"
    lib_path = base / "build" / "liblockproxy.so"
    assert lib_path.is_file()

    # A copy under its own path is a separate SoftHSM instance in this process.
    target = base / "libsofthsm2-lockproxy-test.so"
    shutil.copy2(softhsm, target)
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    state_dir = base / "state"
    state_dir.mkdir()

    p = Proxy(path=lib_path, target=target, conf=conf, state_dir=state_dir, util=util)
    p.load()
    yield p
    with contextlib.suppress(Exception):
        p.lib.finalize()


@pytest.fixture
def label(proxy: Proxy) -> str:
    """A fresh token: user PIN USER_PIN, SO PIN SO_PIN, no failed tries."""
    return proxy.new_token()


def _run_child(proxy: Proxy, label: str, **extra: str | None) -> dict[str, Any]:
    """In a new process: the token's PIN flags and what a correct login gives."""
    code = textwrap.dedent(
        """
        import json, sys
        import pkcs11
        from pkcs11.exceptions import PKCS11Error
        lib = pkcs11.lib(sys.argv[1])
        tok = lib.get_token(token_label=sys.argv[2])
        out = {"flags": int(tok.flags), "manufacturer": tok.manufacturer_id}
        try:
            with tok.open(user_pin=sys.argv[3]):
                out["login"] = "ok"
        except PKCS11Error as e:
            out["login"] = type(e).__name__
        print(json.dumps(out))
        """
    )
    env = {k: v for k, v in os.environ.items()}
    for k, v in proxy.env(**extra).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    res = subprocess.run(
        [sys.executable, "-c", code, str(proxy.path), label, USER_PIN],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


# ----------------------------------------------------------------------------


def test_ten_wrong_user_pins_lock_the_key(proxy: Proxy, label: str) -> None:
    other = proxy.new_token()
    assert proxy.flags(label) == NO_FLAGS

    proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW

    for _ in range(2, MAX_TRIES - 1):  # tries 2..8
        proxy.login_fails(label, WRONG_PIN)
        assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW

    proxy.login_fails(label, WRONG_PIN)  # 9th: one try left
    assert proxy.flags(label) == TokenFlag.USER_PIN_FINAL_TRY

    # The 10th wrong PIN is still reported as incorrect; from now on it is locked.
    proxy.login_fails(label, WRONG_PIN, PinIncorrect)
    assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED

    # Now even the right PIN is refused (the proxy does not forward it).
    proxy.login_fails(label, USER_PIN, PinLocked)
    proxy.login_fails(label, WRONG_PIN, PinLocked)
    assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED

    # The counters are per token.
    assert proxy.flags(other) == NO_FLAGS
    proxy.login(other, USER_PIN)

    # Still locked after C_Finalize/C_Initialize ...
    proxy.reinit()
    assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED
    proxy.login_fails(label, USER_PIN, PinLocked)

    # ... and in a brand-new process: the lock is stored like in the chip.
    child = _run_child(proxy, label)
    assert child["flags"] & USER_BITS == TokenFlag.USER_PIN_LOCKED
    assert child["login"] == "PinLocked"


def test_successful_login_resets_the_counter(proxy: Proxy, label: str) -> None:
    for _ in range(3):
        proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW

    proxy.login(label, USER_PIN)
    assert proxy.flags(label) == NO_FLAGS

    # A full new set of tries is available: 9 wrong ones do not lock.
    for _ in range(MAX_TRIES - 1):
        proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_FINAL_TRY
    proxy.login(label, USER_PIN)
    assert proxy.flags(label) == NO_FLAGS


def test_so_init_pin_unlocks_and_keeps_the_keys(proxy: Proxy, label: str) -> None:
    with proxy.token(label).open(rw=True, user_pin=USER_PIN) as s:
        s.generate_key(KeyType.AES, 128, label="lockproxy-key", store=True)

    for _ in range(MAX_TRIES):
        proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED
    proxy.login_fails(label, USER_PIN, PinLocked)

    # The SO sets a new user PIN (C_InitPIN): that is the unlock route.
    new_pin = "654321"
    with proxy.token(label).open(rw=True, so_pin=SO_PIN) as s:
        s.init_pin(new_pin)
    assert proxy.flags(label) == NO_FLAGS

    proxy.login_fails(label, USER_PIN)  # the old PIN is gone
    with proxy.token(label).open(user_pin=new_pin) as s:
        key = s.get_key(object_class=ObjectClass.SECRET_KEY, label="lockproxy-key")
        assert key.key_length == 128
    assert proxy.flags(label) == NO_FLAGS


def test_so_pin_has_its_own_counter_and_locks(proxy: Proxy, label: str) -> None:
    for _ in range(2):
        proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW

    proxy.so_login_fails(label, WRONG_SO_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW | TokenFlag.SO_PIN_COUNT_LOW

    # A good SO login resets only the SO counter.
    proxy.so_login(label, SO_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW

    for _ in range(MAX_TRIES - 1):
        proxy.so_login_fails(label, WRONG_SO_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW | TokenFlag.SO_PIN_FINAL_TRY
    proxy.so_login_fails(label, WRONG_SO_PIN)
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW | TokenFlag.SO_PIN_LOCKED
    proxy.so_login_fails(label, SO_PIN, PinLocked)

    # The user PIN was not touched by all that: 2 failures, and it still works.
    for _ in range(MAX_TRIES - 3):
        proxy.login_fails(label, WRONG_PIN)
    assert proxy.flags(label) & USER_BITS == TokenFlag.USER_PIN_FINAL_TRY
    proxy.login(label, USER_PIN)
    assert proxy.flags(label) == TokenFlag.SO_PIN_LOCKED


def test_set_pin_with_a_wrong_old_pin_counts_as_a_try(proxy: Proxy, label: str) -> None:
    proxy.login_fails(label, WRONG_PIN)

    # SoftHSM's C_SetPIN needs a R/W session (public or user), else SessionReadOnly.
    def set_pin(old: str, new: str) -> None:
        with proxy.token(label).open(rw=True) as s:
            s.set_pin(old, new)

    for _ in range(MAX_TRIES - 2):  # logins + set_pin tries: 1 + 8 = 9
        with pytest.raises(PinIncorrect):
            set_pin(WRONG_PIN, "111111")
    assert proxy.flags(label) == TokenFlag.USER_PIN_FINAL_TRY

    # A correct C_SetPIN resets the counter and changes the PIN.
    set_pin(USER_PIN, "222222")
    assert proxy.flags(label) == NO_FLAGS
    proxy.login(label, "222222")

    for _ in range(MAX_TRIES):
        with pytest.raises(PinIncorrect):
            set_pin(WRONG_PIN, "111111")
    assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED
    with pytest.raises(PinLocked):
        set_pin("222222", "333333")
    proxy.login_fails(label, "222222", PinLocked)


def test_wrong_length_pin_is_not_counted(proxy: Proxy, label: str) -> None:
    # SoftHSM's PIN length range is 4..255; it answers CKR_PIN_INCORRECT for a
    # too-short PIN, but a real key rejects it before checking, so no try is used.
    info_min = 4
    for _ in range(MAX_TRIES + 2):
        proxy.login_fails(label, "1" * (info_min - 1), PinIncorrect)
    proxy.login_fails(label, "9" * 256, PinIncorrect)
    assert proxy.flags(label) == NO_FLAGS
    proxy.login(label, USER_PIN)


def test_concurrent_processes_share_one_counter(proxy: Proxy, label: str) -> None:
    """Two processes fail 4 times each at the same time: exactly 8 are counted."""
    code = textwrap.dedent(
        """
        import sys
        import time
        import pkcs11
        from pkcs11.exceptions import GeneralError, NoSuchToken, PinIncorrect
        lib = pkcs11.lib(sys.argv[1])
        counted = attempts = 0
        while counted < 4:
            attempts += 1
            if attempts > 200:
                sys.exit("SoftHSM kept failing")
            try:
                lib.get_token(token_label=sys.argv[2]).open(user_pin="000000")
            except PinIncorrect:
                counted += 1
            except (GeneralError, NoSuchToken):
                # SoftHSM's file store under concurrent access; the proxy does not count it.
                time.sleep(0.05)
            else:
                sys.exit("wrong PIN accepted")
            lib.reinitialize()
        """
    )
    env = dict(os.environ)
    for k, v in proxy.env().items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(proxy.path), label], env=env,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW
    proxy.login_fails(label, WRONG_PIN)  # the 9th
    assert proxy.flags(label) == TokenFlag.USER_PIN_FINAL_TRY


def test_env_max_tries_manufacturer_and_pinpad(proxy: Proxy, label: str) -> None:
    extra: dict[str, str | None] = {
        "LOCKPROXY_MAX_TRIES": "3",
        "LOCKPROXY_MANUFACTURER": "NETCA",
        "LOCKPROXY_PINPAD": "1",
        "LOCKPROXY_PINPAD_PIN": USER_PIN,
    }
    try:
        proxy.reinit(**extra)  # C_Initialize rereads the LOCKPROXY_* variables
        tok = proxy.token(label)
        assert tok.manufacturer_id == "NETCA"
        assert tok.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH

        # PIN pad: C_Login with a NULL PIN, the "reader" supplies it.
        with tok.open(user_pin=pkcs11.PROTECTED_AUTH):
            pass

        def fail() -> None:
            with pytest.raises(PinIncorrect):
                proxy.login(label, WRONG_PIN)
            proxy.reinit(**extra)

        fail()
        assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW
        fail()
        assert proxy.flags(label) == TokenFlag.USER_PIN_FINAL_TRY
        fail()
        assert proxy.flags(label) == TokenFlag.USER_PIN_LOCKED
        with pytest.raises(PinLocked):
            proxy.token(label).open(user_pin=pkcs11.PROTECTED_AUTH)
        proxy.reinit(**extra)

        child = _run_child(proxy, label, **extra)
        assert child["manufacturer"] == "NETCA"
        assert child["login"] == "PinLocked"
    finally:
        proxy.reinit()
    # Back to the defaults: 3 failures out of 10, not locked.
    tok = proxy.token(label)
    assert tok.manufacturer_id != "NETCA"
    assert not tok.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH
    assert proxy.flags(label) == TokenFlag.USER_PIN_COUNT_LOW


def test_slow_key_delays_login_and_signing_only(proxy: Proxy, label: str) -> None:
    """LOCKPROXY_SIGN_DELAY_MS / LOCKPROXY_LOGIN_DELAY_MS stand in for a slow USB key.

    Only lower bounds are asserted (a sleep is never shorter than asked), so a
    loaded machine cannot make this fail.  The length query of C_Sign (NULL
    output) is not delayed: one signature costs one delay, as on a real key.
    """
    import time

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
    from pkcs11.util.ec import encode_named_curve_parameters

    with proxy.token(label).open(rw=True, user_pin=USER_PIN) as s:
        params = s.create_domain_parameters(
            KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        pub, _priv = params.generate_keypair(store=True, label="slow-key")
        point = pub[pkcs11.Attribute.EC_POINT]
    delay_ms = 150
    extra = {"LOCKPROXY_SIGN_DELAY_MS": str(delay_ms), "LOCKPROXY_LOGIN_DELAY_MS": str(delay_ms)}
    try:
        proxy.reinit(**extra)
        t0 = time.monotonic()
        with proxy.token(label).open(user_pin=USER_PIN) as s:
            t1 = time.monotonic()
            key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="slow-key")
            digest = b"\x11" * 32
            sig = key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
            t2 = time.monotonic()
        assert t1 - t0 >= delay_ms / 1000
        assert t2 - t1 >= delay_ms / 1000
        # The signature is the target's own: the proxy only waits.
        pubkey = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _ec_point(point))
        r, s_ = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        pubkey.verify(encode_dss_signature(r, s_), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    finally:
        proxy.reinit()


def _ec_point(der_octet_string: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the uncompressed point."""
    assert der_octet_string[0] == 0x04
    length = der_octet_string[1]
    if length & 0x80:
        n = length & 0x7F
        return der_octet_string[2 + n:]
    return der_octet_string[2:]


def test_function_list_arguments_and_missing_target(proxy: Proxy, tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import ctypes, sys
        lp = ctypes.CDLL(sys.argv[1])
        lp.C_GetFunctionList.restype = ctypes.c_ulong
        lp.C_GetFunctionList.argtypes = [ctypes.c_void_p]
        print(lp.C_GetFunctionList(None))   # CKR_ARGUMENTS_BAD
        out = ctypes.c_void_p()
        print(lp.C_GetFunctionList(ctypes.byref(out)))  # target missing: CKR_GENERAL_ERROR
        """
    )
    env = dict(os.environ, LOCKPROXY_TARGET=str(tmp_path / "missing.so"))
    res = subprocess.run([sys.executable, "-c", code, str(proxy.path)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(0x07), str(0x05)]
    assert "cannot load target module" in res.stderr
