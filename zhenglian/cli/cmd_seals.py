"""``zhenglian seals``: the seals of each key; ``seals import`` / ``seals remove``.

Listing needs no PIN: seals, like certificates, are public objects on the key.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from zhenglian import errors
from zhenglian.cli.output import line, print_json
from zhenglian.seals.model import Seal
from zhenglian.seals.render import SEAL_TYPES
from zhenglian.seals.store import (
    RejectedSeal,
    SealCatalog,
    SealFileStore,
    import_seal_file,
    seals_for_certificate,
)
from zhenglian.services import Context
from zhenglian.tokens.dataobjects import SealObject, read_seal_objects
from zhenglian.tokens.model import KeyCert, KeyInfo

SOURCE_ZH = {"key": "UKey", "server": "签章服务器", "file": "导入的图片"}
SIGNATURE_ZH = {"valid": "有效", "invalid": "无效", "unsupported": "签名算法不受支持，无法验证"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("seals", parents=[common], help="列出每个 UKey 的印章 / list the seals of each key")
    p.add_argument("--key", metavar="SERIAL", help="只看这个 UKey（序列号或标签）/ only this key (serial or label)")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    p.set_defaults(func=run_list)
    actions = p.add_subparsers(dest="seals_action", metavar="ACTION")

    i = actions.add_parser("import", parents=[common],
                           help="导入印章图片并绑定到证书 / import a seal picture for a certificate")
    i.add_argument("file", metavar="FILE", help="印章图片（PNG，透明背景最佳）/ seal picture (PNG, transparent)")
    i.add_argument("--name", required=True, help="印章名称 / seal name")
    i.add_argument("--type", required=True, dest="seal_type",
                   help=f"印章类型，如 {'、'.join(SEAL_TYPES)} / seal type")
    i.add_argument("--key", metavar="SERIAL", help="绑定到此 UKey 的签名证书 / bind to this key's signing certificate")
    i.add_argument("--cert-sha256", metavar="HEX", help="或直接给出证书指纹 / or the certificate's SHA-256")
    i.add_argument("--size-mm", type=float, default=42.0, help="印章直径（毫米）/ printed width in mm (42)")
    i.add_argument("--json", action="store_true", help="JSON 输出 / JSON output")
    i.set_defaults(func=run_import)

    r = actions.add_parser("remove", parents=[common], help="删除导入的印章 / remove an imported seal")
    r.add_argument("seal_id", metavar="ID", help="seals 列表中的 file:… 编号 / the file:… id from the list")
    r.set_defaults(func=run_remove)


# --- gathering ---------------------------------------------------------------

def _read_objects(ctx: Context, key: KeyInfo) -> list[SealObject]:
    module = ctx.tokens.module_for(key)
    with module.session(key.serial) as session:
        return read_seal_objects(session)


def _certificates(key: KeyInfo) -> list[KeyCert]:
    """The key's signing certificates, best first (seals bind to these)."""
    best = key.signing_certificate()
    rest = [c for c in key.signing_certificates() if c is not best]
    return ([best] if best else []) + rest


def key_catalogs(ctx: Context, key: KeyInfo) -> list[tuple[KeyCert, SealCatalog]]:
    """One catalog per signing certificate on the key."""
    objects = _read_objects(ctx, key)
    certs = _certificates(key)
    store = SealFileStore()
    out = []
    for index, cert in enumerate(certs):
        others = [c.info.der for c in certs if c is not cert]
        # Bare pictures on the key belong to its main signing certificate only.
        objs = objects if index == 0 else [o for o in objects if o.kind == "seseal"]
        out.append((cert, seals_for_certificate(cert.info.der, objs, store=store, other_certs=others)))
    return out


def _selected_keys(ctx: Context, serial: str | None) -> list[KeyInfo]:
    keys = ctx.tokens.scan()
    if serial:
        return [ctx.tokens.find_key(serial, keys)]
    return keys


# --- listing -----------------------------------------------------------------

def _seal_lines(seal: Seal, now: datetime) -> list[str]:
    valid = "有效 valid" if seal.is_valid_at(now) else "已失效 NOT VALID"
    period = (f"{seal.valid_from:%Y-%m-%d} — {seal.valid_to:%Y-%m-%d}"
              if seal.valid_from and seal.valid_to else "—")
    bound = {True: "是，SESeal 证书列表含此证书 / yes, named in the SESeal's certList",
             False: "否 / NO",
             None: "按来源绑定（无 SESeal）/ by its source (no SESeal)"}[seal.names_certificate]
    out = [
        f"    印章 seal: {seal.name}   [{seal.id}]",
        f"      类型 type: {seal.seal_type or '未标明 unspecified'}   "
        f"尺寸 size: {seal.width_mm:g}×{seal.height_mm:g} mm   "
        f"来源 source: {SOURCE_ZH[seal.source]} ({seal.source})",
        f"      有效期 validity: {period}（{valid}）",
        f"      绑定证书 bound to this certificate: {bound}",
    ]
    if seal.signature:
        out.append(f"      印章签名 seal signature: {SIGNATURE_ZH.get(seal.signature, seal.signature)} ({seal.signature})")
    return out


def _rejected_lines(r: RejectedSeal) -> list[str]:
    return [f"    未采用 not used: {r.name}（{SOURCE_ZH[r.source]}）— {r.message_zh()} / {r.message_en()}"]


def describe(key: KeyInfo, catalogs: list[tuple[KeyCert, SealCatalog]], now: datetime,
             read_error: str | None = None) -> list[str]:
    ca = f"{key.ca_name_zh} ({key.ca_name_en})" if key.ca_id else "未知CA (unknown CA)"
    demo = " [演示 DEMO]" if key.demo else ""
    out = [f"{ca}{demo}  标签 label: {key.label}  序列号 serial: {key.serial}"]
    if read_error:
        out.append(f"  读取失败 / could not read the key: {read_error}")
    elif not catalogs:
        out.append("  没有签名证书，无法绑定印章 / no signing certificate: no seal can be bound")
    for cert, catalog in catalogs:
        info = cert.info
        out.append(f"  证书 certificate: {info.organization or info.common_name}  "
                   f"（{info.not_after:%Y-%m-%d} 到期 / expires）  SHA-256 {info.sha256[:16]}…")
        if not catalog.seals:
            out.append("    没有印章 / no seal")
        for seal in catalog.seals:
            out += _seal_lines(seal, now)
        for r in catalog.rejected:
            out += _rejected_lines(r)
    return out


def _key_dict(key: KeyInfo, catalogs: list[tuple[KeyCert, SealCatalog]], now: datetime) -> dict[str, Any]:
    return {
        "serial": key.serial,
        "label": key.label,
        "ca": key.ca_id,
        "demo": key.demo,
        "certificates": [
            {
                "organization": cert.info.organization,
                "common_name": cert.info.common_name,
                "uscc": cert.info.uscc,
                "sha256": cert.info.sha256,
                "not_before": cert.info.not_before.isoformat(),
                "not_after": cert.info.not_after.isoformat(),
                **catalog.to_dict(now),
            }
            for cert, catalog in catalogs
        ],
    }


def run_list(args: argparse.Namespace) -> int:
    ctx = Context.create(args.module)
    now = datetime.now(UTC)
    results = []
    for key in _selected_keys(ctx, args.key):
        if key.read_error:
            results.append((key, [], key.read_error))
            continue
        try:
            results.append((key, key_catalogs(ctx, key), None))
        except (errors.TokenRemoved, errors.NoKey):
            continue  # pulled out while we looked
    if args.json:
        print_json({"keys": [{**_key_dict(k, cats, now), "read_error": err} for k, cats, err in results]})
        return 0
    if not results:
        line("未检测到 UKey / no key found")
    for key, catalogs, err in results:
        for text in describe(key, catalogs, now, err):
            line(text)
        line()
    return 0


# --- import / remove -----------------------------------------------------------

def _target_certificate(ctx: Context, args: argparse.Namespace) -> str:
    if args.cert_sha256:
        return str(args.cert_sha256)
    key = ctx.tokens.find_key(args.key)
    cert = key.signing_certificate()
    if cert is None:
        raise errors.NoCertificate(serial=key.serial)
    return cert.info.sha256


def run_import(args: argparse.Namespace) -> int:
    ctx = Context.create(args.module)
    fp = _target_certificate(ctx, args)
    seal = import_seal_file(args.file, args.name, args.seal_type, fp, width_mm=args.size_mm)
    if args.json:
        print_json(seal.to_dict())
    else:
        line(f"已导入印章 / seal imported: {seal.name}  [{seal.id}]")
        line(f"  尺寸 size: {seal.width_mm:g}×{seal.height_mm:g} mm")
        line(f"  绑定证书 bound to certificate SHA-256 {seal.cert_sha256}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    seal_id = str(args.seal_id)
    bare = seal_id.removeprefix("file:")
    if not SealFileStore().remove(bare):
        raise errors.UsageError(detail=f"没有编号为 {seal_id} 的导入印章 / no imported seal {seal_id}")
    line(f"已删除 / removed: {seal_id}")
    return 0
