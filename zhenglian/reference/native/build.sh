#!/bin/sh
# Build one of zhenglian's native test modules: lib<NAME>.so from the C
# sources in zhenglian/reference/native/<NAME>/ into OUT_DIR (default:
# build/native at the project root).  Needs gcc and, for sm2token,
# libssl-dev (OpenSSL 3).  Rebuilds only when the sources changed: the
# SHA-256 of the sources, this script and the compiler flags is kept next to
# the library (lib<NAME>.so.sha256).  The library is written under a
# temporary name and renamed, so a concurrent or failed build never leaves a
# half-written one.
#   usage: build.sh NAME [OUT_DIR]
set -eu

name=${1:?usage: build.sh NAME [OUT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
src="$here/$name"
out_dir=${2:-$root/build/native}
CC=${CC:-cc}
[ -d "$src" ] || { echo "build.sh: no sources for '$name' in $src" >&2; exit 2; }

CFLAGS="-std=c11 -O2 -g -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror -Wshadow -fPIC -shared -fvisibility=hidden -pthread"
LIBS="-lcrypto"
[ -n "${ZL_NATIVE_SANITIZE:-}" ] && CFLAGS="$CFLAGS -fsanitize=$ZL_NATIVE_SANITIZE -fno-omit-frame-pointer"

mkdir -p "$out_dir"
out="$out_dir/lib$name.so"
want=$( (cat "$src"/*.c "$src"/*.h "$0"; echo "$CC $CFLAGS $LIBS") | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ -f "$out.sha256" ] && [ "$(cat "$out.sha256")" = "$want" ]; then
    exit 0
fi

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
"$CC" $CFLAGS -o "$tmp" "$src"/*.c $LIBS
mv -f "$tmp" "$out"
echo "$want" > "$out.sha256"
