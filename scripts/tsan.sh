#!/usr/bin/env bash
# Builds the project with ThreadSanitizer in build-tsan and runs the suites of
# the core's threads there (a CI step). Fails on a failed test or on any
# ThreadSanitizer report.
#   scripts/tsan.sh [meson test args...]      e.g. scripts/tsan.sh klingsrc
# Extra `meson setup` options: TSAN_SETUP_ARGS="-Demulator=disabled".
# tests/tsan.supp silences only races inside the uninstrumented GLib/GStreamer
# libraries (each entry says why); nothing of gst-kling's own code belongs there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_deps

BUILD=${TSAN_BUILD_DIR:-build-tsan}
# shellcheck disable=SC2206
SETUP_ARGS=(-Dtests=enabled -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
            ${TSAN_SETUP_ARGS:-})
setup_and_build "$BUILD" "${SETUP_ARGS[@]}"

# The suites of the core both elements run on, with its threads: the download
# store's writer and readers (chunks reused across threads), the task runner's
# worker stopped and cancelled from another thread, the re-read of let-go bytes.
# The GStreamer suites (klingsrc, hardening...) are not run here: every buffer,
# message and GValue they hand between threads goes through GStreamer's and
# GLib's futex-based locks, which an uninstrumented GLib hides from TSan, so
# they report only that (and run over 10x slower).
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(api-client download-store cacheperf refetch generation)
  # Only those this tree has (the emulator may be disabled).
  known=$(meson test -C "$BUILD" --list 2>/dev/null)
  present=()
  for s in "${suites[@]}"; do
    grep -qE "(^| )$s\$" <<<"$known" && present+=("$s")
  done
  suites=("${present[@]}")
fi

export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:history_size=4:suppressions=$PWD/tests/tsan.supp}
# GLib's slice allocator recycles memory TSan cannot follow.
export G_SLICE=always-malloc
# Load the instrumented plugin in the instrumented test process, not in the
# uninstrumented gst-plugin-scanner (it would refuse it). Only test programs
# built here run: no preloaded runtime (the shells they start would get it).
export GST_REGISTRY_FORK=no
status=0
meson test -C "$BUILD" --print-errorlogs --timeout-multiplier "${TSAN_TIMEOUT_MULTIPLIER:-4}" "${suites[@]}" \
  || status=$?

log="$BUILD/meson-logs/testlog.txt"
if grep -q 'WARNING: ThreadSanitizer' "$log"; then
  echo "==> ThreadSanitizer reports (full log: $log):"
  grep -nE -A40 'WARNING: ThreadSanitizer' "$log" | head -400
  [ $status -ne 0 ] || status=1
fi
if [ $status -eq 0 ]; then
  echo "==> tsan: clean"
else
  echo "==> tsan: FAILED (exit $status)" >&2
fi
exit $status
