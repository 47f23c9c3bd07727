"""SKF binding figures over skfsoft: list a key, read its PIN info, sign (SM2, RSA), hot-plug latency.

Run:  .venv/bin/python benchmarks/skf_bench.py [--rounds 200]
Prints figures beside targets; asserts nothing.  Uses a private skfsoft directory.
skfsoft's own cost (libcrypto, files) is part of the figures; a hardware key
is slower — these show the binding adds no noticeable cost of its own.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="zhenglian-skf-bench-"))
ROOT = TMP / "skfsoft"
os.environ["ZL_SKFSOFT_DIR"] = str(ROOT)

from _timing import median_ms  # noqa: E402

from zhenglian.reference import skfsoft  # noqa: E402
from zhenglian.tokens.secret import PinBuffer  # noqa: E402
from zhenglian.tokens.skf import SkfLibrary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    lib_path = skfsoft.build()
    sm2 = skfsoft.openssl_sm2_self_signed(TMP / "w", "bench")
    pem, _ = skfsoft.rsa_key_pem()
    skfsoft.create_device(ROOT, "bench", serial="BENCH1", label="bench", user_pin=bytearray(b"12345678"),
                          admin_pin=bytearray(b"Admin@2026"),
                          containers=[skfsoft.Container("SM2", "sm2", sm2),
                                      skfsoft.Container("RSA", "rsa", skfsoft.KeyPair(pem))])
    t0 = time.perf_counter()
    lib = SkfLibrary(lib_path)
    load_ms = (time.perf_counter() - t0) * 1000
    dev = lib.connect("bench")
    app = dev.open_application(skfsoft.DEFAULT_APP)
    sm2c, rsac = app.open_container("SM2"), app.open_container("RSA")
    with PinBuffer(b"12345678") as pin:
        app.verify_pin(pin)
    e = hashlib.new("sm3", b"x").digest()
    di = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(b"x").digest()

    def list_key() -> None:
        for name in lib.devices():
            with lib.connect(name) as d:
                d.info()

    rows = [
        ("load library (ctypes, prototypes)", load_ms, "< 50 ms"),
        ("list + read device info", median_ms(list_key, args.rounds), "< 5 ms"),
        ("PIN info", median_ms(app.pin_info, args.rounds), "< 2 ms"),
        ("certificates of the application", median_ms(app.certificates, args.rounds // 4 or 1), "< 10 ms"),
        ("SM2 sign (ecc_sign)", median_ms(lambda: sm2c.ecc_sign(e), args.rounds), "< 5 ms"),
        ("RSA-2048 sign (rsa_sign)", median_ms(lambda: rsac.rsa_sign(di), args.rounds), "< 10 ms"),
    ]
    lat = []
    for i in range(5):
        got = threading.Event()
        lib.devices()
        t = threading.Thread(target=lambda ev=got: lib.wait_for_event() and ev.set(), daemon=True)
        t.start()
        t0 = time.perf_counter()
        skfsoft.create_device(ROOT, f"hp{i}", serial=f"HP{i}", label="hp", user_pin=bytearray(b"12345678"),
                              admin_pin=bytearray(b"Admin@2026"))
        got.wait(10)
        lat.append((time.perf_counter() - t0) * 1000)
        t.join(10)
    rows.append(("hot-plug insert → SKF_WaitForDevEvent returns", statistics.median(lat), "< 500 ms"))
    for c in (sm2c, rsac, app, dev):
        c.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'median':>10}  target")
    for what, ms, target in rows:
        print(f"{what:<{width}}  {ms:>7.2f} ms  {target}")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
