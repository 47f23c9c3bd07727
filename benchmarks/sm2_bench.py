"""SM2 verification figures: what checking an SM2 signature costs (before embedding, and in verify).

Run:  .venv/bin/python benchmarks/sm2_bench.py [--rounds 50]
Prints median figures beside targets; asserts nothing.
Target: the check the key layer runs before embedding an SM2 signature adds
well under 5 ms per document (issue 14: SM2 ≤ 5 ms over RSA per document).
"""

from __future__ import annotations

import argparse

from _timing import median_ms

from zhenglian.pki import sm2
from zhenglian.reference.sm2soft import SM2SoftKey


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    key = SM2SoftKey.generate()
    attrs = b"\x31" + b"\x00" * 200  # the size of CMS signed attributes
    sig = key.sign(attrs)
    e = sm2.e_value(key.point, attrs)
    pdf = b"%PDF" + b"\x00" * (8 * 1024 * 1024)
    def ms(fn, rounds: int = args.rounds) -> float:  # noqa: ANN001
        return median_ms(fn, rounds, warm_up=True)

    rows = [
        ("sm2.verify (signed attributes, Z + e + check)", ms(lambda: sm2.verify(key.point, attrs, sig)), 5.0),
        ("sm2.verify_digest (token returned a signature of e)", ms(lambda: sm2.verify_digest(key.point, e, sig)), 5.0),
        ("sm2.e_value (Z and e)", ms(lambda: sm2.e_value(key.point, attrs)), 0.5),
        ("sm3 of an 8 MiB document", ms(lambda: sm2.sm3(pdf), max(5, args.rounds // 10)), 100.0),
        ("soft SM2 sign (reference/test only)", ms(lambda: key.sign(attrs)), None),
    ]
    for name, took, target in rows:
        goal = f"target ≤ {target:g} ms" if target is not None else "no target"
        print(f"{name:55s} {took:8.2f} ms   ({goal})")


if __name__ == "__main__":
    main()
