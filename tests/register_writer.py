"""A writer process for the register's concurrency and kill -9 tests.

``register_writer.py DB COUNT TAG [OUT_DIR]`` opens the register, prints
``ready``, waits for ``go`` on stdin, then appends COUNT entries.  With
OUT_DIR it follows the signing path's order for each document: the signed
bytes are written and fsynced to a temporary file, the entry is recorded
(durable), ``<seq> <sha256> <name>`` is printed, and only then is the
temporary file renamed to its final name (handed on).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from zhenglian.register import Register, SealUse


def main() -> int:
    db, count, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    out_dir = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    reg = Register.open(db)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    for i in range(count):
        name = f"{tag}-{i:05d}.pdf"
        data = f"%PDF-1.7 signed {tag} {i}\n".encode() * 50
        digest = hashlib.sha256(data).hexdigest()
        tmp = None
        if out_dir is not None:
            tmp = out_dir / f".{name}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        seq = reg.record(SealUse(outcome="signed", origin="local", document_name=name, document_size=len(data),
                                 input_sha256=hashlib.sha256(name.encode()).hexdigest(), output_sha256=digest,
                                 seal_name=f"seal-{tag}", output_path=str(out_dir / name) if out_dir else ""))
        print(f"{seq} {digest} {name}", flush=True)
        if tmp is not None and out_dir is not None:
            os.replace(tmp, out_dir / name)
    print("done", flush=True)
    reg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
