"""PKCS#11 token flags that matter to the user (PIN state, PIN pad)."""

from __future__ import annotations

from dataclasses import dataclass

CKF_LOGIN_REQUIRED = 0x4
CKF_USER_PIN_INITIALIZED = 0x8
CKF_PROTECTED_AUTHENTICATION_PATH = 0x100
CKF_TOKEN_INITIALIZED = 0x400
CKF_USER_PIN_COUNT_LOW = 0x10000
CKF_USER_PIN_FINAL_TRY = 0x20000
CKF_USER_PIN_LOCKED = 0x40000
CKF_USER_PIN_TO_BE_CHANGED = 0x80000
CKF_SO_PIN_COUNT_LOW = 0x100000
CKF_SO_PIN_FINAL_TRY = 0x200000
CKF_SO_PIN_LOCKED = 0x400000
CKF_SO_PIN_TO_BE_CHANGED = 0x800000


@dataclass(frozen=True)
class TokenFlags:
    raw: int

    def _has(self, bit: int) -> bool:
        return bool(self.raw & bit)

    @property
    def initialized(self) -> bool:
        return self._has(CKF_TOKEN_INITIALIZED)

    @property
    def pin_initialized(self) -> bool:
        return self._has(CKF_USER_PIN_INITIALIZED)

    @property
    def protected_auth_path(self) -> bool:
        return self._has(CKF_PROTECTED_AUTHENTICATION_PATH)

    @property
    def count_low(self) -> bool:
        return self._has(CKF_USER_PIN_COUNT_LOW)

    @property
    def final_try(self) -> bool:
        return self._has(CKF_USER_PIN_FINAL_TRY)

    @property
    def locked(self) -> bool:
        return self._has(CKF_USER_PIN_LOCKED)

    @property
    def to_be_changed(self) -> bool:
        return self._has(CKF_USER_PIN_TO_BE_CHANGED)

    @property
    def so_count_low(self) -> bool:
        return self._has(CKF_SO_PIN_COUNT_LOW)

    @property
    def so_final_try(self) -> bool:
        return self._has(CKF_SO_PIN_FINAL_TRY)

    @property
    def so_locked(self) -> bool:
        return self._has(CKF_SO_PIN_LOCKED)

    def pin_state(self) -> str:
        """One word for listings: locked / final_try / count_low / to_be_changed / ok."""
        if self.locked:
            return "locked"
        if self.final_try:
            return "final_try"
        if self.count_low:
            return "count_low"
        if self.to_be_changed:
            return "to_be_changed"
        return "ok"

    def to_dict(self) -> dict[str, object]:
        return {
            "raw": hex(self.raw),
            "pin_state": self.pin_state(),
            "user_pin_count_low": self.count_low,
            "user_pin_final_try": self.final_try,
            "user_pin_locked": self.locked,
            "user_pin_to_be_changed": self.to_be_changed,
            "so_pin_locked": self.so_locked,
            "protected_authentication_path": self.protected_auth_path,
        }
