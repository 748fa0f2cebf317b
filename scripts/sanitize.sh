#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan and runs the whole meson test suite there (a CI step).
#   scripts/sanitize.sh [meson test args...]      e.g. scripts/sanitize.sh klingsrc
# Extra `meson setup` options: SANITIZE_SETUP_ARGS="-Demulator=disabled".
# Exits non-zero when a test fails; every sanitizer report is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_deps

BUILD=${SANITIZE_BUILD_DIR:-build-asan}
# shellcheck disable=SC2206
SETUP_ARGS=(-Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
            ${SANITIZE_SETUP_ARGS:-})
setup_and_build "$BUILD" "${SETUP_ARGS[@]}"

# The leak checker is off: GStreamer and GLib keep reachable one-time
# allocations (types, registry, caps caches) until exit; scripts/valgrind.sh
# looks for definite leaks instead.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# GLib's slice allocator hides use-after-free from ASan.
export G_SLICE=always-malloc
# Load the instrumented plugin in the instrumented test process, not in
# gst-plugin-scanner (not built with ASan, it would refuse the plugin).
export GST_REGISTRY_FORK=no
# Programs not built here (gst-inspect-1.0) load the instrumented plugin too:
# give them the sanitizer runtimes first.
ASAN_RT=$(${CXX:-c++} -print-file-name=libasan.so)
UBSAN_RT=$(${CXX:-c++} -print-file-name=libubsan.so)
status=0
LD_PRELOAD="$ASAN_RT:$UBSAN_RT${LD_PRELOAD:+:$LD_PRELOAD}" \
  meson test -C "$BUILD" --print-errorlogs --timeout-multiplier "${SANITIZE_TIMEOUT_MULTIPLIER:-3}" "$@" \
  || status=$?

log="$BUILD/meson-logs/testlog.txt"
if grep -qE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log"; then
  echo "==> sanitizer reports (full log: $log):"
  grep -nE -B2 -A40 'ERROR: AddressSanitizer|runtime error:' "$log" | head -400
  [ $status -ne 0 ] || status=1
fi
[ -n "${KLING_NO_COUNT:-}" ] || python3 scripts/count_tests.py "$BUILD/meson-logs/testlog.json" || true
if [ $status -eq 0 ]; then
  echo "==> sanitize: clean"
else
  echo "==> sanitize: FAILED (exit $status)" >&2
fi
exit $status
