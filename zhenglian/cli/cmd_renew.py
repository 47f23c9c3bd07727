"""``zhenglian renew``: renew the key's certificate online while it is valid; ``--list`` the reminders."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from zhenglian import errors
from zhenglian.cli.cmd_pin import read_pin
from zhenglian.cli.output import line, print_json
from zhenglian.services import Context
from zhenglian.tokens.secret import PinBuffer


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("renew", parents=[common],
                       help="证书在线续期 / renew the certificate online (while it is valid)")
    p.add_argument("--key", metavar="SERIAL", help="UKey 序列号或标签 / key serial or label")
    p.add_argument("--pin-stdin", action="store_true", help="从标准输入读一行 PIN / read the PIN as one line from stdin")
    p.add_argument("--est-url", metavar="URL", help="CA 的 EST 续期服务地址 / the CA's EST base URL")
    p.add_argument("--confirm-final-try", action="store_true",
                   help="确认最后一次 PIN 尝试 / confirm the last PIN try")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--new-key", dest="new_key", action="store_const", const=True, default=None,
                       help="在 UKey 上生成新密钥对 / make a new key pair on the key")
    group.add_argument("--same-key", dest="new_key", action="store_const", const=False,
                       help="沿用当前密钥对 / keep the current key pair")
    p.add_argument("--list", action="store_true",
                   help="列出记录的证书及到期提醒 / list remembered certificates and due reminders")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.set_defaults(func=run)


def _read_pin(from_stdin: bool) -> PinBuffer:
    """The pin commands' reader: fd 0 byte by byte into the buffer, or the terminal (never a pipe)."""
    pin = read_pin(from_stdin, "请输入 UKey 的 PIN", "key PIN")
    if not pin:
        raise errors.PinCancelled()
    return pin


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    from zhenglian.lifecycle.observe import remember_keys
    from zhenglian.lifecycle.store import CertificateStore

    store = CertificateStore.from_settings(ctx.settings)
    try:
        remember_keys(ctx.tokens, ctx.tokens.scan(), store)
    except errors.ZhenglianError:
        pass  # listing what is remembered does not need a key
    now = datetime.now(UTC)
    certs, due = store.all(), store.due(now)
    if args.json:
        print_json({"certificates": [{"sha256": c.sha256, "key_serial": c.key_serial, "organization": c.organization,
                                      "ca": c.ca_id, "not_after": c.not_after.isoformat(),
                                      "days_left": c.days_left(now), "superseded_by": c.superseded_by,
                                      "seals": list(c.seal_names)} for c in certs],
                    "due": [r.to_dict() for r in due]})
        return 0
    if not certs:
        line("尚未记录任何证书 / no certificate remembered yet")
    for c in certs:
        days = c.days_left(now)
        state = (f"已被 {c.superseded_by[:12]} 取代 / superseded" if c.superseded_by
                 else f"已过期 {-days} 天 / expired" if days < 0 else f"剩余 {days} 天 / {days} days left")
        line(f"{c.display()}  [{c.ca_id or '?'}]  UKey {c.key_serial}")
        line(f"  到期 expires: {c.not_after.astimezone():%Y-%m-%d}（{state}）  SHA-256 {c.sha256[:16]}…")
    for r in due:
        what = "证书已过期" if r.kind == "expired" else f"证书 {r.days_left} 天后到期"
        line(f"提醒 reminder: {r.cert.display()} {what}")
    return 0


def run(args: argparse.Namespace) -> int:
    from zhenglian.lifecycle import renew as renewal
    from zhenglian.lifecycle.carryover import carry_over
    from zhenglian.lifecycle.observe import remember_keys
    from zhenglian.lifecycle.service import paper_route
    from zhenglian.lifecycle.store import CertificateStore
    from zhenglian.tokens import pin as pin_mod

    ctx = Context.create(args.module)
    if args.list:
        return run_list(ctx, args)
    keys = ctx.tokens.scan()
    key = ctx.tokens.find_key(args.key, keys)
    store = CertificateStore.from_settings(ctx.settings)
    remember_keys(ctx.tokens, [key], store)
    manifest = ctx.tokens.pin_policy_manifest(key)
    h = ctx.tokens.handle(key)
    try:
        url = renewal.precheck(h, ctx.settings, manifest, args.est_url)  # nothing asked yet
    except errors.CertificateExpired:
        cert = key.signing_certificate()
        assert cert is not None  # precheck raised NoCertificate otherwise
        remembered = store.get(cert.info.sha256)
        route = paper_route(manifest, len(remembered.seal_names) if remembered else 1)
        for text in route.lines_zh() + route.lines_en():
            line(text)
        line("生成申请表 / make the form: zhenglian forms renew -o 续期申请表.pdf")
        raise
    cert = key.signing_certificate()
    assert cert is not None
    # The key's flags before asking: locked, or the final try unconfirmed, stops here.
    status = pin_mod.gate(h, confirmed_final_try=args.confirm_final_try)
    if not args.json:
        line(f"续期 / renewing: {cert.info.organization or cert.info.subject}（到期 {cert.info.not_after.astimezone():%Y-%m-%d}）")
        line(f"CA: {url}    {status.describe_zh()} / {status.describe_en()}")

    def progress(stage: str) -> None:
        if not args.json:
            zh, en = renewal.STAGES[stage]
            line(f"  … {zh} / {en}")

    pin = None if status.pinpad else pin_mod.refuse_factory_pin(h, _read_pin(args.pin_stdin))
    try:
        result = renewal.renew(h, pin, url, new_key=args.new_key,
                               confirmed_final_try=args.confirm_final_try, hook=progress)
    finally:
        if pin is not None:
            pin.wipe()
    rebound = carry_over(result.old, result.new, key, cert_store=store)
    if args.json:
        data = result.to_dict()
        data["seals_rebound"] = rebound
        print_json(data)
        return 0
    line(f"续期成功 / renewed: 新证书有效期至 {result.new.not_after.astimezone():%Y-%m-%d}"
         f"（原 {result.old.not_after.astimezone():%Y-%m-%d}）/ valid until {result.new.not_after:%Y-%m-%d}")
    line(f"  新证书 SHA-256: {result.new.sha256}")
    if result.resumed:
        line("  （写入的是上次中断时 CA 已签发的证书 / installed the certificate issued in the interrupted run）")
    if rebound:
        line(f"  已将 {rebound} 个导入的印章绑定到新证书 / {rebound} imported seal(s) bound to the new certificate")
    line("  UKey 上的电子印章数据（SESeal）仍指向原证书，须由 CA 重新签发 / seals stored on the key still name the old certificate until the CA reissues them")
    for w in result.warnings:
        line(f"  注意 / note: {w}")
    return 0
