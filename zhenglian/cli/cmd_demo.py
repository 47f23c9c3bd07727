"""``zhenglian demo init``: SoftHSM keys that look like each CA's real keys.

Imports the reference package lazily: an installed client without it says so.
"""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from zhenglian import errors, paths
from zhenglian.cli.output import line, print_json
from zhenglian.config import Settings


class DemoUnavailable(errors.ZhenglianError):
    code = "demo_unavailable"
    zh = "演示功能不可用：{detail}"
    en = "The demo is not available: {detail}"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", parents=[common], help="演示 UKey 与演示环境 / demo keys and environment")
    actions = p.add_subparsers(dest="demo_action", metavar="ACTION", required=True)
    i = actions.add_parser("init", parents=[common], help="创建三个演示 UKey / create the three demo keys")
    i.add_argument("--force", action="store_true", help="删除已有演示 UKey 后重建 / recreate existing demo keys")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_init)
    r = actions.add_parser("run", parents=[common], help="演示：UKey + 参考服务器 + 托盘程序 / demo keys, server and tray app")
    r.add_argument("--port", type=int, default=8765, help="参考签署服务器端口 / reference server port")
    r.add_argument("--no-gui", action="store_true", help="不启动托盘程序 / do not start the tray app")
    r.add_argument("--seconds", type=float, default=None, help="运行 N 秒后退出 / stop after N seconds")
    r.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    try:
        from zhenglian.reference import demo_run
    except ImportError as exc:
        raise DemoUnavailable(detail=type(exc).__name__) from None
    return demo_run.run(port=args.port, gui=not args.no_gui, seconds=args.seconds, out=line)


def _skf_demo_key(force: bool) -> Any:
    """The SKF demo key (skfsoft); None, with a note, where skfsoft cannot be built here."""
    try:
        from zhenglian.reference import skfsoft

        if force:
            shutil.rmtree(skfsoft.demo_dir(), ignore_errors=True)
        return skfsoft.provision_demo()
    except (ImportError, OSError, RuntimeError) as exc:  # SkfSoftUnavailable is a RuntimeError
        line(f"未创建 SKF 演示 UKey / no SKF demo key: {exc}")
        return None


def _sm2_keys(provision) -> list:  # type: ignore[no-untyped-def, type-arg]
    """The SM2 demo key(s) on the software SM2 token; skipped with a note when it cannot be built."""
    from zhenglian.reference.native import NativeBuildError

    if any((provision.sm2_home() / "tokens").glob("token-*")):
        return []
    try:
        return list(provision.provision_sm2_all())
    except NativeBuildError as exc:
        line("未能构建 SM2 测试 UKey（需要 gcc 与 libssl-dev），跳过 SM2 演示 UKey / "
             f"cannot build the SM2 test token (needs gcc and libssl-dev); no SM2 demo key: {str(exc)[:200]}")
        return []


def run_init(args: argparse.Namespace) -> int:
    try:
        from zhenglian.reference import provision, softhsm
    except ImportError as exc:  # the installer does not ship the reference package
        raise DemoUnavailable(detail=type(exc).__name__) from None
    try:
        softhsm.module_path()
        softhsm.util_path()
    except softhsm.SoftHSMUnavailable as exc:
        raise DemoUnavailable(detail=str(exc)) from None

    conf = softhsm.default_conf()
    existing = sorted((conf.parent / "tokens").glob("*")) if conf.exists() else []
    if existing and not args.force:
        line("演示 UKey 已存在（用 --force 重建）/ demo keys exist already (use --force to recreate)")
        return 0
    if args.force and conf.parent.exists():
        shutil.rmtree(conf.parent)
        shutil.rmtree(paths.data_dir() / "demo-ca", ignore_errors=True)
    if args.force:
        shutil.rmtree(provision.sm2_home(), ignore_errors=True)
    softhsm.write_conf(conf)
    keys = provision.provision_all(conf)
    skf = _skf_demo_key(args.force)
    keys += _sm2_keys(provision)

    settings = Settings.load()
    settings.demo = True
    settings.save()

    if args.json:
        print_json([{"label": k.spec.label, "serial": k.serial, "ca": k.spec.ca_id,
                     "organization": k.spec.organization, "uscc": k.spec.uscc,
                     "algorithm": k.spec.key_algorithm.upper(),
                     "not_after": k.certificate.not_valid_after_utc.isoformat(),
                     "demo_user_pin": k.spec.user_pin, "demo_so_pin": k.spec.so_pin} for k in keys]
                   + ([{"label": skf.label, "serial": skf.serial, "ca": "szca", "organization": skf.organization,
                        "backend": "skf", "demo_user_pin": skf.user_pin, "demo_so_pin": skf.so_pin}] if skf else []))
        return 0
    line(f"已创建 {len(keys)} 个演示 UKey / created {len(keys)} demo keys (SoftHSM: {conf})")
    for k in keys:
        line(f"  {k.spec.label}  {k.spec.key_algorithm.upper()}  {k.spec.organization}  {k.spec.uscc}  "
             f"有效至 valid until {k.certificate.not_valid_after_utc:%Y-%m-%d}")
        line(f"      演示 PIN demo PIN: {k.spec.user_pin}   SO PIN: {k.spec.so_pin}")
    if skf is not None:
        line(f"  {skf.label}  {skf.organization}  SKF (GM/T 0016) SM2 — {skf.library}")
        line(f"      演示 PIN demo PIN: {skf.user_pin}   SO PIN: {skf.so_pin}")
    line("这些是公开的演示 PIN，只用于演示 UKey / these demo PINs are public, for demo keys only")
    return 0
