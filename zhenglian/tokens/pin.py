"""PIN use cases: status, login, change, unlock — with the lockout kept in view.

Rules (the CA locks the key after 10 consecutive wrong PINs, and only the CA
can unlock it):
- read the key's flags before asking; refuse when locked;
- show tries left before entry: the key's flags combined with our own
  per-serial counter (a flag wins when the two disagree);
- the final try needs an explicit confirmation;
- a PIN the key cannot take is refused before it reaches the key;
- never retry a PIN by ourselves; the PIN stays in a wipeable buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
    serial: str
    so: bool
    flags: TokenFlags
    failures: int  # our own count of consecutive wrong tries
    max_tries: int

    @property
    def pinpad(self) -> bool:
        return self.flags.protected_auth_path

    @property
    def locked(self) -> bool:
        flag = self.flags.so_locked if self.so else self.flags.locked
        return flag or self.failures >= self.max_tries

    @property
    def _final_flag(self) -> bool:
        return self.flags.so_final_try if self.so else self.flags.final_try

    @property
    def _low_flag(self) -> bool:
        return self.flags.so_count_low if self.so else self.flags.count_low

    @property
    def tries_left(self) -> int:
        if self.locked:
            return 0
        if self._final_flag:
            return 1
        failures = self.failures
        if self._low_flag and failures == 0:
            failures = 1  # the key says at least one wrong try: believe the key
        left = self.max_tries - failures
        # Counter says final but the key, which reports flags, says not: the key wins.
        if left <= 1 and self._low_flag:
            left = 2
        return max(left, 1)

    @property
    def final_try(self) -> bool:
        return not self.locked and self.tries_left == 1

    @property
    def exact(self) -> bool:
        """False when the count is an estimate (the key said COUNT_LOW only)."""
        return self.locked or self._final_flag or not (self._low_flag and self.failures == 0)

    def describe_zh(self) -> str:
        who = "管理员 PIN" if self.so else "PIN"
        if self.locked:
            return f"{who} 已锁定"
        approx = "" if self.exact else "约"
        return f"{who} 还可尝试{approx} {self.tries_left} 次（共 {self.max_tries} 次）"

    def describe_en(self) -> str:
        who = "SO PIN" if self.so else "PIN"
        if self.locked:
            return f"{who} locked"
        approx = "" if self.exact else "about "
        return f"{who}: {approx}{self.tries_left} of {self.max_tries} tries left"

    def to_dict(self) -> dict[str, object]:
        return {"serial": self.serial, "so": self.so, "locked": self.locked, "final_try": self.final_try,
                "tries_left": self.tries_left, "exact": self.exact, "max_tries": self.max_tries,
                "failures_counted": self.failures, "pinpad": self.pinpad, "flags": self.flags.to_dict()}


def policy_of(manifest: Manifest | None) -> PinPolicy:
    return manifest.pin if manifest else PinPolicy()


def locked_error(manifest: Manifest | None) -> errors.PinLocked:
    if manifest is None:
        return errors.PinLocked(route_zh="请联系签发该证书的 CA", route_en="contact the CA that issued the certificate")
    return errors.PinLocked(route_zh=manifest.unlock_route_zh(), route_en=manifest.unlock_route_en())


def read_flags(module: Pkcs11Module, serial: str) -> TokenFlags:
    """The key's flags now (a fresh C_GetTokenInfo), not a cached listing."""
    with module.lock:
        _, token = module.find_token(serial)
        return TokenFlags(int(token.flags))


def status(module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, so: bool = False) -> PinStatus:
    return PinStatus(key.serial, so, read_flags(module, key.serial),
                     pincounter.failures(key.serial, so), policy_of(manifest).max_tries)


def _raw(module: Pkcs11Module) -> p11raw.RawPinCalls:
    return p11raw.RawPinCalls.for_module(module.path)


def _fail(rv: int, module: Pkcs11Module, key: KeyInfo, manifest: Manifest | None, so: bool) -> errors.ZhenglianError:
    """Turn a failed PIN call into the right error, counting the try where one was spent."""
    max_tries = policy_of(manifest).max_tries
    if rv == p11raw.CKR_PIN_INCORRECT:
        pincounter.record_failure(key.serial, so)
        try:
            after = status(module, key, manifest, so)
        except errors.ZhenglianError:
            after = PinStatus(key.serial, so, TokenFlags(0), pincounter.failures(key.serial, so), max_tries)
        if after.locked:
            pincounter.record_locked(key.serial, max_tries, so)
            return locked_error(manifest)
        return errors.WrongPin(tries_left=after.tries_left)
    if rv == p11raw.CKR_PIN_LOCKED:
        pincounter.record_locked(key.serial, max_tries, so)
        return locked_error(manifest)
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
        raise locked_error(manifest)
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
        pinpolicy.check_entry(pin, policy_of(manifest))
    user_type = p11raw.CKU_SO if so else p11raw.CKU_USER
    with module.lock:
        rv = _raw(module).login(session.handle, user_type, pin.buffer if pin is not None else None)
    if rv not in (p11raw.CKR_OK, p11raw.CKR_USER_ALREADY_LOGGED_IN):
        raise _fail(rv, module, key, manifest, so)
    pincounter.reset(key.serial, so)
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
    """A logged-in session, logged out and closed on exit whatever happens."""
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
    policy = policy_of(manifest)
    pinpolicy.check_new(new, policy, old, repeat)
    _precheck(module, key, manifest, False, confirmed_final_try)
    pinpolicy.check_entry(old, policy)
    with module.session(key.serial, rw=True) as session:
        with module.lock:
            rv = _raw(module).set_pin(session.handle, old.buffer, new.buffer)
        if rv != p11raw.CKR_OK:
            raise _fail(rv, module, key, manifest, False)
    pincounter.reset(key.serial)


def unlock(module: Pkcs11Module, key: KeyInfo, so_pin: PinBuffer, new: PinBuffer, repeat: PinBuffer,
           manifest: Manifest | None, *, confirmed_final_try: bool = False) -> None:
    """SO login, then C_InitPIN: a new user PIN, keys and certificates kept."""
    pinpolicy.check_new(new, policy_of(manifest), None, repeat)
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
