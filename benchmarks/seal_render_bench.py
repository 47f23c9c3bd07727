"""Drawing one seal picture for provisioning (target ≤ 0.5 s, best of five).

`zhenglian demo` and the seal store draw round seals (organisation name on the arc, seal type
across the bottom) with the CJK font found on the machine.  A figure, not a test: a loaded
machine is slower, and the load average is printed beside it.

    .venv/bin/python benchmarks/seal_render_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_S = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from zhenglian.seals import render

    times = []
    for _ in range(max(1, args.runs)):
        start = time.perf_counter()
        render.render_seal_png("东莞市松山湖演示科技有限公司", "信贷业务专用章")
        times.append(time.perf_counter() - start)
    best = min(times)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    verdict = "ok" if best <= TARGET_S else "OVER"
    print(f"seal picture: best {best * 1000:.0f} ms of {len(times)} (target ≤ {TARGET_S * 1000:.0f} ms) {verdict}"
          f"   load average {load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
