#!/usr/bin/env bash
# Build skfsoft (the software GM/T 0016 SKF library used by the tests and the
# demo) into build/native/libskfsoft.so, only when its sources changed.
#   build.sh [--force] [--asan]     --asan: a separate ASan+UBSan build
#                                   (build/native/asan/libskfsoft.so)
# Needs a C compiler and OpenSSL 3's headers (Debian: gcc, libssl-dev).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
out=$root/build/native
flags=(-std=c11 -O2 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Wshadow -Wformat=2
       -Wconversion -Wno-sign-conversion -D_FORTIFY_SOURCE=2 -fstack-protector-strong)
force=0
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    --asan) out=$out/asan; flags+=(-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer) ;;
    *) echo "usage: $0 [--force] [--asan]" >&2; exit 2 ;;
  esac
done
lib=$out/libskfsoft.so
stamp=$out/.libskfsoft.sha256
want=$( (cat "$here"/*.c "$here"/*.h; echo "${flags[*]}") | sha256sum | cut -d' ' -f1)
if [[ $force == 0 && -f $lib && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
mkdir -p "$out"
echo "==> building $lib"
tmp=$(mktemp "$out/.libskfsoft.XXXXXX")
trap 'rm -f "$tmp"' EXIT
${CC:-cc} "${flags[@]}" -o "$tmp" "$here/skfsoft.c" -lcrypto -lpthread
mv -f "$tmp" "$lib"
echo "$want" > "$stamp"
