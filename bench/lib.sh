# SPDX-License-Identifier: LGPL-2.1-or-later
# What bench/profile.sh and bench/cache.sh share (sourced, after HERE=the bench folder): the
# paths, a work folder removed on exit with the one emulator they start, the harness, and that
# emulator serving 256 MiB of random bytes.
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RESULTS=${RESULTS:-$HERE/results}

# bench_setup PREFIX: W=a new /tmp/PREFIX.XXXXXX (klingsrc's TMPDIR too) and $W/kbench; W and the
# emulator go at exit.
bench_setup() {
  W=$(mktemp -d "/tmp/$1.XXXXXX")
  EMU=
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  export TMPDIR=$W
  mkdir -p "$RESULTS"
  gcc -O2 -Wall -o "$W/kbench" "$HERE/kbench.c" $(pkg-config --cflags --libs gstreamer-1.0)
}
bench_cleanup() {
  if [[ -n $EMU ]]; then kill "$EMU" 2>/dev/null || true; wait "$EMU" 2>/dev/null || true; fi
  rm -rf "$W"
}

# bench_emulator_256: kling-emulator serving $W/256.bin (random, 256 MiB; latency 300 ms);
# exports WAVESPEED_BASE_URL and WAVESPEED_API_KEY.
bench_emulator_256() {
  head -c $((256 * 1024 * 1024)) /dev/urandom >"$W/256.bin"
  "$BUILD/emulator/kling-emulator" --video-file "$W/256.bin" --latency-ms 300 >"$W/emu.out" 2>&1 &
  EMU=$!
  for _ in $(seq 100); do grep -q '^CDN: ' "$W/emu.out" && break; sleep 0.05; done
  export WAVESPEED_BASE_URL=$(sed -n 's/^API: //p' "$W/emu.out") WAVESPEED_API_KEY=emulator-key
}
