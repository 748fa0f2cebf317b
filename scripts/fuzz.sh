#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fuzzes the API reply parser (kling::api::parse_reply, parse_retry_after) with
# clang's libFuzzer + ASan + UBSan for a bounded time.
#   scripts/fuzz.sh [SECONDS]      default 60
# Builds build-fuzz/fuzz-parse-reply from tests/fuzz/fuzz_parse_reply.cpp and the
# core sources it needs, runs it on a copy of tests/fuzz/corpus (new inputs land
# in build-fuzz/corpus, the seeds stay as committed) and exits non-zero on a
# crash, leaving the input as build-fuzz/crash-* (replay it with
# `build-fuzz/fuzz-parse-reply build-fuzz/crash-...`).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=${FUZZ_BUILD_DIR:-build-fuzz}

# Packages this script needs beyond scripts/deps.sh: clang and its runtime
# (libFuzzer and the sanitizers).
FUZZ_DEB_PACKAGES=(clang libclang-rt-14-dev)
source scripts/deps.sh
KLING_DEB_PACKAGES+=("${FUZZ_DEB_PACKAGES[@]}")
install_deps

CXX=${FUZZ_CXX:-clang++}
mkdir -p "$OUT/corpus"
cp -n tests/fuzz/corpus/* "$OUT/corpus/"

# The target needs api_client.cpp and request.cpp; link the whole GStreamer-free
# core (every .cpp below gst-plugin/src/core) so that whatever they come to call is there.
mapfile -t CORE_SOURCES < <(find gst-plugin/src/core -name '*.cpp' | sort)
echo "==> building the fuzzer with ${CORE_SOURCES[*]}"

# shellcheck disable=SC2046
"$CXX" -std=c++17 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Igst-plugin/src $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0 libsoup-3.0) \
  tests/fuzz/fuzz_parse_reply.cpp "${CORE_SOURCES[@]}" \
  $(pkg-config --libs glib-2.0 gio-2.0 json-glib-1.0 libsoup-3.0) -pthread \
  -o "$OUT/fuzz-parse-reply"
echo "==> built $OUT/fuzz-parse-reply; fuzzing for ${SECONDS_TO_RUN} s"

# GLib's one-time allocations (type system, quarks) are not leaks of ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
"$OUT/fuzz-parse-reply" "$OUT/corpus" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict=tests/fuzz/reply.dict -artifact_prefix="$OUT/" -print_final_stats=1 || status=$?
if [ $status -ne 0 ]; then
  echo "==> the fuzzer found a crash (exit $status): see $OUT/crash-* and the stack above" >&2
  exit $status
fi
echo "==> no crash in ${SECONDS_TO_RUN} s ($(ls "$OUT/corpus" | wc -l) inputs in $OUT/corpus)"
