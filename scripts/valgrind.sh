#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the main element tests under valgrind's memcheck and fails on a
# definite leak or a memory error.
#   scripts/valgrind.sh [TESTPATH...]     default: the delivery cases and the progress
#                                         messages plus one failure, one retry and one
#                                         NULL-while-polling
# Each path (a case or a path above cases, e.g. /klingsrc/delivery) runs in the
# klingsrc test program that has it (tests/klingsrc/test-*, as `-l` lists them).
# Uses build/ (VALGRIND_BUILD_DIR to change it). GLib/GStreamer one-time
# allocations are suppressed by tests/support/valgrind.supp and GLib's own glib.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
KLING_DEB_PACKAGES+=(valgrind)
install_deps

BUILD=${VALGRIND_BUILD_DIR:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dtests=enabled
meson compile -C "$BUILD"

paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then
  paths=(/klingsrc/delivery /klingsrc/messages/progress-before-first-byte-and-task-message
         /klingsrc/error/401-not-authorized /klingsrc/retry/download-resumes-with-range
         /klingsrc/state/null-during-polling-is-prompt)
fi

supps=(--suppressions=tests/support/valgrind.supp)
glib_supp=/usr/share/glib-2.0/valgrind/glib.supp
[ -f "$glib_supp" ] && supps+=(--suppressions="$glib_supp")

BUILD=$(realpath "$BUILD")
registry=$(mktemp -d)
trap 'rm -rf "$registry"' EXIT
# The same environment as the meson tests.
export GST_PLUGIN_PATH_1_0="$BUILD/gst-plugin"
export GST_PLUGIN_SYSTEM_PATH_1_0="$(pkg-config --variable=pluginsdir gstreamer-1.0)"
export GST_REGISTRY_1_0="$registry/registry.dat"
export GST_DEBUG_NO_COLOR=1 WAVESPEED_API_KEY= WAVESPEED_BASE_URL=
# Scan the plugins once outside valgrind: under it, the test then loads only the
# plugins it uses, not every system plugin's one-time allocations.
gst-inspect-1.0 klingsrc >/dev/null || { echo "klingsrc not found in $GST_PLUGIN_PATH_1_0" >&2; exit 1; }

# The program each path is in; a path no program has is an error, not a silent skip.
declare -A args_of
programs=()
for p in "${paths[@]}"; do
  found=
  for exe in "$BUILD"/tests/klingsrc/test-*; do
    [ -x "$exe" ] || continue
    # The list first, then grep: under pipefail, grep -q ending the pipe early fails it.
    listed=$(GST_REGISTRY_UPDATE=no "$exe" -l 2>/dev/null) || continue
    if grep -qE "^$p(/|\$)" <<<"$listed"; then
      found=$exe
      break
    fi
  done
  [ -n "$found" ] || { echo "no test program in $BUILD/tests/klingsrc has $p" >&2; exit 1; }
  [ -n "${args_of[$found]:-}" ] || programs+=("$found")
  args_of[$found]+=" -p $p"
done

logfile="$BUILD/valgrind.log"
tap="$BUILD/valgrind-tap.txt"
: >"$logfile"
: >"$tap"
status=0
for exe in "${programs[@]}"; do
  # What makes GLib valgrind-friendly: plain malloc, pointers cleared on free.
  # shellcheck disable=SC2086  # the -p arguments, split on purpose
  env GST_REGISTRY_UPDATE=no G_SLICE=always-malloc G_DEBUG=gc-friendly,fatal-criticals \
    timeout "${VALGRIND_TIMEOUT:-900}" \
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
      --errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=40 \
      --track-origins=yes "${supps[@]}" --log-file="$logfile.part" \
      "$exe" --tap ${args_of[$exe]} >>"$tap" || status=$?
  cat "$logfile.part" >>"$logfile"
  rm -f "$logfile.part"
done
cat "$tap"

# The run as a meson test log line, for scripts/count_tests.py: every case, and
# a failure of its own when valgrind found something after they all passed.
mkdir -p "$BUILD/meson-logs"
python3 - "$tap" "$status" > "$BUILD/meson-logs/valgrind-testlog.json" <<'PY'
import json, sys
tap, status = open(sys.argv[1], encoding="utf-8", errors="replace").read(), int(sys.argv[2])
print(json.dumps({"name": "valgrind", "result": "OK" if status == 0 else "FAIL", "stdout": tap}))
PY

echo "==> valgrind summary ($logfile):"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|Invalid|uninitialised' "$logfile" | sort | uniq -c | head -20
if [ $status -ne 0 ]; then
  echo "==> valgrind: FAILED (exit $status); the reports:" >&2
  grep -nE -A40 '(definitely lost in|Invalid (read|write|free)|uninitialised|Mismatched)' "$logfile" | head -300 >&2
else
  echo "==> valgrind: no definite leak, no memory error"
fi
exit $status
