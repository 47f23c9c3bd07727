"""Rules a PIN must meet: the key's hard limits, and the CA's advice for a new PIN.

The CA's guide: change the factory PIN on receipt; at least 8 characters with
upper and lower case letters, digits and special characters.  We add what
every good client refuses: the old PIN again, the CA's published factory PIN,
one repeated character, a simple sequence.  Each rule reports separately so
the change-PIN dialog can show a live checklist.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from zhenglian.errors import PinPolicyViolation
from zhenglian.manifest import PinPolicy
from zhenglian.tokens.secret import PinBuffer

SPECIAL = set(string.punctuation + " ")
PRINTABLE = set(string.ascii_letters + string.digits) | SPECIAL


@dataclass(frozen=True)
class RuleResult:
    id: str
    zh: str
    en: str
    ok: bool


def _is_sequence(text: Sequence[str]) -> bool:
    if len(text) < 3:
        return False
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return steps in ({1}, {-1})


def key_limits(pin: Sequence[str], policy: PinPolicy) -> list[RuleResult]:
    """What the key itself accepts; a PIN failing these is never sent (no try spent).

    ``pin`` is a sequence of characters (``PinBuffer.chars()``), never the PIN as one ``str``.
    """
    return [
        RuleResult("length", f"长度 {policy.min_length}–{policy.max_length} 位",
                   f"{policy.min_length}–{policy.max_length} characters",
                   policy.min_length <= len(pin) <= policy.max_length),
        RuleResult("charset", "只含英文字母、数字和常用符号", "only letters, digits and common symbols",
                   all(c in PRINTABLE for c in pin)),
    ]


def check_entry(pin: PinBuffer, policy: PinPolicy) -> None:
    """Refuse, before it reaches the key, a PIN the key cannot take."""
    failed = [r for r in key_limits(pin.chars(), policy) if not r.ok]
    if failed:
        raise PinPolicyViolation(problems_zh="；".join(r.zh for r in failed),
                                 problems_en="; ".join(r.en for r in failed))


def evaluate_new(new: Sequence[str], policy: PinPolicy, old: Sequence[str] | None = None,
                 repeat: Sequence[str] | None = None) -> list[RuleResult]:
    """Every rule for a new PIN, passed or not (the dialog's checklist).

    The PINs are sequences of characters (``PinBuffer.chars()``, ``PinField.chars()``): a
    ``str`` is accepted too, but a PIN must never be made one (it cannot be wiped).
    """
    new = list(new)
    old = None if old is None else list(old)
    repeat = None if repeat is None else list(repeat)
    rules = [
        RuleResult("min_length", f"至少 {policy.new_min_length} 位", f"at least {policy.new_min_length} characters",
                   len(new) >= policy.new_min_length),
        RuleResult("max_length", f"不超过 {policy.max_length} 位", f"at most {policy.max_length} characters",
                   len(new) <= policy.max_length),
    ]
    classes = {
        "upper": ("含大写字母", "an upper-case letter", any(c.isascii() and c.isupper() for c in new)),
        "lower": ("含小写字母", "a lower-case letter", any(c.isascii() and c.islower() for c in new)),
        "digit": ("含数字", "a digit", any(c.isdigit() for c in new)),
        "special": ("含特殊字符（如 @#!）", "a special character (such as @#!)", any(c in SPECIAL for c in new)),
    }
    for cls in policy.require:
        zh, en, ok = classes[cls]
        rules.append(RuleResult(cls, zh, f"contains {en}", ok))
    rules += [
        RuleResult("charset", "只含英文字母、数字和常用符号", "only letters, digits and common symbols",
                   all(c in PRINTABLE for c in new)),
        RuleResult("not_repeated", "不是同一字符重复", "not one character repeated",
                   len(set(new)) > 1),
        RuleResult("not_sequence", "不是简单序列（如 12345678）", "not a simple sequence (like 12345678)",
                   not _is_sequence(new)),
        RuleResult("not_initial", "不是出厂初始 PIN", "not the factory PIN",
                   not (policy.initial and new == list(policy.initial))),
    ]
    if old is not None:
        rules.append(RuleResult("not_old", "与旧 PIN 不同", "different from the old PIN", new != old))
    if repeat is not None:
        rules.append(RuleResult("repeat", "两次输入一致", "both entries match", new == repeat))
    return rules


def check_new(new: PinBuffer, policy: PinPolicy, old: PinBuffer | None = None,
              repeat: PinBuffer | None = None) -> None:
    failed = [r for r in evaluate_new(new.chars(), policy, old.chars() if old else None,
                                      repeat.chars() if repeat else None) if not r.ok]
    if failed:
        raise PinPolicyViolation(problems_zh="；".join(r.zh for r in failed),
                                 problems_en="; ".join(r.en for r in failed))
