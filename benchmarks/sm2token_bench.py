"""Signing on the software SM2 token: each vendor mechanism beside RSA-2048 on the same token.

Run:  .venv/bin/python benchmarks/sm2token_bench.py [--rounds 200]
Prints figures beside the target; asserts nothing.  One signature = C_SignInit + C_Sign
(length query and signature) over 200 bytes, about the size of a CMS signedAttrs.
Target (issue 14): SM2 adds <= 5 ms per document over RSA on the soft token.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from zhenglian.reference import sm2token
from zhenglian.reference.native import built_module
from zhenglian.reference.p11ctypes import CKO_PRIVATE_KEY, UL, RawP11

PIN = "Bench@2026"
TARGET_MS = 5.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zhenglian-sm2bench-"))
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2",
                    "-out", str(tmp / "sm2.pem")], check=True, capture_output=True)
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    state = tmp / "state"
    for i, family in enumerate(sm2token.FAMILIES):
        sm2token.add_token(state, f"bench {family}", f"BENCH{i}", PIN, "So@Bench2026", [
            sm2token.TokenKey((tmp / "sm2.pem").read_bytes(), None, b"\x01", "sm2"),
            sm2token.TokenKey(rsa_pem, None, b"\x02", "rsa")], family=family)
    os.environ["ZL_SM2TOKEN_DIR"] = str(state)
    p11 = RawP11(built_module("sm2token"))
    p11.initialize()
    data = os.urandom(200)
    e = hashlib.new("sm3", data).digest()  # the e mechanisms sign 32 bytes; Z costs one more SM3 on the caller
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.rounds} rounds each")

    def bench(session: int, key: int, number: int, payload: bytes) -> tuple[float, float]:
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            p11.sign_init(session, number, key)
            p11.sign(session, payload)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return statistics.median(times), times[int(len(times) * 0.95) - 1]

    rsa_median = None
    for slot, family in zip(p11.slots(), sm2token.FAMILIES, strict=True):
        s = p11.open(slot)
        assert p11.login_rv(s, PIN) == 0
        keys = {p11.attribute(s, h, 0x102): h for h in p11.find(s, CKO_PRIVATE_KEY)}
        if rsa_median is None:
            rsa_median, p95 = bench(s, keys[b"\x02"], sm2token.CKM_SHA256_RSA_PKCS, data)
            print(f"{'RSA-2048 CKM_SHA256_RSA_PKCS':50s} median {rsa_median:6.3f} ms  p95 {p95:6.3f} ms")
        for mech in sm2token.FAMILIES[family]:
            payload = data if mech.input == "message" else e
            median, p95 = bench(s, keys[b"\x01"], mech.number, payload)
            extra = median - rsa_median
            verdict = "ok" if extra <= TARGET_MS else "OVER"
            print(f"{family + ' ' + mech.name + f' (0x{mech.number:08X})':50s} median {median:6.3f} ms  "
                  f"p95 {p95:6.3f} ms  vs RSA {extra:+6.3f} ms (target <= +{TARGET_MS:.0f} ms: {verdict})")
        p11.call("C_CloseSession", UL(s))
    p11.finalize()


if __name__ == "__main__":
    main()
