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
from typing import TYPE_CHECKING, Any, Protocol

from zhenglian import errors
from zhenglian.manifest import Manifest, PinPolicy
from zhenglian.tokens import ckr, p11raw, pincounter, pinpolicy
from zhenglian.tokens.flags import TokenFlags
from zhenglian.tokens.secret import PinBuffer

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

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
    key_tries: int | None = None  # exact tries left as the key itself says (SKF); wins over everything

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
        if self.key_tries is not None:
            return self.key_tries <= 0
        if self._locked_flag:
            return True
        if self._final_flag:
            return False  # the key says one try is left
        return self.effective_failures >= self.max_tries

    @property
    def tries_left(self) -> int:
        if self.locked:
            return 0
        if self.key_tries is not None:
            return self.key_tries
        if self._final_flag:
            return 1
        return max(self.max_tries - self.effective_failures, 1)

    @property
    def final_try(self) -> bool:
        return not self.locked and self.tries_left == 1

    @property
    def exact(self) -> bool:
        """False when the count is an estimate (the key said COUNT_LOW, we counted otherwise)."""
        if self.key_tries is not None:
            return True
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
        return self.key_tries is not None or self.locked or self._final_flag

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


def key_policy(h: KeyHandle) -> PinPolicy:
    """The manifest's PIN policy narrowed to the key's own PIN length range (C_GetTokenInfo)."""
    policy = policy_of(h.manifest)
    length = h.backend.pin_length_range(h.serial)
    if length is None:
        return policy
    lo, hi = length
    # Some drivers report 0 or CK_UNAVAILABLE_INFORMATION (all ones): ignore those.
    min_len = max(policy.min_length, lo) if 0 < lo < 1024 else policy.min_length
    max_len = min(policy.max_length, hi) if 0 < hi < 1024 else policy.max_length
    if min_len > max_len:  # the key and the manifest disagree: trust the key
        min_len, max_len = lo, hi
    return dataclasses.replace(policy, min_length=min_len, max_length=max_len)


def status(h: KeyHandle, so: bool = False) -> PinStatus:
    key, manifest = h.key, h.manifest
    flags = h.backend.flags(key.serial)
    status_bits = (flags.so_count_low or flags.so_final_try or flags.so_locked) if so else \
        (flags.count_low or flags.final_try or flags.locked)
    if status_bits:
        pincounter.learn(key.serial, flags.raw, so)
    st = PinStatus(key.serial, so, flags, pincounter.failures(key.serial, so), policy_of(manifest).max_tries,
                   pincounter.reports(key.serial), h.backend.tries_left(key.serial, so))
    if st.stale:  # the key was reset elsewhere: its flags win over our count
        pincounter.reset(key.serial, so)
        st = dataclasses.replace(st, failures=0)
    return st


def failure(rv: int, h: KeyHandle, so: bool) -> errors.ZhenglianError:
    """Turn a failed PIN call into the right error, counting the try where one was spent."""
    key, manifest = h.key, h.manifest
    max_tries = policy_of(manifest).max_tries
    if rv == p11raw.CKR_PIN_INCORRECT:
        pincounter.record_failure(key.serial, so)
        try:
            flags = h.backend.flags(key.serial)
            pincounter.learn(key.serial, flags.raw, so)
            after = status(h, so)
        except errors.ZhenglianError:
            after = PinStatus(key.serial, so, TokenFlags(0), pincounter.failures(key.serial, so), max_tries)
        who = "SO" if so else "user"
        if after.locked:
            pincounter.record_locked(key.serial, max_tries, so)
            log.warning("key %s: wrong %s PIN; now locked", key.serial, who)
            return locked_error(manifest, so)
        log.warning("key %s: wrong %s PIN, %d tries left", key.serial, who, after.tries_left)
        cls = errors.WrongSoPin if so else errors.WrongPin
        return cls(tries_left=after.tries_left, exact=after.counted_by_key)
    if rv == p11raw.CKR_PIN_LOCKED:
        pincounter.record_locked(key.serial, max_tries, so)
        log.warning("key %s: %s PIN locked (CKR_PIN_LOCKED)", key.serial, "SO" if so else "user")
        return locked_error(manifest, so)
    return ckr.error_for(rv, where="C_Login")


def gate(h: KeyHandle, prompter: PinPrompter | None = None, *, so: bool = False,
         confirmed_final_try: bool = False) -> PinStatus:
    """The one "may we ask for the PIN" check: the key's flags (and our count) first.

    Locked: refused, no PIN asked (the prompter shows the locked dialog with the
    unlock route).  Final try: the prompter asks for a confirmation, or, with no
    prompter, the caller must have confirmed it (``confirmed_final_try``).
    """
    st = status(h, so)
    if st.locked:
        err = locked_error(h.manifest, so)
        log.info("key %s: %s PIN locked; not asking for it", h.serial, "SO" if so else "user")
        if prompter is not None:
            prompter.locked(st, err)
        raise err
    if st.final_try and not confirmed_final_try and (prompter is None or not prompter.confirm_final_try(st)):
        raise errors.FinalTryNotConfirmed()
    return st


def login(h: KeyHandle, session: Any, pin: PinBuffer | None, *, so: bool = False,
          confirmed_final_try: bool = False) -> bool:
    """Log the session in.  ``pin`` None means the key's own PIN pad.

    Returns True when the PIN used is the CA's published factory PIN (the
    caller must then lead the user to change it).
    """
    key, manifest = h.key, h.manifest
    st = gate(h, so=so, confirmed_final_try=confirmed_final_try)
    if pin is None and not st.pinpad:
        raise errors.UsageError(detail="需要 PIN / a PIN is required")
    if pin is not None:
        pinpolicy.check_entry(pin, key_policy(h))
    user_type = p11raw.CKU_SO if so else p11raw.CKU_USER
    backend = h.backend
    buf = pin.buffer if pin is not None else None
    with backend.lock:
        rv = backend.login(session, user_type, buf)
        if rv in (p11raw.CKR_USER_ALREADY_LOGGED_IN, p11raw.CKR_USER_ANOTHER_ALREADY_LOGGED_IN):
            # The module answered without checking the PIN (a stale login of this
            # process: login state is per application).  No try was spent, so log
            # that state out and make the one real check; never accept unchecked.
            log.info("C_Login: already logged in; logging out to check the PIN")
            backend.logout(session)
            rv = backend.login(session, user_type, buf)
    if rv != p11raw.CKR_OK:
        raise failure(rv, h, so)
    pincounter.reset(key.serial, so)
    log.info("key %s: %s login", key.serial, "SO" if so else "user")
    return bool(not so and pin is not None and is_factory_pin(manifest, pin))


def logout(h: KeyHandle, session: Any) -> None:
    with h.backend.lock:
        rv = h.backend.logout(session)
    if rv not in (p11raw.CKR_OK, p11raw.CKR_USER_NOT_LOGGED_IN, *p11raw.REMOVED):
        log.info("logout returned %#x", rv)


@contextmanager
def user_session(h: KeyHandle, pin: PinBuffer | None, *, rw: bool = False, confirmed_final_try: bool = False,
                 allow_initial_pin: bool = True) -> Iterator[Any]:
    """A logged-in session, logged out and closed on exit whatever happens.

    A failed login closes the session at once (no session is left open).
    """
    with h.backend.session(h.serial, rw=rw) as session:
        initial = login(h, session, pin, confirmed_final_try=confirmed_final_try)
        try:
            if initial and not allow_initial_pin:
                raise errors.InitialPinInUse()
            yield session
        finally:
            logout(h, session)


def change(h: KeyHandle, old: PinBuffer, new: PinBuffer, repeat: PinBuffer, *,
           confirmed_final_try: bool = False) -> None:
    """C_SetPIN.  The new PIN is checked first (no try spent); a wrong old PIN counts."""
    policy = key_policy(h)
    pinpolicy.check_new(new, policy, old, repeat)
    gate(h, confirmed_final_try=confirmed_final_try)
    pinpolicy.check_entry(old, policy)
    with h.backend.session(h.serial, rw=True) as session:
        with h.backend.lock:
            rv = h.backend.set_pin(session, old.buffer, new.buffer)
        if rv != p11raw.CKR_OK:
            raise failure(rv, h, False)
    pincounter.reset(h.serial)
    log.info("key %s: user PIN changed", h.serial)


def unlock(h: KeyHandle, so_pin: PinBuffer, new: PinBuffer, repeat: PinBuffer, *,
           confirmed_final_try: bool = False) -> None:
    """SO login, then C_InitPIN: a new user PIN, keys and certificates kept.

    ``confirmed_final_try`` is about the SO PIN's own final try.
    """
    pinpolicy.check_new(new, key_policy(h), None, repeat)
    with h.backend.session(h.serial, rw=True) as session:
        login(h, session, so_pin, so=True, confirmed_final_try=confirmed_final_try)
        try:
            with h.backend.lock:
                rv = h.backend.init_pin(session, new.buffer)
            if rv != p11raw.CKR_OK:
                raise failure(rv, h, False)
        finally:
            logout(h, session)
    pincounter.reset(h.serial)
    log.info("key %s: user PIN set by the SO (unlock)", h.serial)


# --- one interactive attempt, for any front end ------------------------------

class PinPrompter(Protocol):
    """What a front end (terminal, Qt dialogs) provides to the flows below.

    ``locked`` shows the locked key with its unlock route (and, in the GUI,
    the 生成解锁申请表 action: the prompter carries the key and parent window it
    needs, so it works from every place that can show it).  Every other method
    is called before anything reaches the key.  ``ask_*``
    return None when the operator cancels.  The returned buffers belong to
    the flow, which wipes them.
    """

    def locked(self, st: PinStatus, error: errors.PinLocked) -> None: ...

    def confirm_final_try(self, st: PinStatus) -> bool: ...

    def ask_pin(self, st: PinStatus) -> PinBuffer | None: ...

    def ask_change(self, st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None: ...

    def ask_unlock(self, so_st: PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None: ...

    def pinpad(self, st: PinStatus) -> AbstractContextManager[None]: ...

    def keep_pin(self) -> bool:
        """The operator chose to keep the PIN for this batch (in memory, wiped at its end)."""
        ...

    def show_error(self, error: errors.ZhenglianError) -> None:
        """Say what went wrong with the last PIN (the next ask_pin shows it beside the field)."""
        ...


def _wipe(*pins: PinBuffer | None) -> None:
    for p in pins:
        if p is not None:
            p.wipe()


def factory_pin(manifest: Manifest | None) -> str | None:
    """The CA's published factory PIN (NETCA: 12345678, ``[pin] initial`` in its driver file)."""
    initial = policy_of(manifest).initial
    return initial if isinstance(initial, str) and initial else None


def is_factory_pin(manifest: Manifest | None, pin: PinBuffer) -> bool:
    initial = factory_pin(manifest)
    if initial is None:
        return False
    factory = PinBuffer(initial)
    try:
        return pin.equals(factory)
    finally:
        factory.wipe()


def refuse_factory_pin(h: KeyHandle, pin: PinBuffer) -> PinBuffer:
    """``pin`` unless it is the CA's factory PIN: then it is wiped and InitialPinInUse is raised
    (nothing reaches the key, no try is spent).  The rule of :func:`_ask`, for the one caller
    that reads a PIN without a prompter (``zhenglian renew``)."""
    if is_factory_pin(h.manifest, pin):
        pin.wipe()
        log.info("key %s: the factory PIN was typed; refused before the key", h.serial)
        raise errors.InitialPinInUse()
    return pin


def _ask(st: PinStatus, prompter: PinPrompter, h: KeyHandle, *, refuse_factory: bool = True) -> PinBuffer | None:
    """The PIN from the operator, or None for a PIN-pad key.  Raises PinCancelled.

    The factory PIN is not a PIN to use the key with: anyone who read the CA's leaflet
    could sign.  Typed for any use (signing, a server login, renewal), it is wiped at once
    and :class:`~zhenglian.errors.InitialPinInUse` is raised — nothing reaches the key and
    no try is spent; the front end leads to the PIN change (the GUI opens the change
    dialog, the CLI names ``zhenglian pin change``).  Only ``zhenglian pin verify``
    (``refuse_factory`` False) checks it against the key, to tell the operator it must change.
    """
    if st.pinpad:
        return None
    pin = prompter.ask_pin(st)
    if pin is None:
        raise errors.PinCancelled()
    return refuse_factory_pin(h, pin) if refuse_factory and not st.so else pin


def gate_and_ask(h: KeyHandle, prompter: PinPrompter) -> tuple[PinStatus, PinBuffer | None]:
    """Flags first (refuse when locked, confirm the final try), then the PIN.

    For callers that log in themselves (a signing batch): they pass
    ``confirmed_final_try=status.final_try`` and wipe the PIN.  None means
    the key's PIN pad.  Raises PinLocked, FinalTryNotConfirmed, PinCancelled.
    """
    st = gate(h, prompter)
    return st, _ask(st, prompter, h)


@contextmanager
def interactive_session(h: KeyHandle, prompter: PinPrompter, *, rw: bool = False,
                        allow_initial_pin: bool = True, cache: Any = None, keep: bool = False) -> Iterator[Any]:
    """One attempt: flags, (confirmation), PIN (or PIN pad), login; yields a logged-in session.

    The PIN is asked before the session is opened, so the module is not held
    while the operator types.  ``cache`` (a
    :class:`zhenglian.tokens.pincache.PinCache`) supplies a PIN the operator
    chose to keep for this batch (``prompter.keep_pin()`` says so, or the caller
    with ``keep``: the bridge keeps its login PIN for the job's signing step); a
    cached PIN that fails is forgotten at once and never tried again.
    """
    pin = cache.get(h.serial) if cache is not None else None
    from_cache = pin is not None
    try:
        st = gate(h, prompter)
        if pin is None:
            pin = _ask(st, prompter, h)
        with h.backend.session(h.serial, rw=rw) as session:
            try:
                with prompter.pinpad(st) if pin is None else nullcontext():
                    initial = login(h, session, pin, confirmed_final_try=st.final_try)
            except errors.ZhenglianError:
                if from_cache:
                    cache.forget(h.serial)
                raise
            if pin is not None and cache is not None and not from_cache and (keep or prompter.keep_pin()):
                cache.put(h.serial, pin)
            _wipe(pin)
            try:
                if initial and not allow_initial_pin:
                    raise errors.InitialPinInUse()
                yield session
            finally:
                logout(h, session)
    finally:
        _wipe(pin)


def interactive_verify(h: KeyHandle, prompter: PinPrompter) -> bool:
    """Check the PIN once.  True when it is the CA's factory PIN (change it now)."""
    st = gate(h, prompter)
    pin = _ask(st, prompter, h, refuse_factory=False)
    try:
        with h.backend.session(h.serial) as session:
            with prompter.pinpad(st) if pin is None else nullcontext():
                initial = login(h, session, pin, confirmed_final_try=st.final_try)
            logout(h, session)
        return initial
    finally:
        _wipe(pin)


def interactive_change(h: KeyHandle, prompter: PinPrompter, cache: Any = None) -> None:
    """Flags (user PIN), then old and new PIN from the prompter, then C_SetPIN."""
    _interactive_set(h, prompter, cache, so=False)


def interactive_unlock(h: KeyHandle, prompter: PinPrompter, cache: Any = None) -> None:
    """Flags (SO PIN), then SO PIN and new user PIN from the prompter, then C_InitPIN."""
    _interactive_set(h, prompter, cache, so=True)


def _interactive_set(h: KeyHandle, prompter: PinPrompter, cache: Any, *, so: bool) -> None:
    st = gate(h, prompter, so=so)
    ask, act = (prompter.ask_unlock, unlock) if so else (prompter.ask_change, change)
    answer = ask(st, key_policy(h))
    if answer is None:
        raise errors.PinCancelled()
    try:
        act(h, *answer, confirmed_final_try=st.final_try)
    finally:
        _wipe(*answer)
        if cache is not None:
            cache.forget(h.serial)  # a kept PIN is stale once the PIN changed
