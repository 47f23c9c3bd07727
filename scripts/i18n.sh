#!/bin/sh
# Update the UI translations: extract every tr()/translate() string of
# zhenglian/ui into resources/i18n/zhenglian_zh_CN.ts (existing translations
# are kept; new strings appear as "unfinished" for a translator), then
# compile the .ts files to the .qm files the application loads.
#   scripts/i18n.sh            update .ts and compile .qm
#   scripts/i18n.sh --check    exit 1 if a string is untranslated
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PYSIDE6_BIN:-$root/.venv/bin}
lupdate=$bin/pyside6-lupdate
lrelease=$bin/pyside6-lrelease
[ -x "$lupdate" ] || lupdate=pyside6-lupdate
[ -x "$lrelease" ] || lrelease=pyside6-lrelease
cd "$root"
sources=$(find zhenglian/ui -name '*.py' | sort)
for lang in zh_CN; do
    ts=resources/i18n/zhenglian_$lang.ts
    # shellcheck disable=SC2086
    "$lupdate" -no-obsolete -locations none $sources -ts "$ts"
    # Compiled beside, then renamed: a running client (or test) has the old .qm mapped in
    # memory, and rewriting that file in place crashes it in QTranslator::translate.
    qm=resources/i18n/zhenglian_$lang.qm
    "$lrelease" "$ts" -qm "$qm.tmp"
    mv -f "$qm.tmp" "$qm"
    # Qt's own words its qtbase translation lacks: written by hand, compiled beside ours.
    extra=resources/i18n/qtbase_extra_$lang.ts
    if [ -f "$extra" ]; then
        "$lrelease" "$extra" -qm "resources/i18n/qtbase_extra_$lang.qm.tmp"
        mv -f "resources/i18n/qtbase_extra_$lang.qm.tmp" "resources/i18n/qtbase_extra_$lang.qm"
    fi
    if [ "${1:-}" = "--check" ] && grep -q 'type="unfinished"' "$ts"; then
        echo "untranslated strings in $ts" >&2
        exit 1
    fi
done
