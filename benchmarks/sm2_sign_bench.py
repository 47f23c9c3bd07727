"""SM2 against RSA through the real signing path, in one run: what SM2 adds per document.

Run:  .venv/bin/python benchmarks/sm2_sign_bench.py [--docs 30]

Everything is private (a temporary ZHENGLIAN_HOME, SOFTHSM2_CONF and ZL_SM2TOKEN_DIR).  Keys:

- RSA-2048 on SoftHSM (a demo key, CKM_SHA256_RSA_PKCS), and
- SM2 on the software SM2 PKCS#11 token (libsm2token.so), one per vendor numbering:
  vendor8000 (+0x8100: the token hashes), vendor4 (+4: the client computes e), v8005.

Each key signs the same N one-page PDFs with the same 42 mm seal through
``pdf.keysign.key_batch`` (one login; the product's path: mechanism from the token, every
signature checked against the certificate before it is embedded — SM2 with
zhenglian.pki.sm2).  Printed: median and mean ms per document, and SM2 minus RSA.

The SM2 key is measured with two certificates: the demo SM2 CA's (built with asn1crypto) and one
made by the openssl CLI (as a CA's own software makes them).  Without zhenglian/pki/asn1fix.py,
asn1crypto rebuilt the demo CA certificate's 126-byte issuer name hundreds of times per
signature (+30 ms; docs/sm2.md, "Speed"); both rows should now be close to RSA.

Target (issue 14): SM2 adds ≤ 5 ms per document over RSA.  The script reports, it does not judge.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TARGET_MS = 5.0
SM2_PIN = "Sm2@Bench2026"
FAMILIES = ("vendor8000", "vendor4", "v8005")


def _sm2_tokens(base: Path) -> dict[str, tuple[Path, str]]:
    """One SM2 token per family (same key and certificate), each behind its own copy of the module."""
    from zhenglian.pki import uscc
    from zhenglian.reference import democa, provision, sm2token
    from zhenglian.reference.native import built_module

    ca = democa.load_or_create_sm2("netca", base / "ca")
    spec = provision.DemoKeySpec(ca_id="netca", label="SM2-BENCH", organization="东莞市国密示范科技有限公司",
                                 uscc=uscc.complete("91441900MA5GM2E2"), uscc_field="serialNumber",
                                 days_valid=365, user_pin=SM2_PIN)
    pair = ca.issue_sm2_pair(provision.subject_for(spec), encryption=False)
    lib = built_module("sm2token")
    out = {}
    for i, family in enumerate(FAMILIES):
        state = base / f"sm2-{family}"
        serial = f"SM2BENCH{i}"
        sm2token.add_token(state, f"SM2 {family}", serial, SM2_PIN, "So@Bench2026",
                           [sm2token.TokenKey(pair.sign_key.pkcs8_pem(), pair.sign_cert.dump(), b"\x01", "sign")],
                           family=family, ca_certs=[ca.chain[0].dump()])
        module = base / f"libsm2token-{family}.so"
        shutil.copy2(lib, module)
        out[family] = (module, serial)
    return out


def _openssl_token(base: Path) -> tuple[Path, str] | None:
    """The SM2 key and certificate made by the openssl CLI (as a CA's own software would), vendor8000."""
    import subprocess

    from zhenglian.reference import sm2token
    from zhenglian.reference.native import built_module

    if shutil.which("openssl") is None:
        return None
    d = base / "openssl-ca"
    d.mkdir()
    distid = "distid:1234567812345678"
    gen = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2"]
    steps = [
        [*gen, "-out", "ca.key"],
        ["req", "-x509", "-new", "-utf8", "-key", "ca.key", "-sm3", "-sigopt", distid, "-subj",
         "/C=CN/ST=Guangdong/L=Guangzhou/O=NETCA Certificate Authority/CN=NETCA SM2 ID CA (BENCH)", "-days", "30",
         "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign", "-out", "ca.pem"],
        [*gen, "-out", "ee.key"],
        ["req", "-new", "-utf8", "-key", "ee.key", "-sm3", "-sigopt", distid, "-subj",
         "/C=CN/ST=广东省/L=东莞市/O=东莞市国密示范科技有限公司/serialNumber=91441900MA5GM2E2XX/CN=东莞市国密示范科技有限公司",
         "-out", "ee.csr"],
        ["x509", "-req", "-in", "ee.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-sm3", "-sigopt",
         distid, "-vfyopt", distid, "-days", "30", "-extfile", "ext.cnf", "-outform", "DER", "-out", "ee.der"],
        ["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    ]
    (d / "ext.cnf").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    for args in steps:
        if subprocess.run(["openssl", *args], cwd=d, capture_output=True, timeout=60).returncode != 0:
            return None
    state = base / "sm2-openssl"
    sm2token.add_token(state, "SM2 openssl", "SM2BENCHO", SM2_PIN, "So@Bench2026",
                       [sm2token.TokenKey((d / "ee.key").read_bytes(), (d / "ee.der").read_bytes(), b"\x01", "s")],
                       family="vendor8000", ca_certs=[(d / "ca.der").read_bytes()])
    module = base / "libsm2token-openssl.so"
    shutil.copy2(built_module("sm2token"), module)
    return module, "SM2BENCHO"


def _time_batch(h, pin: str, docs: list[Path], out_dir: Path, seal) -> list[float]:  # type: ignore[no-untyped-def]
    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.keysign import key_batch
    from zhenglian.tokens.secret import PinBuffer

    out_dir.mkdir(parents=True, exist_ok=True)
    times = []
    with key_batch(h, PinBuffer(pin), seal=seal) as batch:
        batch.sign(docs[0], out_dir / "warm.pdf", [pl.AtPosition(1, 100, 100)])  # warm: fonts, plan probing
        for doc in docs:
            t0 = time.perf_counter()
            batch.sign(doc, out_dir / doc.name, [pl.AtPosition(1, 100, 100)])
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=30)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="zl-sm2-bench-"))
    try:
        os.environ["ZHENGLIAN_HOME"] = str(base / "home")
        from zhenglian.reference import provision, softhsm

        conf = softhsm.write_conf(base / "softhsm2.conf")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        rsa_spec = dataclasses.replace(provision.DEMO_KEYS[1], label="BENCH-RSA", seal_names=())
        provision.provision_key(rsa_spec, conf)
        tokens = _sm2_tokens(base)

        from helpers import pdf as ph

        from zhenglian.pdf.seal import SealPicture
        from zhenglian.services import Context

        seal = SealPicture(ph.seal_png("东莞市国密示范科技有限公司", "合同专用章", 42.0, 600), 42.0, 42.0, "合同专用章")
        template = ph.make_pdf(None, ph.contract_pages(1))
        docs = []
        (base / "in").mkdir()
        for i in range(args.docs):
            p = base / "in" / f"doc{i:03d}.pdf"
            p.write_bytes(template)
            docs.append(p)

        rows: list[tuple[str, list[float]]] = []
        ctx = Context.create()
        rsa = ctx.tokens.handle(ctx.tokens.find_key("BENCH-RSA"))
        rows.append(("RSA-2048 SoftHSM (CKM_SHA256_RSA_PKCS)", _time_batch(rsa, rsa_spec.user_pin, docs,
                                                                          base / "out-rsa", seal)))
        runs = [(f"SM2 sm2token {family} (demo CA cert)", f"sm2-{family}", module, serial)
                for family, (module, serial) in tokens.items()]
        made = _openssl_token(base)
        if made is not None:
            runs.append(("SM2 sm2token vendor8000 (OpenSSL cert)", "sm2-openssl", *made))
        for name, state, module, serial in runs:
            os.environ["ZL_SM2TOKEN_DIR"] = str(base / state)  # read at this copy's C_Initialize
            c = Context.create([str(module)])
            key = next(k for k in c.tokens.scan() if k.serial == serial)
            h = c.tokens.handle(key)
            rows.append((name, _time_batch(h, SM2_PIN, docs, base / f"out-{state}", seal)))

        rsa_median = statistics.median(rows[0][1])
        print(f"{args.docs} one-page documents per key, one login, 42 mm seal; ms per document")
        print(f"{'key':46s} {'median':>8s} {'mean':>8s} {'vs RSA':>8s}")
        for name, times in rows:
            med = statistics.median(times)
            extra = "" if name.startswith("RSA") else f"{med - rsa_median:+8.2f}"
            goal = "" if name.startswith("RSA") else f"   (target: SM2 adds ≤ {TARGET_MS:g} ms)"
            print(f"{name:46s} {med:8.2f} {statistics.mean(times):8.2f} {extra:>8s}{goal}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
