#!/bin/sh
# Build liblockproxy.so (the PIN-locking PKCS#11 test proxy) into $1,
# default: this script's directory.  Needs only a C compiler (cc/gcc) and
# glibc; no PKCS#11 headers.  Rebuilds only when lockproxy.c or this script
# is newer than the library, so calling it from every test run is cheap.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-$here}
mkdir -p "$out_dir"
out="$out_dir/liblockproxy.so"
src="$here/lockproxy.c"
CC=${CC:-cc}

if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$here/build.sh" ]; then
    exit 0
fi

# Build to a temporary name and rename, so a concurrent run or a failed
# compile never leaves a half-written library behind.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$CC" -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
    -pthread -o "$tmp" "$src" -ldl
mv -f "$tmp" "$out"
