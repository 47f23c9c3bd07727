#!/usr/bin/env bash
# Set everything up and run the demo: three virtual UKeys (SZCA, NETCA, GDCA
# look-alikes on SoftHSM), the reference signing server with pending tasks,
# and the tray application — on a virtual screen when there is no display.
# The demo keeps its state in ./.demo (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export ZHENGLIAN_HOME=${ZHENGLIAN_HOME:-$PWD/.demo}
exec .venv/bin/zhenglian demo run "$@"
