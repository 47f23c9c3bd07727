"""What checking a PKCS#11 module in a child process costs (zhenglian/tokens/probe.py).

Run:  .venv/bin/python benchmarks/probe_bench.py [--rounds 5]
Prints figures beside targets; asserts nothing.  Uses a private data directory
and a copy of the SoftHSM module (a new file each round, so each first probe is real).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="zhenglian-bench-"))
os.environ["ZHENGLIAN_HOME"] = str(TMP / "home")

from zhenglian.reference import softhsm  # noqa: E402
from zhenglian.tokens import probe  # noqa: E402

CONF = softhsm.write_conf(TMP / "softhsm" / "softhsm2.conf")
os.environ["SOFTHSM2_CONF"] = str(CONF)

TARGET_FIRST_MS = 500.0  # once per module file, at its first load
TARGET_CACHED_MS = 1.0  # every later start: a stat and a dictionary lookup


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    first, cached_mem, cached_disk = [], [], []
    for i in range(args.rounds):
        lib = TMP / f"libsofthsm-copy-{i}.so"
        shutil.copy(softhsm.module_path(), lib)
        cache_file = TMP / f"probes-{i}.json"
        cache = probe.ProbeCache(cache_file)
        t0 = time.perf_counter()
        assert cache.verdict(lib).ok
        first.append(ms(t0))
        t0 = time.perf_counter()
        cache.verdict(lib)
        cached_mem.append(ms(t0))
        t0 = time.perf_counter()
        probe.ProbeCache(cache_file).verdict(lib)  # a new process start: read the cache file
        cached_disk.append(ms(t0))
    size_mb = softhsm.module_path().stat().st_size / 1e6
    print(f"module: SoftHSM ({size_mb:.1f} MB), {args.rounds} rounds")
    print(f"first probe (child process + sha256): median {statistics.median(first):8.1f} ms   "
          f"target < {TARGET_FIRST_MS:.0f} ms")
    print(f"cached, same process:                 median {statistics.median(cached_mem):8.3f} ms   "
          f"target < {TARGET_CACHED_MS:.0f} ms")
    print(f"cached, next start (cache file read): median {statistics.median(cached_disk):8.3f} ms   "
          f"target < {TARGET_CACHED_MS:.0f} ms")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
