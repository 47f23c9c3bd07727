"""``zhenglian keys`` and ``zhenglian keys watch``."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from datetime import UTC, datetime

from zhenglian.cli.output import line, print_json
from zhenglian.services import Context
from zhenglian.tokens import snapshot
from zhenglian.tokens.model import KeyInfo
from zhenglian.tokens.watcher import KeyEvent, KeyWatcher

PIN_STATE_ZH = {
    "ok": "正常",
    "count_low": "曾输错 PIN",
    "final_try": "仅剩最后一次机会",
    "locked": "已锁定",
    "to_be_changed": "须修改 PIN",
}
USAGE_ZH = {"signing": "签名", "encryption": "加密", "both": "签名/加密", "unknown": "未知"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("keys", parents=[common], help="列出 UKey 及证书 / list keys and certificates")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.set_defaults(func=run_list)
    actions = p.add_subparsers(dest="keys_action", metavar="ACTION")
    w = actions.add_parser("watch", parents=[common], help="实时显示插拔 / print insert and removal events")
    w.add_argument("--json", action="store_true", help="每个事件一行 JSON / one JSON object per event")
    w.add_argument("--interval", type=float, default=None, help="轮询间隔秒数 / poll interval (s)")
    w.add_argument("--count", type=int, default=0, help="收到 N 个事件后退出 / exit after N events")
    w.set_defaults(func=run_watch)


BACKEND_NAMES = {"pkcs11": "PKCS#11", "skf": "SKF (GM/T 0016)"}


def describe_key(key: KeyInfo, now: datetime) -> list[str]:
    ca = f"{key.ca_name_zh} ({key.ca_name_en})" if key.ca_id else "未知CA (unknown CA)"
    demo = " [演示 DEMO]" if key.demo else ""
    out = [
        f"{ca}{demo}  标签 label: {key.label}  序列号 serial: {key.serial}",
        f"  厂商 maker: {key.manufacturer} / {key.model}",
        f"  PIN 状态 PIN state: {PIN_STATE_ZH[key.flags.pin_state()]} ({key.flags.pin_state()})"
        + (f"，还可尝试 {key.pin_tries_left} 次 / {key.pin_tries_left} tries left"
           if key.pin_tries_left is not None else ""),
        f"  驱动 driver: {key.module_path}（{BACKEND_NAMES.get(key.backend, key.backend)}）",
    ]
    if key.read_error:
        out.append(f"  读取证书失败 / could not read certificates: {key.read_error}")
    for cert in key.certificates:
        info = cert.info
        if info.is_ca:
            out.append(f"  CA 证书 CA certificate: {info.common_name}")
            continue
        days = info.days_left(now)
        status = f"剩余 {days} 天 / {days} days left" if days >= 0 else f"已过期 {-days} 天 / expired {-days} days ago"
        paired = {True: "已配对 paired", False: "不匹配 MISMATCH", None: "未核对 unchecked"}[cert.paired]
        out += [
            f"  证书 [{USAGE_ZH[info.usage]}] {info.organization or info.common_name}",
            f"    统一社会信用代码 USCC: {info.uscc or '-'}",
            f"    颁发者 issuer: {info.issuer_fields.get('common_name', info.issuer)}",
            f"    有效期 validity: {info.not_before:%Y-%m-%d} — {info.not_after:%Y-%m-%d}（{status}）",
            f"    密钥 key: {info.key_type} {info.key_bits}, {paired}, CKA_ID {cert.cka_id.hex()}",
        ]
    return out


def run_list(args: argparse.Namespace) -> int:
    ctx = Context.create(args.module)
    snap = snapshot.take(ctx.tokens)
    now = datetime.now(UTC)
    if args.json:
        print_json({
            "keys": [k.to_dict(now) for k in snap.keys],
            "unrecognised": [u.to_dict() for u in snap.unrecognised],
        })
        return 0
    if not snap.keys and not snap.unrecognised:
        line("未检测到 UKey / no key found")
    for key in snap.keys:
        for text in describe_key(key, now):
            line(text)
        line()
    for u in snap.unrecognised:
        line(f"{u.message_zh()} / {u.message_en()}")
        line(f"  {u.advice_zh()}")
    return 0


def _event_dict(ev: KeyEvent) -> dict[str, object]:
    d: dict[str, object] = {"event": ev.kind, "message_zh": ev.describe_zh(), "message_en": ev.describe_en()}
    if ev.key is not None:
        d.update({"serial": ev.key.serial, "label": ev.key.label, "ca": ev.key.ca_id,
                  "organization": ev.key.organization()})
    if ev.unrecognised is not None:
        d.update(ev.unrecognised.to_dict())
    return d


def run_watch(args: argparse.Namespace) -> int:
    ctx = Context.create(args.module)
    interval = args.interval or ctx.settings.key_poll_ms / 1000
    done = threading.Event()
    seen = 0

    def on_event(ev: KeyEvent) -> None:
        nonlocal seen
        if args.json:
            line(json.dumps(_event_dict(ev), ensure_ascii=False))
        else:
            line(f"{datetime.now():%H:%M:%S} {ev.describe_zh()} / {ev.describe_en()}")
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    watcher = KeyWatcher(ctx.tokens, on_event, interval=interval, usb_interval=ctx.settings.usb_poll_ms / 1000)
    if not args.json:
        line("正在监视 UKey 插拔，按 Ctrl+C 退出 / watching for keys, Ctrl+C to stop")
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    watcher.start()
    try:
        while not done.wait(0.2):
            pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
