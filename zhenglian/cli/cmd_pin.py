"""``zhenglian pin status|verify|change|unlock|reset-count``.

The PIN is read from the terminal without echo (getpass), or with
``--pin-stdin`` one line per PIN from standard input, read byte by byte
straight into a wipeable buffer (no Python string, no read-ahead).  Never
from the command line or the environment, where other users and shell
history could see it.

Before any PIN is read the key's flags are checked: a locked key is refused
without reading anything; the final try needs ``--confirm-final-try`` (or a
y/N answer in a terminal).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from zhenglian import errors
from zhenglian.cli.output import err, line, print_json
from zhenglian.manifest import Manifest, PinPolicy
from zhenglian.services import Context
from zhenglian.tokens import pin as pinmod
from zhenglian.tokens import pincounter
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.secret import PinBuffer

if TYPE_CHECKING:
    from zhenglian.keys.handle import KeyHandle

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pin", parents=[common], help="PIN：状态、验证、修改、解锁 / PIN status, verify, change, unlock")
    actions = p.add_subparsers(dest="pin_action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, reads_pin: bool) -> argparse.ArgumentParser:
        a = actions.add_parser(name, parents=[common], help=help_text)
        a.add_argument("--key", metavar="SERIAL", help="UKey 序列号（插了多个时必填）/ key serial (needed with several keys)")
        a.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
        if reads_pin:
            a.add_argument("--pin-stdin", action="store_true",
                           help="从标准输入每行读一个 PIN（供脚本用）/ read one PIN per line from standard input")
            a.add_argument("--confirm-final-try", action="store_true",
                           help="确认使用最后一次尝试机会 / confirm using the last try before lockout")
        return a

    action("status", "剩余次数、锁定状态与解锁途径 / tries left, lock state, unlock route", False).set_defaults(func=run_status)
    action("verify", "验证 PIN（1 行）/ check the PIN (1 line)", True).set_defaults(func=run_verify)
    action("change", "修改 PIN（旧、新、再次输入新 PIN：3 行）/ change the PIN (old, new, repeat: 3 lines)",
           True).set_defaults(func=run_change)
    action("unlock", "用管理员 PIN 解锁并设新 PIN（SO PIN、新、再次：3 行）/ unlock with the SO PIN (SO PIN, new, repeat)",
           True).set_defaults(func=run_unlock)
    action("reset-count", "CA 已在别处解锁本 UKey：清零本机计数 / the CA unlocked this key elsewhere: forget our count",
           False).set_defaults(func=run_reset_count)


# --- reading PINs ----------------------------------------------------------

MAX_LINE = 1024


def read_stdin_line(what_zh: str, what_en: str) -> PinBuffer:
    """One line from file descriptor 0 into a wipeable buffer; no read-ahead past the newline.

    The buffer is allocated once (no growth that would leave copies behind)
    and zeroed after the PIN has been moved into its PinBuffer.
    """
    buf = bytearray(MAX_LINE)
    n = 0
    got_any = False
    try:
        while True:
            b = os.read(0, 1)  # one-byte bytes objects are shared singletons: nothing new to wipe
            if not b:
                break
            got_any = True
            if b == b"\n":
                break
            if n == MAX_LINE:
                raise errors.UsageError(detail="输入行过长 / input line too long")
            buf[n] = b[0]
            n += 1
        if n and buf[n - 1] == 0x0D:  # \r\n from Windows scripts
            n -= 1
        if not got_any:
            raise errors.UsageError(detail=f"标准输入中缺少{what_zh}这一行 / standard input has no line for the {what_en}")
        with memoryview(buf) as view:
            return PinBuffer(view[:n])
    finally:
        for i in range(MAX_LINE):
            buf[i] = 0


def read_terminal(prompt: str) -> PinBuffer:
    """One PIN typed at the terminal without echo (getpass); refused when stdin is not a terminal."""
    if not sys.stdin.isatty():
        raise errors.UsageError(detail="没有终端可用于输入 PIN，脚本中请用 --pin-stdin / "
                                       "no terminal to read the PIN from; scripts use --pin-stdin")
    try:
        text = getpass.getpass(prompt)
    except UnicodeDecodeError:
        text = None  # the error's args hold the raw line typed, i.e. the PIN: it must not travel on
    if text is None:
        raise errors.PinUnreadable()  # outside the except block: nothing chained to it
    try:
        return PinBuffer(text)  # PinUnreadable, PIN-free, for a lone surrogate
    finally:
        del text  # the str cannot be wiped; drop our reference at once


def read_pin(from_stdin: bool, prompt_zh: str, prompt_en: str) -> PinBuffer:
    """The one way a command reads a PIN: ``--pin-stdin`` a line from fd 0, else the terminal."""
    if from_stdin:
        return read_stdin_line(prompt_zh, prompt_en)
    return read_terminal(f"{prompt_zh} / {prompt_en}: ")


class TerminalPrompter:
    """PinPrompter over the terminal (getpass) or standard input (--pin-stdin)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.stdin = bool(getattr(args, "pin_stdin", False))
        self.confirm = bool(getattr(args, "confirm_final_try", False))
        self.quiet = bool(getattr(args, "json", False))

    def say(self, text: str) -> None:
        err(text)

    def _read(self, prompt_zh: str, prompt_en: str) -> PinBuffer:
        return read_pin(self.stdin, prompt_zh, prompt_en)

    def keep_pin(self) -> bool:
        return False  # one command, one login: nothing to keep

    def show_error(self, error: errors.ZhenglianError) -> None:
        if not self.quiet:
            self.say(error.user_message())

    def locked(self, st: pinmod.PinStatus, error: errors.PinLocked) -> None:
        pass  # main() prints the error with the CA's unlock route

    def confirm_final_try(self, st: pinmod.PinStatus) -> bool:
        who_zh, who_en = ("管理员 PIN", "SO PIN") if st.so else ("PIN", "PIN")
        self.say(f"注意：{who_zh} 只剩最后一次尝试机会，再错一次 UKey 将被锁定，只能由 CA 解锁。")
        self.say(f"Warning: one {who_en} try left; a wrong {who_en} locks the key and only the CA can unlock it.")
        if self.confirm:
            return True
        if self.stdin or not sys.stdin.isatty():
            return False
        answer = input("确认 PIN 无误并继续？Continue? [y/N] ").strip().lower()
        return answer in ("y", "yes", "是")

    def _tries(self, st: pinmod.PinStatus) -> None:
        if not self.quiet or not self.stdin:
            self.say(f"{st.describe_zh()} / {st.describe_en()}")

    def ask_pin(self, st: pinmod.PinStatus) -> PinBuffer | None:
        self._tries(st)
        return self._read("请输入 UKey 的 PIN", "key PIN")

    def ask_change(self, st: pinmod.PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        self._tries(st)
        if not self.stdin:
            self.say(_policy_text(policy))
        return self._three(("当前 PIN", "current PIN"))

    def ask_unlock(self, so_st: pinmod.PinStatus, policy: PinPolicy) -> tuple[PinBuffer, PinBuffer, PinBuffer] | None:
        self._tries(so_st)
        if not self.stdin:
            self.say(_policy_text(policy))
        return self._three(("管理员 PIN（SO PIN）", "SO PIN"))

    def _three(self, first: tuple[str, str]) -> tuple[PinBuffer, PinBuffer, PinBuffer]:
        got: list[PinBuffer] = []
        try:
            for zh, en in (first, ("新 PIN", "new PIN"), ("再次输入新 PIN", "new PIN again")):
                got.append(self._read(zh, en))
        except BaseException:
            for p in got:
                p.wipe()
            raise
        return got[0], got[1], got[2]

    @contextmanager
    def pinpad(self, st: pinmod.PinStatus) -> Iterator[None]:
        self._tries(st)
        self.say("请在 UKey 的密码键盘上输入 PIN… / enter the PIN on the key's PIN pad…")
        yield


def _policy_text(policy: PinPolicy) -> str:
    from zhenglian.tokens.pinpolicy import evaluate_new

    rules = evaluate_new("", policy)
    return ("新 PIN 要求：" + "；".join(r.zh for r in rules) + "\nNew PIN rules: " + "; ".join(r.en for r in rules))


# --- commands ----------------------------------------------------------------

def _select(args: argparse.Namespace) -> KeyHandle:
    ctx = Context.create(args.module)
    return ctx.tokens.handle(ctx.tokens.find_key(args.key))


def _status_lines(key: KeyInfo, user: pinmod.PinStatus, so: pinmod.PinStatus | None,
                  manifest: Manifest | None) -> list[str]:
    yn = {True: "是 yes", False: "否 no"}
    f = user.flags
    out = [
        f"UKey: {key.display_name()}  序列号 serial: {key.serial}",
        f"PIN: {user.describe_zh()} / {user.describe_en()}",
        f"  本机计数的连续错误 wrong tries counted here: {user.failures}",
        f"  UKey 标志 key flags ({f.raw:#x}): 曾输错 count_low={yn[f.count_low]}  最后一次 final_try={yn[f.final_try]}  "
        f"已锁定 locked={yn[f.locked]}  密码键盘 pinpad={yn[f.protected_auth_path]}",
        (f"管理员 PIN SO PIN: {so.describe_zh()} / {so.describe_en()}" if so is not None else
         "管理员 PIN SO PIN: 状态未知（UKey 未提供）/ state unknown (the key does not say)"),
        "PIN 仍为出厂初始值？无法得知：只有输入 PIN 才能判断，本程序不会替你尝试。",
        "Still the factory PIN? Cannot be known without entering it; the client never tries one for you.",
    ]
    so_locked = so is not None and so.locked
    if user.locked or so_locked:
        err = pinmod.locked_error(manifest, so_locked and not user.locked)
        out += [err.message_zh(), err.message_en(), *[h for h in err.hint() if h]]
    elif user.final_try:
        out.append("只剩最后一次机会：输入前请确认 PIN 无误。/ One try left: make sure of the PIN before entering it.")
    return out


def _so_status(h: KeyHandle) -> pinmod.PinStatus | None:
    """The SO PIN's status, or None (shown as unknown) when the key will not describe it.

    The user PIN's status was just read, so the key is there: a failure here is about the
    SO PIN alone and must not hide the rest.  A key pulled out meanwhile still ends the command.
    """
    try:
        return pinmod.status(h, so=True)
    except (errors.TokenRemoved, errors.NoKey):
        raise
    except errors.ZhenglianError as exc:
        log.info("key %s: SO PIN status unreadable (%s)", h.serial, exc.code)
        return None


def run_status(args: argparse.Namespace) -> int:
    h = _select(args)
    key, manifest = h.key, h.manifest
    user = pinmod.status(h)
    so = _so_status(h)
    so_locked = so is not None and so.locked
    if args.json:
        d: dict[str, Any] = {"key": key.serial, "label": key.label, "ca": key.ca_id,
                             "organization": key.organization(), "user_pin": user.to_dict(),
                             "so_pin": so.to_dict() if so is not None else None, "initial_pin": None}
        if user.locked or so_locked:
            d["unlock"] = pinmod.locked_error(manifest, so_locked and not user.locked).to_dict() | {
                "route_zh": manifest.unlock_route_zh() if manifest and manifest.is_ca else None,
                "route_en": manifest.unlock_route_en() if manifest and manifest.is_ca else None}
        print_json(d)
        return 0
    for text in _status_lines(key, user, so, manifest):
        line(text)
    return 0


def _run(args: argparse.Namespace, work: Any, ok_zh: str, ok_en: str, so: bool = False) -> int:
    """Run one interactive attempt; with --json, report the outcome as JSON on stdout too."""
    h = _select(args)
    prompter = TerminalPrompter(args)
    result: dict[str, Any] = {"key": h.serial}
    try:
        outcome = work(h, prompter)
    except errors.ZhenglianError as exc:
        if args.json:
            result.update(ok=False, **exc.to_dict())
            result["status"] = _safe_status(h, so)
            print_json(result)
        raise
    initial = outcome is True
    if args.json:
        result.update(ok=True, initial_pin=initial, status=_safe_status(h, so))
        print_json(result)
    else:
        line(f"{ok_zh} / {ok_en}")
    if initial:
        raise errors.InitialPinInUse()
    return 0


def _safe_status(h: KeyHandle, so: bool) -> dict[str, object] | None:
    try:
        return pinmod.status(h, so).to_dict()
    except errors.ZhenglianError:
        return None


def run_verify(args: argparse.Namespace) -> int:
    return _run(args, pinmod.interactive_verify, "PIN 正确", "PIN correct")


def run_change(args: argparse.Namespace) -> int:
    return _run(args, pinmod.interactive_change, "PIN 已修改", "PIN changed")


def run_unlock(args: argparse.Namespace) -> int:
    return _run(args, pinmod.interactive_unlock, "已解锁，新 PIN 已设置", "Unlocked; the new PIN is set", so=True)


def run_reset_count(args: argparse.Namespace) -> int:
    key = _select(args).key
    before = pincounter.failures(key.serial)
    pincounter.reset(key.serial)
    if args.json:
        print_json({"key": key.serial, "forgotten": before})
    else:
        line(f"已清零本机对 {key.serial} 的错误计数（原为 {before}）；UKey 自身的锁定状态不受影响。")
        line(f"Forgot this computer's count for {key.serial} (was {before}); the key's own lock state is unchanged.")
    return 0
