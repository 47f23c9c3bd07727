#!/usr/bin/env bash
# Run every check: lint, then the test suite (SoftHSM keys, real PDFs,
# the reference server on loopback, Qt offscreen).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check zhenglian tests benchmarks scripts
exec .venv/bin/python -m pytest -q "$@"
