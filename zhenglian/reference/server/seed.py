"""``demo-seed``: trust the demo CAs, register the demo institutions, make tasks.

Uses the same demo CA and demo key specifications as ``zhenglian demo init``
(zhenglian.reference.democa / provision), so a demo key logs in at once.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from zhenglian.reference import democa
from zhenglian.reference.provision import DEMO_KEYS, SM2_DEMO_KEYS, DemoKeySpec
from zhenglian.reference.server import docgen
from zhenglian.reference.server.store import Store


def trust_demo_cas(store: Store, ca_base: Path | None = None) -> list[str]:
    """Trust every demo root, EC and SM2 (making the demo CAs if needed); their issuing CAs as intermediates."""
    from asn1crypto import x509

    added = []
    for ca_id in sorted({spec.ca_id for spec in (*DEMO_KEYS, *SM2_DEMO_KEYS)}):
        democa.load_or_create(ca_id, ca_base)
        democa.load_or_create_sm2(ca_id, ca_base)
    for root_path in [*democa.roots_pem(ca_base), *democa.sm2_roots_pem(ca_base)]:
        for der in _pem_ders(root_path.read_bytes()):
            added.append(store.add_ca(der, x509.Certificate.load(der).subject.human_friendly, "root"))
        sub = root_path.parent / "sub.pem"
        if sub.is_file():
            for der in _pem_ders(sub.read_bytes()):
                store.add_ca(der, x509.Certificate.load(der).subject.human_friendly, "intermediate")
    return added


def _pem_ders(data: bytes) -> list[bytes]:
    from cryptography import x509

    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(data)]


def _deadline(rng: random.Random) -> str:
    day = dt.date.today() + dt.timedelta(days=rng.randrange(3, 30))
    return day.isoformat()


def seed_institution(store: Store, spec: DemoKeySpec, tasks: int = 4, seed: int = 0,
                     seals: bool = True) -> list[str]:
    """Register one institution with its seals and ``tasks`` pending tasks (cycling the templates)."""
    store.add_institution(spec.uscc, spec.organization)
    if seals:
        _add_seals(store, spec)
    available = spec.seal_names or ("公章",)
    rng = random.Random(f"{spec.uscc}:{seed}")
    ids = []
    for i in range(tasks):
        tpl = docgen.TEMPLATES[i % len(docgen.TEMPLATES)]
        seal_type = tpl.seal_type if tpl.seal_type in available else available[0]
        pdf = docgen.make_pdf(tpl, spec.organization, spec.uscc, seed=rng.randrange(1 << 30),
                              font_dir=store.config.data_dir / "fonts")
        ids.append(store.add_task(spec.uscc, f"{tpl.title}（{spec.organization}）", tpl.business_type, pdf,
                                  f"{tpl.kind}-{i + 1:03d}.pdf", seal_type, dict(tpl.placement),
                                  _deadline(rng)))
    return ids


def _add_seals(store: Store, spec: DemoKeySpec) -> None:
    from zhenglian.seals import render

    have = {(r["name"], r["seal_type"]) for r in store.seals(spec.uscc)}
    for seal_type in spec.seal_names:
        name = f"{spec.organization}{seal_type}"
        if (name, seal_type) in have:
            continue
        png = render.render_seal_png(spec.organization, seal_type, diameter_mm=42.0)
        store.add_seal(spec.uscc, name, seal_type, png, 42.0, 42.0)


def demo_seed(store: Store, tasks_per_institution: int = 4, ca_base: Path | None = None) -> dict[str, list[str]]:
    trust_demo_cas(store, ca_base)
    # the SM2 demo key's institution too; its seals live on the server (the SM2 test token keeps none)
    return {spec.uscc: seed_institution(store, spec, tasks_per_institution) for spec in (*DEMO_KEYS, *SM2_DEMO_KEYS)}
