"""PIN state of an SKF key as the PKCS#11-style flags the layers above already read.

SKF reports counts (``SKF_GetPINInfo``: max, remaining, factory-default); the
tray, the key card and the PIN dialogs speak :class:`TokenFlags`.  This is
the one translation, so an SKF backend adapter stays thin.
"""

from __future__ import annotations

from zhenglian.tokens import flags as f
from zhenglian.tokens.skf.library import PinInfo


def token_flags(user: PinInfo, so: PinInfo | None = None) -> f.TokenFlags:
    raw = f.CKF_TOKEN_INITIALIZED | f.CKF_LOGIN_REQUIRED | f.CKF_USER_PIN_INITIALIZED
    if user.remaining == 0:
        raw |= f.CKF_USER_PIN_LOCKED
    elif user.remaining == 1:
        raw |= f.CKF_USER_PIN_FINAL_TRY
    elif user.remaining < user.max_tries:
        raw |= f.CKF_USER_PIN_COUNT_LOW
    if user.is_default:
        raw |= f.CKF_USER_PIN_TO_BE_CHANGED
    if so is not None:
        if so.remaining == 0:
            raw |= f.CKF_SO_PIN_LOCKED
        elif so.remaining == 1:
            raw |= f.CKF_SO_PIN_FINAL_TRY
        elif so.remaining < so.max_tries:
            raw |= f.CKF_SO_PIN_COUNT_LOW
        if so.is_default:
            raw |= f.CKF_SO_PIN_TO_BE_CHANGED
    return f.TokenFlags(raw)
