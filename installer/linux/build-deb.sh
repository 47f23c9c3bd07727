#!/usr/bin/env bash
# Build the zhenglian .deb from the PyInstaller bundle (see docs/packaging.md).
#
#   installer/linux/build-deb.sh [--bundle DIR] [--out DIR]
#
#   --bundle DIR  the one-folder bundle (default dist/zhenglian; built with
#                 .venv/bin/pyinstaller build.spec when it is not there)
#   --out DIR     where the .deb goes (default dist)
#   -z N          xz compression level (default 6; the tests use 1: faster, larger)
#
#   ZHENGLIAN_DEB_MAINTAINER="Name <address>"   the Maintainer field (default: a
#                 placeholder; set it when publishing)
#   ZHENGLIAN_HOMEPAGE=URL                      adds a Homepage field
#
# Layout of the package:
#   /opt/zhenglian/                      the bundle (zhenglian + _internal/)
#   /opt/zhenglian/share/autostart/      zhenglian.desktop, NOT active: the app's
#                                        settings copy it to ~/.config/autostart
#   /usr/bin/zhenglian                   -> ../../opt/zhenglian/zhenglian
#   /usr/share/applications/zhenglian.desktop
#   /usr/share/icons/hicolor/{scalable,256x256}/apps/zhenglian.{svg,png}
#   /usr/share/doc/zhenglian/copyright
# No maintainer scripts: the desktop database and the icon cache are updated
# by the dpkg triggers of desktop-file-utils and the icon theme packages.
#
# Prints the path of the .deb on its last line.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=$ROOT/dist/zhenglian
OUT=$ROOT/dist
LEVEL=6
while (($#)); do
  case $1 in
    --bundle) BUNDLE=$(realpath -m "$2"); shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    -z) LEVEL=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# Whoever publishes the package says who they are (Debian policy: a working address).
# The defaults are placeholders for local and CI builds.
MAINTAINER=${ZHENGLIAN_DEB_MAINTAINER:-zhenglian project <maintainers@zhenglian.invalid>}
HOMEPAGE=${ZHENGLIAN_HOMEPAGE:-}
[[ $MAINTAINER == *"<"*"@"*">"* ]] || { echo "ZHENGLIAN_DEB_MAINTAINER must be 'Name <address>'" >&2; exit 2; }
[[ $MAINTAINER == *.invalid\> ]] && echo "note: placeholder Maintainer (set ZHENGLIAN_DEB_MAINTAINER to publish)" >&2

for tool in dpkg-deb dpkg objdump; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh needs $tool (apt-get install dpkg binutils)" >&2; exit 3; }
done

VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/zhenglian/__init__.py")
[[ -n $VERSION ]] || { echo "no __version__ in zhenglian/__init__.py" >&2; exit 3; }
# PEP 440 pre-releases sort before the release in Debian only with a tilde: 1.0rc1 -> 1.0~rc1.
DEB_VERSION=$(sed -E 's/\.?(a|b|rc|dev)([0-9]+)/~\1\2/g' <<<"$VERSION")
ARCH=$(dpkg --print-architecture)

if [[ ! -x $BUNDLE/zhenglian ]]; then
  echo "==> no bundle at $BUNDLE: building it with PyInstaller"
  "$ROOT/.venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$(dirname "$BUNDLE")" --workpath "$ROOT/build/pyinstaller" "$ROOT/build.spec"
fi
got=$("$BUNDLE/zhenglian" --version)
[[ $got == "zhenglian $VERSION" ]] || { echo "bundle says '$got', source says $VERSION" >&2; exit 3; }

# The oldest C library the bundle runs on: the newest GLIBC_x.y symbol version it uses.
GLIBC_MIN=$(find "$BUNDLE" -type f \( -name '*.so*' -o -name zhenglian \) -exec objdump -T {} + 2>/dev/null \
  | grep -oE '\bGLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV | tail -1)

# Packages that Debian (11+), Ubuntu and the Debian-based UOS / Kylin all have under
# these names.  tests/test_packaging.py checks that every library the bundle loads
# from the system comes from one of these (or from what they depend on).
DEPENDS=(
  "libc6 (>= ${GLIBC_MIN})" "libstdc++6" "libgcc-s1 | libgcc1" "zlib1g" "libzstd1" "libbz2-1.0" "libuuid1"
  "libglib2.0-0" "libdbus-1-3" "libgssapi-krb5-2"
  "libegl1" "libgl1" "libfontconfig1"
  # Qt's and Pillow's FreeType, libtiff's zstd (above) and xz, OpenJPEG: build.spec leaves Pillow's
  # private copies out when the build machine's exports every symbol Pillow needs.
  "libfreetype6" "liblzma5" "libopenjp2-7"
  "libx11-6" "libx11-xcb1" "libxcb1" "libxcb-cursor0" "libxcb-icccm4" "libxcb-image0"
  "libxcb-keysyms1" "libxcb-randr0" "libxcb-render0" "libxcb-render-util0" "libxcb-shape0"
  "libxcb-shm0" "libxcb-sync1" "libxcb-util1" "libxcb-xfixes0" "libxcb-xkb1"
  "libxkbcommon0" "libxkbcommon-x11-0"
  # A Chinese TrueType font: the paper forms embed one (reportlab cannot embed the CFF
  # outlines of Noto CJK); apt installs the first, uming (宋体-like, as the CA's forms).
  "fonts-arphic-uming | fonts-wqy-zenhei | fonts-wqy-microhei"
)
# pcscd: CA keys that are CCID smart cards; gtk3: native file dialogs (Qt's gtk3 theme
# plugin); wayland: Qt's Wayland plugin (without it Qt runs through XWayland);
# Noto CJK: the UI's Chinese text at its best.
RECOMMENDS=("pcscd" "libgtk-3-0" "libwayland-client0" "libwayland-cursor0" "libwayland-egl1"
            "fonts-noto-cjk")
SUGGESTS=("opensc")

join() { local IFS=","; sed 's/,/, /g' <<<"$*"; }

# The OpenSSL the bundle carries: 3.x on current systems, 1.1.1 in the legacy build.
if compgen -G "$BUNDLE/_internal/libssl.so.1.1" >/dev/null; then
  OPENSSL_LICENCE="OpenSSL 1.1.1 (OpenSSL and SSLeay licences)"
else
  OPENSSL_LICENCE="OpenSSL 3 (Apache-2.0)"
fi

# lxml built against the system's libxml2 and libxslt (scripts/setup.sh builds it from its
# source; docs/packaging.md): the same package names on Debian 11+, Ubuntu, UOS and Kylin.
# The legacy build keeps the PyPI wheel, with both linked in statically: no dependency then.
LXML_ETREE=$(find "$BUNDLE/_internal/lxml" -maxdepth 1 -name 'etree.*.so' 2>/dev/null | head -1)
if [[ -n $LXML_ETREE && $(objdump -p "$LXML_ETREE") =~ NEEDED\ +libxml2\.so ]]; then
  DEPENDS+=("libxml2" "libxslt1.1")
fi

# The system libraries that Pillow's modules were re-pointed at (build.spec), and those lxml
# links, need the version whose symbols they call: dpkg-shlibdeps reads it from the
# distribution's symbols files (FreeType >= 2.11.1 for Pillow 13), as a Debian package's own
# build would.
if command -v dpkg-shlibdeps >/dev/null; then
  SHL=$(mktemp -d)
  mkdir -p "$SHL/debian"
  printf 'Source: zhenglian\n\nPackage: zhenglian\nArchitecture: any\n' >"$SHL/debian/control"
  mapfile -t PILLOW_BINS < <(find "$BUNDLE/_internal/PIL" "$BUNDLE/_internal/pillow.libs" -type f -name '*.so*' 2>/dev/null)
  [[ -n $LXML_ETREE ]] && PILLOW_BINS+=("$LXML_ETREE")
  if ((${#PILLOW_BINS[@]})); then
    SHLIBS=$(cd "$SHL" && dpkg-shlibdeps -O --ignore-missing-info -l"$BUNDLE/_internal/pillow.libs" \
      "${PILLOW_BINS[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    IFS=',' read -ra VERSIONED <<<"$SHLIBS"
    for v in "${VERSIONED[@]}"; do
      v=${v# }
      # only where the distribution tracks symbols: a shlibs-only package (zstd) gives the
      # version it was built as, not the one needed, and would shut out Ubuntu 22.04
      compgen -G "/var/lib/dpkg/info/${v%% *}:*.symbols" >/dev/null \
        || [[ -f /var/lib/dpkg/info/${v%% *}.symbols ]] || continue
      for i in "${!DEPENDS[@]}"; do
        [[ ${DEPENDS[$i]} == "${v%% *}" && $v == *"(>="* ]] && DEPENDS[i]=$v
      done
    done
  fi
  rm -rf "$SHL"
fi

# Python's ssl and hashlib use the system's OpenSSL 3 (build.spec), with its security
# updates; Debian 13 and Ubuntu 24.04 renamed the package libssl3t64.  The legacy build
# carries its OpenSSL 1.1.
if ! compgen -G "$BUNDLE/_internal/libssl.so.*" >/dev/null; then
  DEPENDS+=("libssl3 | libssl3t64")
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/pkg
umask 022
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" \
  "$PKG/usr/share/icons/hicolor/scalable/apps" "$PKG/usr/share/icons/hicolor/256x256/apps" \
  "$PKG/usr/share/doc/zhenglian"
cp -a "$BUNDLE" "$PKG/opt/zhenglian"
mkdir -p "$PKG/opt/zhenglian/share/autostart"
install -m 0644 "$ROOT/installer/linux/zhenglian-autostart.desktop" "$PKG/opt/zhenglian/share/autostart/zhenglian.desktop"
ln -s ../../opt/zhenglian/zhenglian "$PKG/usr/bin/zhenglian"
install -m 0644 "$ROOT/installer/linux/zhenglian.desktop" "$PKG/usr/share/applications/zhenglian.desktop"
install -m 0644 "$ROOT/resources/icons/zhenglian.svg" "$PKG/usr/share/icons/hicolor/scalable/apps/zhenglian.svg"
install -m 0644 "$ROOT/resources/icons/zhenglian.png" "$PKG/usr/share/icons/hicolor/256x256/apps/zhenglian.png"
cat > "$PKG/usr/share/doc/zhenglian/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: zhenglian
Comment: /opt/zhenglian/_internal holds the Python runtime (PSF licence) and the
 Python packages the client uses, with their licence files in their
 *.dist-info folders: PySide6 and Qt 6 (LGPL-3.0, dynamically linked: the Qt
 libraries in _internal/PySide6/Qt/lib can be replaced), pyHanko (MIT),
 python-pkcs11 (MIT), cryptography (Apache-2.0 or BSD), Pillow (MIT-CMU),
 asn1crypto (MIT), httpx (BSD-3-Clause), keyring (MIT), platformdirs (MIT),
 $OPENSSL_LICENCE, ICU (Unicode-3.0).

Files: *
Copyright: the zhenglian authors
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
# Uniform permissions whatever the build machine's umask was.
chmod -R u+rwX,go+rX,go-w "$PKG"

INSTALLED_KB=$(du -sk --apparent-size --exclude=DEBIAN "$PKG" | cut -f1)
cat > "$PKG/DEBIAN/control" <<EOF
Package: zhenglian
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $INSTALLED_KB
${HOMEPAGE:+Homepage: $HOMEPAGE
}Depends: $(join "${DEPENDS[@]}")
Recommends: $(join "${RECOMMENDS[@]}")
Suggests: $(join "${SUGGESTS[@]}")
Section: utils
Priority: optional
Description: 证联客户端 — UKey e-seal signing client (SZCA / NETCA / GDCA)
 Open-source replacement for the closed "证联客户端专业版" used with the
 Dongguan housing provident fund's electronic signing system: recognises
 SZCA, NETCA and GDCA USB keys, guards their PIN against lock-out, reminds
 of certificate expiry, stamps the institution's seal on documents and
 signs them (PAdES) with the key.  Tray application and "zhenglian" command.
EOF

mkdir -p "$OUT"
DEB=$OUT/zhenglian_${DEB_VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz "-z$LEVEL" --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
