#!/usr/bin/env bash
# Set up a fresh Debian (12+) machine for zhenglian: system packages, a
# virtual environment in .venv, and the Python packages pinned in
# pyproject.toml.  Safe to run again; it only does what is missing.
#   ZHENGLIAN_SKIP_APT=1   skip the apt-get step (no root, or already done)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc libc6-dev   # Python, and cc for the test PKCS#11 module
  libssl-dev openssl                                # OpenSSL 3 headers for the software SM2 token and SKF library; the CLI checks SM2 signatures
  libxml2-dev libxslt1-dev                          # lxml built against the system's libxml2/libxslt (pyproject.toml, below)
  softhsm2 opensc                                   # software UKeys for the demo and the tests
  poppler-utils qpdf libnss3-tools                  # pdfsig/pdftoppm, qpdf --check, certutil
  openjdk-17-jdk-headless libbcprov-java libbcpkix-java  # javac + BouncyCastle: the tests' independent SM2 judge
  fonts-noto-cjk fonts-arphic-uming                 # Chinese text in seals, stamps, UI; a TrueType CJK font for reportlab
  xvfb xauth x11-utils trayer imagemagick           # headless screen, tray host, screenshots
  weston                                            # headless Wayland compositor: the bundle starts on Wayland (test_packaging)
  libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
  libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-util1 libxcb-sync1 libxcb-xfixes0
  libxcb-shm0 libxcb-xkb1 libx11-xcb1 libgssapi-krb5-2  # Qt's xcb platform plugin; the .deb's Depends
  nsis icu-devtools binutils desktop-file-utils    # packaging: makensis, ICU data trim, .desktop check
  debootstrap debian-archive-keyring gpgv curl xz-utils patch  # the legacy (Debian 11) build and its test
  chromium                                          # the web page → bridge end-to-end test
)

if [[ "${ZHENGLIAN_SKIP_APT:-0}" != 1 ]] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "==> apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
# lxml (pyHanko's XMP) is compiled from its source against the system's libxml2 and libxslt,
# as the distributions build it: the PyPI wheel carries its own copies (3.8 MB more in the
# bundle, and libxml2 security fixes only with a new lxml).  -Os and no lxml.objectify (never
# shipped, build.spec): a smaller module and a shorter compile (about a minute on a loaded
# two-core machine), done only when the venv's lxml is not already this build.  --no-cache-dir:
# a wheel pip cached from a plain build of the same sdist (-O2 -g, 0.8 MB more) would be reused.
LXML_PIN=$(sed -n 's/^ *"lxml==\([^"]*\)".*/\1/p' pyproject.toml)
lxml_from_system() {  # the venv has the pinned lxml, and its etree loaded the system's libxml2
  [[ $(.venv/bin/python -c 'import lxml, lxml.etree
print(lxml.__version__, any("/libxml2.so" in line for line in open("/proc/self/maps")))' 2>/dev/null) \
     == "$LXML_PIN True" ]]
}
build_lxml() {
  echo "==> lxml $LXML_PIN from its source, against the system's libxml2/libxslt"
  CFLAGS="-Os" WITHOUT_OBJECTIFY=true .venv/bin/python -m pip install -q --no-binary lxml --no-deps \
    --no-cache-dir --force-reinstall "lxml==$LXML_PIN"
}
stamp=.venv/.zhenglian-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "==> pip install -e .[server,dev]"
  .venv/bin/python -m pip install -q --upgrade pip
  lxml_from_system || build_lxml
  .venv/bin/python -m pip install -q --no-binary lxml -e ".[server,dev]"
  echo "$want" > "$stamp"
fi
lxml_from_system || build_lxml  # a venv made before this rule, or the wheel came back

# Qt for Python's signature support (shibokensupport) from files beside shiboken6 instead of
# the sources embedded in its library, which it compiles at every start: ≈ 25 ms of each
# launch, before the tray icon.  SBK_EMBED=0 is PySide6's own switch to unpack them; Python
# then caches their bytecode as for any module.  Unpacked again for another shiboken6 version
# (pip leaves the folder behind).  The bundle ships them compiled:
# installer/pyinstaller/shiboken_support.py.
sbk_dir=$(.venv/bin/python -c 'import os, shiboken6; print(os.path.dirname(shiboken6.__file__))')
sbk_version=$(.venv/bin/python -c 'import shiboken6; print(shiboken6.__version__)')
if [[ $(cat "$sbk_dir/files.dir/.unpacked-for" 2>/dev/null) != "$sbk_version" ]]; then
  echo "==> shiboken6 $sbk_version: signature support unpacked (SBK_EMBED=0)"
  rm -rf "$sbk_dir/files.dir"
  SBK_EMBED=0 .venv/bin/python -c 'import shiboken6'
  if [[ -f $sbk_dir/files.dir/shibokensupport/__init__.py ]]; then
    echo "$sbk_version" > "$sbk_dir/files.dir/.unpacked-for"
  else
    echo "    (this shiboken6 did not unpack them: it keeps compiling them at each start)"
  fi
fi

# The software SM2 PKCS#11 token (tests and demo) into build/native/; build.sh skips
# the compile when the sources are unchanged.
echo "==> native test modules (build/native)"
sh zhenglian/reference/native/build.sh sm2token

# playwright-core drives the system Chromium in the bridge's end-to-end test (needs Node ≥ 20).
if command -v npm >/dev/null && [[ ! -d tests/e2e/node_modules ]]; then
  echo "==> npm ci --prefix tests/e2e"
  npm ci --prefix tests/e2e --no-audit --no-fund --silent
fi

# The software GM/T 0016 (SKF) library for the tests and the demo; rebuilt only when its sources change.
zhenglian/reference/native/skfsoft/build.sh
