"""``zhenglian doctor``: which drivers are there, which keys, which paths."""

from __future__ import annotations

import argparse

from zhenglian import diagnostics
from zhenglian.cli.cmd_keys import BACKEND_NAMES
from zhenglian.cli.output import line, print_json
from zhenglian.services import Context

KIND_ZH = {"ca": "CA", "maker": "厂商 maker", "demo": "演示/测试 demo", "user": "用户添加 user"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", parents=[common], help="诊断驱动与 UKey / diagnose drivers and keys")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context.create(args.module)
    report = diagnostics.collect(ctx)
    if args.json:
        print_json(report)
        return 0
    line(f"证联 zhenglian {report['version']} — {report['os']}, Python {report['python']}")
    for name, ver in report["packages"].items():
        line(f"  {name} {ver or '未安装 not installed'}")
    line()
    line("驱动 Drivers:")
    for d in report["drivers"]:
        state = "已找到 found" if d["found"] else "缺失 missing"
        line(f"  {d['name_zh']} ({d['name_en']}) [{KIND_ZH.get(d['kind'], d['kind'])}]: {state}, UKey {d['keys']}")
        for c in d["modules"]:
            if c["same_as"]:
                line(f"      ✔ {c['path']} → {c['same_as']}")
            elif c["present"]:
                mark = "已加载 loaded" if c["loaded"] else "未加载 not loaded"
                line(f"      ✔ {c['path']} — {mark}")
                if c["error"]:
                    line(f"        {c['error']['message_zh']} / {c['error']['message_en']}")
        if not d["found"]:
            names = sorted({c["path"].replace("\\", "/").split("/")[-1] for c in d["modules"]})
            line(f"      ✘ 未找到 not found: {', '.join(names) or '(本系统无 PKCS#11 驱动 / no PKCS#11 module on this OS)'}")
        for s in d["skf_modules"]:
            if s["present"]:
                mark = "已加载 loaded" if s["loaded"] else "未加载 not loaded"
                line(f"      ✔ SKF {s['path']} — {mark}")
                if s.get("library"):
                    line(f"        {_skf_abilities(s['library'])}")
                if s.get("error"):
                    line(f"        {s['error']['message_zh']} / {s['error']['message_en']}")
    for u in report["user_modules"]:
        ok = "已加载 loaded" if u["loaded"] else "失败 failed"
        kind = BACKEND_NAMES.get(str(u.get("kind")), "")
        line(f"  用户添加 user module: {u['path']} ({kind}) — {ok}")
        if u.get("kind") == "skf" and u.get("library"):
            line(f"      {_skf_abilities(u['library'])}")
        if u["error"]:
            line(f"      {u['error']['message_zh']} / {u['error']['message_en']}")
    for e in report["manifest_errors"]:
        line(f"  ⚠ {e['message_zh']} / {e['message_en']}")
    line()
    line("UKey:")
    if not report["keys"]:
        line("  未检测到 / none")
    for k in report["keys"]:
        tries = f"，还可尝试 {k['pin_tries_left']} 次 / {k['pin_tries_left']} tries left" \
            if k.get("pin_tries_left") is not None else ""
        line(f"  {k['ca'] or '?'} {k['label']} ({k['serial']}) {k['organization'] or ''} — PIN {k['pin_state']}{tries}")
        line(f"      {BACKEND_NAMES.get(k['backend'], k['backend'])}: {k['module']}")
    for u in report["usb_without_driver"]:
        line(f"  ⚠ {u['message_zh']} / {u['message_en']}")
        line(f"    {u['advice_zh']}")
    line()
    deployment = report.get("deployment") or {}
    line("部署默认值 Deployment defaults:")
    if not deployment.get("values") and not deployment.get("problems"):
        line("  无 / none")
    for name, value in deployment.get("values", {}).items():
        line(f"  {name}: {value}  ({deployment.get('sources', {}).get(name, '')})")
    for problem in deployment.get("problems", []):
        line(f"  ⚠ 已跳过 / skipped — {problem}")
    line()
    line("路径 Paths:")
    for name, value in report["paths"].items():
        line(f"  {name}: {value}")
    return 0


def _skf_abilities(info: dict[str, object]) -> str:
    """What a loaded SKF library allows beyond signing: online renewal and event-driven hot-plug."""
    raw = info.get("renewal_missing")
    missing = [str(m) for m in raw] if isinstance(raw, list) else []
    renewal = ("在线续期 online renewal: 支持 supported" if not missing else
               f"在线续期 online renewal: 不支持，缺少 not possible, missing {', '.join(missing)}")
    plug = ("热插拔 hot-plug: SKF_WaitForDevEvent" if info.get("device_events")
            else "热插拔 hot-plug: 轮询 polling")
    return f"{renewal}; {plug}"
