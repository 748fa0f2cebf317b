#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what the build needs, builds, runs the whole suite, then again under
# ASan+UBSan, the element suites under TSan and a few element cases under
# valgrind, and ends with one line `N passed, N failed` counting all of them
# (TAP subtests one by one).
# The sanitizers run on Debian 12 bookworm, the release CI proves them on; on any
# other release (Debian 13 trixie) only the plain suite runs unless KLING_SANITIZE=1,
# KLING_TSAN=1 or KLING_VALGRIND=1 asks for them. KLING_TEST_LOGS=FILE: the test
# logs counted are listed in FILE (for .ci/run's closing count).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_deps --always-update

# WaveSpeed's JavaScript SDK for the `sdk` suite (tests/e2e/sdk/package-lock.json pins it).
echo "==> npm ci in tests/e2e/sdk"
(cd tests/e2e/sdk && npm ci --ignore-scripts --no-audit --no-fund)

BUILD=${BUILD_DIR:-build}
setup_and_build "$BUILD" -Dtests=enabled

status=0
meson test -C "$BUILD" --print-errorlogs "$@" || status=$?
logs=("$BUILD/meson-logs/testlog.json")

# The sub-steps leave the closing count to this script.
export KLING_NO_COUNT=1

sanitizers=1
if [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" != bookworm ]; then
  sanitizers=0
  echo "==> sanitizers: run on Debian 12 bookworm only (KLING_SANITIZE=1, KLING_TSAN=1, KLING_VALGRIND=1 run them here)"
fi

# The same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (KLING_SANITIZE=0 skips it for a quick local run).
if [ "${KLING_SANITIZE:-$sanitizers}" != 0 ]; then
  echo "==> the suite under ASan + UBSan"
  bash scripts/sanitize.sh "$@" || status=$?
  logs+=("${SANITIZE_BUILD_DIR:-build-asan}/meson-logs/testlog.json")
fi

# The element's suites under ThreadSanitizer (KLING_TSAN=0 skips it).
if [ "${KLING_TSAN:-$sanitizers}" != 0 ]; then
  echo "==> the element suites under ThreadSanitizer"
  bash scripts/tsan.sh "$@" || status=$?
  logs+=("${TSAN_BUILD_DIR:-build-tsan}/meson-logs/testlog.json")
fi

# A few element cases under valgrind's memcheck, on the plain build
# (KLING_VALGRIND=0 skips it).
if [ "${KLING_VALGRIND:-$sanitizers}" != 0 ]; then
  echo "==> element cases under valgrind"
  VALGRIND_BUILD_DIR="$BUILD" bash scripts/valgrind.sh || status=$?
  logs+=("$BUILD/meson-logs/valgrind-testlog.json")
fi

if [ -n "${KLING_TEST_LOGS:-}" ]; then
  for log in "${logs[@]}"; do
    case $log in /*) echo "$log" ;; *) echo "$PWD/$log" ;; esac
  done >"$KLING_TEST_LOGS"
fi
python3 scripts/count_tests.py "${logs[@]}"
exit $status
