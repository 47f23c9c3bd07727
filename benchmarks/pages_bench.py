"""Page-tree figures: open and verify PDFs of many pages (issue 15 item 10).

Run:  .venv/bin/python benchmarks/pages_bench.py [--pages 1000 4000 20000] [--fanout 0]
Prints figures beside the target (verify of a 20 000-page PDF under 10 s);
asserts nothing.  Each document has one signature (a software key) with a
seal on its last page, so verify also locates the seal.  Before pages were
looked up once per document: 1000 pages 4 s, 4000 pages 38 s, 20 000 never
finished.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TARGET_S = {20000: 10.0}


def main() -> None:
    from helpers import pdf as ph

    from zhenglian.pdf import placement as pl
    from zhenglian.pdf.document import open_pdf
    from zhenglian.pdf.seal import SealPicture
    from zhenglian.pdf.sign import SigningBatch
    from zhenglian.pdf.verify import verify_pdf

    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, nargs="+", default=[1000, 4000, 20000])
    ap.add_argument("--fanout", type=int, default=0, help="0: one flat /Kids array; N: N pages per node")
    args = ap.parse_args()
    key = ph.soft_key()
    seal = SealPicture(ph.simple_seal_png(), 42, 42, "合同专用章")
    tmp = Path(tempfile.mkdtemp(prefix="zhenglian-pages-"))
    print(f"{'pages':>7} {'size':>9} {'open':>8} {'sign':>8} {'verify':>8}  target (verify)")
    for n in args.pages:
        src = ph.many_pages(tmp / f"p{n}.pdf", n, args.fanout)
        t0 = time.perf_counter()
        with open_pdf(src) as doc:
            assert doc.page_count == n
        t_open = time.perf_counter() - t0
        out = tmp / f"p{n}-signed.pdf"
        t0 = time.perf_counter()
        with SigningBatch(key.signer, seal=seal) as batch:
            batch.sign(src, out, [pl.AtPosition(n, 100, 100)])
        t_sign = time.perf_counter() - t0
        t0 = time.perf_counter()
        (rep,) = verify_pdf(out, [key.root])
        t_verify = time.perf_counter() - t0
        assert rep.status == "valid", rep.status
        target = TARGET_S.get(n)
        mark = "" if target is None else f"< {target:.0f} s  {'met' if t_verify < target else 'MISSED'}"
        print(f"{n:>7} {out.stat().st_size / 1024:>7.0f}KB {t_open:>7.2f}s {t_sign:>7.2f}s {t_verify:>7.2f}s  {mark}")


if __name__ == "__main__":
    main()
