"""PIN use cases: status, login, change, unlock — with the lockout kept in view.

Rules (the CA locks the key after 10 consecutive wrong PINs, and only the CA
can unlock it):
- read the key's flags before asking; refuse when locked;
- show tries left before entry: the key's flags combined with our own
  per-serial counter (a flag wins when the two disagree);
- the final try needs an explicit confirmation;
- a PIN the key cannot take is refused before it reaches the key;
- never retry a PIN by ourselves; the PIN stays in a wipeable buffer.

The second half of this module runs those rules as one interactive attempt
against a :class:`PinPrompter` — the terminal (``zhenglian pin``) and the Qt
dialogs are two prompters over the same steps.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from zhenglian import errors
from zhenglian.manifest import Manifest, PinPolicy
from zhenglian.tokens import p11raw, pincounter, pinpolicy
from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.module import Pkcs11Module
from zhenglian.tokens.secret import PinBuffer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinStatus:
    """Tries left for the user (or SO) PIN: the key's flags and our counter, combined.

    How they combine ("a flag wins when the two disagree"):
    - LOCKED → locked; FINAL_TRY → exactly one try left, whatever we counted;
    - COUNT_LOW means "at least one wrong try": with no count of ours we
      estimate max−1 (``exact`` False); it never lifts our count, so a key
      that only ever sets COUNT_LOW (SoftHSM, some vendors) still gets the
      final-try confirmation and the client-side lock from our counter;
    - a key whose driver is known to report failures (``reports`` "low" or
      "full", learnt after an earlier wrong PIN) and now shows no flag was
      reset elsewhere (right PIN in the vendor client, unlocked at the CA):
      our count is stale and counts as zero;
    - a key that reports FINAL_TRY ("full") and shows only COUNT_LOW has at
      least two tries left, whatever we counted.
    """

    serial: str
    so: bool
    flags: TokenFlags
    failures: int  # our own count of consecutive wrong tries
    max_tries: int
    reports: str | None = None  # what the driver showed after a wrong PIN (pincounter.learn)

    @property
    def pinpad(self) -> bool:
        return self.flags.protected_auth_path

    @property
    def _locked_flag(self) -> bool:
        return self.flags.so_locked if self.so else self.flags.locked

    @property
    def _final_flag(self) -> bool:
        return self.flags.so_final_try if self.so else self.flags.final_try

    @property
    def _low_flag(self) -> bool:
        return self.flags.so_count_low if self.so else self.flags.count_low

    @property
    def stale(self) -> bool:
        """Our counter is out of date: the key, which reports failures, shows none."""
        return (self.failures > 0 and self.reports in ("low", "full")
                and not (self._low_flag or self._final_flag or self._locked_flag))

    @property
    def effective_failures(self) -> int:
        if self.stale:
            return 0
        f = self.failures
        if self._low_flag:
            f = max(f, 1)
            if self.reports == "full":
                f = min(f, max(self.max_tries - 2, 1))
        return f

    @property
    def locked(self) -> bool:
        if self._locked_flag:
            return True
        if self._final_flag:
            return False  # the key says one try is left
        return self.effective_failures >= self.max_tries

    @property
    def tries_left(self) -> int:
        if self.locked:
            return 0
        if self._final_flag:
            return 1
        return max(self.max_tries - self.effective_failures, 1)

    @property
    def final_try(self) -> bool:
        return not self.locked and self.tries_left == 1

    @property
    def exact(self) -> bool:
        """False when the count is an estimate (the key said COUNT_LOW, we counted otherwise)."""
        if self.locked or self._final_flag or not self._low_flag:
            return True
        return self.failures == self.effective_failures

    @property
    def counted_by_key(self) -> bool:
        """True when the key itself states the number (locked, or its final-try flag).

        Otherwise the number is the client's own count of wrong tries made here: tries
        made elsewhere (the vendor's client, another computer) are not in it, so it is
        an upper bound ("at most"), never stated as exact.
        """
        return self.locked or self._final_flag

    def describe_zh(self) -> str:
        who = "管理员 PIN" if self.so else "PIN"
        if self.locked:
            return f"{who} 已锁定"
        if self.counted_by_key:
            return f"{who} 还可尝试 {self.tries_left} 次（共 {self.max_tries} 次）"
        if not self.exact:
            return f"{who} 还可尝试约 {self.tries_left} 次（共 {self.max_tries} 次）"
        return f"{who} 最多还可尝试 {self.tries_left} 次（共 {self.max_tries} 次）"

    def describe_en(self) -> str:
        who = "SO PIN" if self.so else "PIN"
        if self.locked:
            return f"{who} locked"
        if self.counted_by_key:
            return f"{who}: {self.tries_left} of {self.max_tries} tries left"
        if not self.exact:
            return f"{who}: about {self.tries_left} of {self.max_tries} tries left"
        return f"{who}: at most {self.tries_left} of {self.max_tries} tries left"

    def to_dict(self) -> dict[str, object]:
        return {"serial": self.serial, "so": self.so, "locked": self.locked, "final_try": self.final_try,
                "tries_left": self.tries_left, "exact": self.exact, "max_tries": self.max_tries,
                "failures_counted": self.failures, "driver_reports": self.reports,
                "pinpad": self.pinpad, "flags": self.flags.to_dict()}


def policy_of(manifest: Manifest | None) -> PinPolicy:
    return manifest.pin if manifest else PinPolicy()


def locked_error(manifest: Manifest | None, so: bool = False) -> errors.PinLocked:
    cls = errors.SoPinLocked if so else errors.PinLocked
    if manifest is None or not manifest.is_ca:
        return cls(route_zh="请联系签发该证书的 CA", route_en="contact the CA that issued the certificate")
    return cls(route_zh=manifest.unlock_route_zh(), route_en=manifest.unlock_route_en())


def _raw(module: Pkcs11Module) -> p11raw.RawPinCalls:
    return p11raw.RawPinCalls.for_module(module.path)


def read_flags(module: Pkcs11Module, serial: str) -> TokenFlags:
    """The key's flags now (a fresh C_GetTokenInfo), not a cached listing."""
    with module.lock:
        _, token = module.find_token(serial)
        return TokenFlags(int(token.flags))


def key_policy(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None) -> PinPolicy:
    """The manifest's PIN policy narrowed to the key's own PIN length range (C_GetTokenInfo)."""
    policy = policy_of(manifest)
    try:
        with module.lock:
            slot_id, _ = module.find_token(key.serial)
            rv, info = _raw(module).token_info(slot_id)
    except (OSError, AttributeError):
        return policy
    if rv != p11raw.CKR_OK:
        return policy
    lo, hi = int(info.ulMinPinLen), int(info.ulMaxPinLen)
    # Some drivers report 0 or CK_UNAVAILABLE_INFORMATION (all ones): ignore those.
    min_len = max(policy.min_length, lo) if 0 < lo < 1024 else policy.min_length
    max_len = min(policy.max_length, hi) if 0 < hi < 1024 else policy.max_length
    if min_len > max_len:  # the key and the manifest disagree: trust the key
        min_len, max_len = lo, hi
    return dataclasses.replace(policy, min_length=min_len, max_length=max_len)


def status(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, so: bool = False) -> PinStatus:
    flags = read_flags(module, key.serial)
    status_bits = (flags.so_count_low or flags.so_final_try or flags.so_locked) if so else \
        (flags.count_low or flags.final_try or flags.locked)
    if status_bits:
        pincounter.learn(key.serial, flags.raw, so)
    st = PinStatus(key.serial, so, flags, pincounter.failures(key.serial, so), policy_of(manifest).max_tries,
                   pincounter.reports(key.serial))
    if st.stale:  # the key was reset elsewhere: its flags win over our count
        pincounter.reset(key.serial, so)
        st = dataclasses.replace(st, failures=0)
    return st


def _fail(rv: int, module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, so: bool) -> errors.ZhenglianError:
    """Turn a failed PIN call into the right error, counting the try where one was spent."""
    max_tries = policy_of(manifest).max_tries
    if rv == p11raw.CKR_PIN_INCORRECT:
        pincounter.record_failure(key.serial, so)
        try:
            flags = read_flags(module, key.serial)
            pincounter.learn(key.serial, flags.raw, so)
            after = status(module, key, manifest, so)
        except errors.ZhenglianError:
            after = PinStatus(key.serial, so, TokenFlags(0), pincounter.failures(key.serial, so), max_tries)
        who = "SO" if so else "user"
        if after.locked:
            pincounter.record_locked(key.serial, max_tries, so)
            log.warning("key %s: wrong %s PIN; now locked", key.serial, who)
            return locked_error(manifest, so)
        log.warning("key %s: wrong %s PIN, %d tries left", key.serial, who, after.tries_left)
        return errors.WrongSoPin(tries_left=after.tries_left) if so else errors.WrongPin(tries_left=after.tries_left)
    if rv == p11raw.CKR_PIN_LOCKED:
        pincounter.record_locked(key.serial, max_tries, so)
        log.warning("key %s: %s PIN locked (CKR_PIN_LOCKED)", key.serial, "SO" if so else "user")
        return locked_error(manifest, so)
    if rv in (p11raw.CKR_PIN_LEN_RANGE, p11raw.CKR_PIN_INVALID):
        return errors.PinPolicyViolation(problems_zh="UKey 不接受该 PIN 的长度或字符",
                                         problems_en="the key does not accept this PIN's length or characters")
    if rv in p11raw.REMOVED:
        return errors.TokenRemoved()
    if rv == p11raw.CKR_FUNCTION_CANCELED:
        return errors.PinCancelled()
    return errors.TokenError(detail=f"CKR {rv:#x}")


def _precheck(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, so: bool,
              confirmed_final_try: bool) -> PinStatus:
    st = status(module, key, manifest, so)
    if st.locked:
        raise locked_error(manifest, so)
    if st.final_try and not confirmed_final_try:
        raise errors.FinalTryNotConfirmed()
    return st


def login(module: Pkcs11Module, session: Any, key: KeyInfo, pin: PinBuffer | None,
          manifest: Manifest | None, *, so: bool = False, confirmed_final_try: bool = False) -> bool:
    """Log the session in.  ``pin`` None means the key's own PIN pad.

    Returns True when the PIN used is the CA's published factory PIN (the
    caller must then lead the user to change it).
    """
    st = _precheck(module, key, manifest, so, confirmed_final_try)
    if pin is None and not st.pinpad:
        raise errors.UsageError(detail="需要 PIN / a PIN is required")
    if pin is not None:
        pinpolicy.check_entry(pin, key_policy(module, key, manifest))
    user_type = p11raw.CKU_SO if so else p11raw.CKU_USER
    raw = _raw(module)
    buf = pin.buffer if pin is not None else None
    with module.lock:
        rv = raw.login(session.handle, user_type, buf)
        if rv in (p11raw.CKR_USER_ALREADY_LOGGED_IN, p11raw.CKR_USER_ANOTHER_ALREADY_LOGGED_IN):
            # The module answered without checking the PIN (a stale login of this
            # process: login state is per application).  No try was spent, so log
            # that state out and make the one real check; never accept unchecked.
            log.info("C_Login: already logged in; logging out to check the PIN")
            raw.logout(session.handle)
            rv = raw.login(session.handle, user_type, buf)
    if rv != p11raw.CKR_OK:
        raise _fail(rv, module, key, manifest, so)
    pincounter.reset(key.serial, so)
    log.info("key %s: %s login", key.serial, "SO" if so else "user")
    initial = policy_of(manifest).initial
    return bool(not so and pin is not None and initial and pin.equals(PinBuffer(initial)))


def logout(module: Pkcs11Module, session: Any) -> None:
    with module.lock:
        rv = _raw(module).logout(session.handle)
    if rv not in (p11raw.CKR_OK, p11raw.CKR_USER_NOT_LOGGED_IN, *p11raw.REMOVED):
        log.info("logout returned %#x", rv)


@contextmanager
def user_session(module: Pkcs11Module, key: KeyInfo, pin: PinBuffer | None, manifest: Manifest | None,
                 *, rw: bool = False, confirmed_final_try: bool = False,
                 allow_initial_pin: bool = True) -> Iterator[Any]:
    """A logged-in session, logged out and closed on exit whatever happens.

    A failed login closes the session at once (no session is left open).
    """
    with module.session(key.serial, rw=rw) as session:
        initial = login(module, session, key, pin, manifest, confirmed_final_try=confirmed_final_try)
        try:
            if initial and not allow_initial_pin:
                raise errors.InitialPinInUse()
            yield session
        finally:
            logout(module, session)


def change(module: Pkcs11Module, key: KeyInfo, old: PinBuffer, new: PinBuffer, repeat: PinBuffer,
           manifest: Manifest | None, *, confirmed_final_try: bool = False) -> None:
    """C_SetPIN.  The new PIN is checked first (no try spent); a wrong old PIN counts."""
    policy = key_policy(module, key, manifest)
    pinpolicy.check_new(new, policy, old, repeat)
    _precheck(module, key, manifest, False, confirmed_final_try)
    pinpolicy.check_entry(old, policy)
    with module.session(key.serial, rw=True) as session:
        with module.lock:
            rv = _raw(module).set_pin(session.handle, old.buffer, new.buffer)
        if rv != p11raw.CKR_OK:
            raise _fail(rv, module, key, manifest, False)
    pincounter.reset(key.serial)
    log.info("key %s: user PIN changed", key.serial)


def unlock(module: Pkcs11Module, key: KeyInfo, so_pin: PinBuffer, new: PinBuffer, repeat: PinBuffer,
           manifest: Manifest | None, *, confirmed_final_try: bool = False) -> None:
    """SO login, then C_InitPIN: a new user PIN, keys and certificates kept.

    ``confirmed_final_try`` is about the SO PIN's own final try.
    """
    pinpolicy.check_new(new, key_policy(module, key, manifest), None, repeat)
    with module.session(key.serial, rw=True) as session:
        login(module, session, key, so_pin, manifest, so=True, confirmed_final_try=confirmed_final_try)
        try:
            with module.lock:
                rv = _raw(module).init_pin(session.handle, new.buffer)
            if rv != p11raw.CKR_OK:
                raise _fail(rv, module, key, manifest, False)
        finally:
            logout(module, session)
    pincounter.reset(key.serial)
    log.info("key %s: user PIN set by the SO (unlock)", key.serial)


# --- one interactive attempt, for any front end ------------------------------

class PinPrompter(Protocol):
    """What a front end (terminal, Qt dialogs) provides to the flows below.

    Every method is called before anything reaches the key.  ``ask_*``
    return None when the operator cancels.  The returned buffers belong to
    the flow, which wipes them.
    """

    def locked(self, st: PinStatus, error: errors.PinLocked) -> None: ...

    def confirm_final_try(self, st: PinStatus) -> bool: ...

    def ask_pin(self, st: PinStatus) -> PinBuffer | None: ...

    def ask_change(self, st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None: ...

    def ask_unlock(self, so_st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None: ...

    def pinpad(self, st: PinStatus) -> AbstractContextManager[None]: ...


def _gate(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, prompter: PinPrompter,
          so: bool) -> PinStatus:
    """Flags first: refuse when locked (no PIN asked), confirm the final try."""
    st = status(module, key, manifest, so)
    if st.locked:
        err = locked_error(manifest, so)
        log.info("key %s: %s PIN locked; not asking for it", key.serial, "SO" if so else "user")
        prompter.locked(st, err)
        raise err
    if st.final_try and not prompter.confirm_final_try(st):
        raise errors.FinalTryNotConfirmed()
    return st


def _wipe(*pins: PinBuffer | None) -> None:
    for p in pins:
        if p is not None:
            p.wipe()


def _ask(st: PinStatus, prompter: PinPrompter) -> PinBuffer | None:
    """The PIN from the operator, or None for a PIN-pad key.  Raises PinCancelled."""
    if st.pinpad:
        return None
    pin = prompter.ask_pin(st)
    if pin is None:
        raise errors.PinCancelled()
    return pin


def gate_and_ask(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None,
                 prompter: PinPrompter) -> tuple[PinStatus, PinBuffer | None]:
    """Flags first (refuse when locked, confirm the final try), then the PIN.

    For callers that log in themselves (a signing batch): they pass
    ``confirmed_final_try=status.final_try`` and wipe the PIN.  None means
    the key's PIN pad.  Raises PinLocked, FinalTryNotConfirmed, PinCancelled.
    """
    st = _gate(module, key, manifest, prompter, False)
    return st, _ask(st, prompter)


@contextmanager
def interactive_session(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, prompter: PinPrompter,
                        *, rw: bool = False, allow_initial_pin: bool = True,
                        cache: Any = None) -> Iterator[Any]:
    """One attempt: flags, (confirmation), PIN (or PIN pad), login; yields a logged-in session.

    The PIN is asked before the session is opened, so the module is not held
    while the operator types.  ``cache`` (a
    :class:`zhenglian.tokens.pincache.PinCache`) supplies a PIN the operator
    chose to keep for this batch (the prompter's ``keep_pin`` attribute says
    so); a cached PIN that fails is forgotten at once and never tried again.
    """
    pin = cache.get(key.serial) if cache is not None else None
    from_cache = pin is not None
    try:
        st = _gate(module, key, manifest, prompter, False)
        if pin is None:
            pin = _ask(st, prompter)
        with module.session(key.serial, rw=rw) as session:
            try:
                with prompter.pinpad(st) if pin is None else nullcontext():
                    initial = login(module, session, key, pin, manifest, confirmed_final_try=st.final_try)
            except errors.ZhenglianError:
                if from_cache:
                    cache.forget(key.serial)
                raise
            if pin is not None and cache is not None and not from_cache and getattr(prompter, "keep_pin", False):
                cache.put(key.serial, pin)
            _wipe(pin)
            try:
                if initial and not allow_initial_pin:
                    raise errors.InitialPinInUse()
                yield session
            finally:
                logout(module, session)
    finally:
        _wipe(pin)


def interactive_verify(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None,
                       prompter: PinPrompter) -> bool:
    """Check the PIN once.  True when it is the CA's factory PIN (change it now)."""
    st = _gate(module, key, manifest, prompter, False)
    pin = _ask(st, prompter)
    try:
        with module.session(key.serial) as session:
            with prompter.pinpad(st) if pin is None else nullcontext():
                initial = login(module, session, key, pin, manifest, confirmed_final_try=st.final_try)
            logout(module, session)
        return initial
    finally:
        _wipe(pin)


def interactive_change(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, prompter: PinPrompter,
                       cache: Any = None) -> None:
    """Flags (user PIN), then old and new PIN from the prompter, then C_SetPIN."""
    _interactive_set(module, key, manifest, prompter, cache, so=False)


def interactive_unlock(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, prompter: PinPrompter,
                       cache: Any = None) -> None:
    """Flags (SO PIN), then SO PIN and new user PIN from the prompter, then C_InitPIN."""
    _interactive_set(module, key, manifest, prompter, cache, so=True)


def _interactive_set(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, prompter: PinPrompter,
                     cache: Any, *, so: bool) -> None:
    st = _gate(module, key, manifest, prompter, so)
    ask, act = (prompter.ask_unlock, unlock) if so else (prompter.ask_change, change)
    answer = ask(st, key_policy(module, key, manifest))
    if answer is None:
        raise errors.PinCancelled()
    try:
        act(module, key, *answer, manifest, confirmed_final_try=st.final_try)
    finally:
        _wipe(*answer)
        if cache is not None:
            cache.forget(key.serial)  # a kept PIN is stale once the PIN changed
