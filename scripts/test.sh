#!/usr/bin/env bash
# Installs what the build needs, builds, runs the whole suite and ends with
# one line `N passed, N failed` (TAP subtests counted one by one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_deps --always-update

BUILD=${BUILD_DIR:-build}
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" -Dtests=enabled >/dev/null
else
  meson setup "$BUILD" -Dtests=enabled
fi
meson compile -C "$BUILD"

status=0
meson test -C "$BUILD" --print-errorlogs "$@" || status=$?

python3 scripts/count_tests.py "$BUILD/meson-logs/testlog.json"
exit $status
