"""``zhenglian forms KIND -o OUT.pdf``: the CA's service forms, filled in from the certificate."""

from __future__ import annotations

import argparse
from typing import Any

from zhenglian import errors
from zhenglian.cli.output import line
from zhenglian.services import Context


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    from zhenglian.lifecycle.service import SERVICES

    p = sub.add_parser("forms", parents=[common],
                       help="生成 CA 业务申请表（PDF）/ make the CA's service forms (PDF)")
    p.add_argument("kind", choices=list(SERVICES),
                   help="renew 更新续期 / unlock 解锁 / reissue 补办 / change 变更 / revoke 注销")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pdf", help="输出文件 / output file")
    p.add_argument("--key", metavar="SERIAL", help="UKey 序列号或标签 / key serial or label")
    p.add_argument("--cert-sha256", metavar="HEX",
                   help="未插入的 UKey：以前见过的证书的 SHA-256 / a certificate seen before (key not plugged in)")
    p.add_argument("--years", type=int, help="续期年限（1–5）/ renewal years (1–5)")
    p.set_defaults(func=run)


def _plugged(ctx: Context, serial: str | None) -> Any | None:
    try:
        keys = ctx.tokens.scan()
        return ctx.tokens.find_key(serial, keys) if keys else None
    except errors.NoKey:
        return None


def _remembered(store: Any, serial: str | None, sha: str | None) -> Any:
    if sha:
        found = store.get(sha)
        if found is None:
            raise errors.CertificateNotRemembered(which=f" SHA-256 为 {sha} 的", which_en=f"{sha} ")
        return found
    active = store.active()
    if serial:
        active = [c for c in active if c.key_serial == serial]
    if len(active) == 1:
        return active[0]
    if not active:
        raise errors.CertificateNotRemembered(which="", which_en="")
    listing = ", ".join(f"{c.sha256[:16]} ({c.display()})" for c in active)
    raise errors.UsageError(detail=f"记录了多张证书，请用 --cert-sha256 选择 / several certificates remembered, "
                                   f"choose one with --cert-sha256: {listing}")


def run(args: argparse.Namespace) -> int:
    from zhenglian.lifecycle import forms
    from zhenglian.lifecycle.observe import remember_keys, seal_names
    from zhenglian.lifecycle.store import CertificateStore

    ctx = Context.create(args.module)
    store = CertificateStore.from_settings(ctx.settings)
    key = None if args.cert_sha256 else _plugged(ctx, args.key)
    if key is not None:
        remember_keys(ctx.tokens, [key], store)
        cert = key.signing_certificate()
        if cert is None:
            raise errors.NoCertificate(serial=key.serial)
        names = seal_names(ctx.tokens.module_for(key), key).get(cert.info.sha256)
        if not names:
            remembered = store.get(cert.info.sha256)
            names = list(remembered.seal_names) if remembered else []
        manifest = ctx.tokens.pin_policy_manifest(key)
        source: Any = key
        who = f"UKey {key.serial}"
    else:
        source = _remembered(store, args.key, args.cert_sha256)
        names = list(source.seal_names)
        manifest = ctx.manifests.by_id(source.ca_id) if source.ca_id else None
        who = f"记录的证书 / remembered certificate {source.sha256[:16]}"
    out = forms.generate(args.kind, source, manifest, args.output, years=args.years, seal_names=names)
    line(f"已生成 / written: {out}  （{who}；印章 seals: {'、'.join(names) or '-'}）")
    line("请打印、填写空白处、签字盖章后交 CA / print it, fill in the blanks, sign and stamp it, and hand it to the CA")
    return 0
