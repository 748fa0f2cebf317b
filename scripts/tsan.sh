#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the project with ThreadSanitizer in build-tsan and runs the core's
# and the elements' suites there (a CI step). Fails on a failed test or on any
# ThreadSanitizer report.
#   scripts/tsan.sh [meson test args...]      e.g. scripts/tsan.sh klingsrc
# Extra `meson setup` options: TSAN_SETUP_ARGS="-Demulator=disabled".
# tests/support/tsan.supp silences only races inside the uninstrumented GLib/GStreamer
# libraries (each entry says why); nothing of gst-kling's own code belongs there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
install_deps

BUILD=${TSAN_BUILD_DIR:-build-tsan}
# _GLIBCXX_ASSERTIONS compiles std::string's members into our programs (else
# they are libstdc++'s, not instrumented, and a std::string read unlocked while
# another thread assigns it goes unreported), with bounds checks as well.
# shellcheck disable=SC2206
SETUP_ARGS=(-Dtests=enabled -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
            -Dcpp_args=-D_GLIBCXX_ASSERTIONS ${TSAN_SETUP_ARGS:-})
setup_and_build "$BUILD" "${SETUP_ARGS[@]}"

# The core's threaded suites (the download store's writer and readers, the
# task runner's worker stopped from another thread, the re-read of let-go
# bytes) and the elements' suites: klingsrc in its pipelines (one test a
# behaviour: push and pull, cache, errors, money, TLS, threads, the emulator)
# and klinglivesrc with its clip pipelines. Not the examples, the SDK or the
# end-to-end scripts (other programs, not instrumented) nor klinglivesrc-memory
# (100 clips, for RSS).
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(api-client download-store video-cache range-refetch element-session pricing-and-cache ledger
          catalog fingerprint
          klingsrc-element klingsrc-api-key klingsrc-delivery klingsrc-messages klingsrc-decode klingsrc-seek
          klingsrc-errors klingsrc-retries klingsrc-deadlines klingsrc-state klingsrc-threads
          klingsrc-uri klingsrc-tags klingsrc-ledger klingsrc-cache hostile-servers
          klingsrc-catalog one-charge tls klingsrc-emulator klingsrc-catalog-emulator
          klinglivesrc klinglivesrc-clock klinglivesrc-broadcast)
  # Only those this tree has (the emulator or GnuTLS may be missing), saying which are not.
  known=$(meson test -C "$BUILD" --list 2>/dev/null)
  present=()
  for s in "${suites[@]}"; do
    if grep -qE "(^| )$s\$" <<<"$known"; then
      present+=("$s")
    else
      echo "==> tsan: no test $s in $BUILD, skipped"
    fi
  done
  suites=("${present[@]}")
fi

# GLib and GStreamer are not instrumented. What they hand between threads is
# made visible two ways: the test programs see GLib's locks
# (tests/support/tsan_glib_locks.cpp), and our own handoffs through GLib's thread pools
# and reference counts say so (gst-plugin/src/common/handoff.h).
# ignore_noninstrumented_modules: a free() or memcpy() GLib makes on its own
# memory is not ours to report (TSan's documented setting for uninstrumented
# libraries); our code's accesses are all still checked.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:ignore_noninstrumented_modules=1:second_deadlock_stack=1:history_size=4:suppressions=$PWD/tests/support/tsan.supp}
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
