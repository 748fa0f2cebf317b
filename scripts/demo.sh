#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start (issue 3): generate one clip with klingsrc and write it as an MP4.
#
#   ./scripts/demo.sh [-d 5|10] [-a 16:9|9:16|1:1] [-o FILE] "PROMPT"
#
# Installs the Debian packages that are missing (scripts/deps.sh), builds the
# project into build/ (BUILD_DIR overrides), then runs the uninstalled element:
#   gst-launch-1.0 -e klingsrc prompt=... duration=D aspect-ratio=A ! filesink location=OUT
# Without WAVESPEED_API_KEY it starts the offline emulator (build/emulator/kling-emulator)
# on a free loopback port and points the element at it; with the key set it
# uses the real WaveSpeed API (and costs money: about $1.30 per 5 s clip).
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $0 [-d 5|10] [-a 16:9|9:16|1:1] [-o FILE] "PROMPT"
  -d SECONDS   clip duration, 5 or 10 (default 5)
  -a RATIO     aspect ratio, 16:9, 9:16 or 1:1 (default 16:9)
  -o FILE      output file (default: a name made from the prompt, .mp4, in the current directory)
Environment:
  WAVESPEED_API_KEY   use the real API with this key; unset: use the offline emulator
  WAVESPEED_BASE_URL  API base URL (default https://api.wavespeed.ai)
  BUILD_DIR           build directory (default build/)
USAGE
}

duration=5
aspect=16:9
out=""
while getopts "d:a:o:h" opt; do
  case "$opt" in
    d) duration=$OPTARG ;;
    a) aspect=$OPTARG ;;
    o) out=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
prompt="${*:-}"
if [ -z "$prompt" ]; then
  usage >&2
  exit 2
fi
case "$duration" in 5|10) ;; *) echo "demo.sh: -d must be 5 or 10" >&2; exit 2 ;; esac
case "$aspect" in 16:9|9:16|1:1) ;; *) echo "demo.sh: -a must be 16:9, 9:16 or 1:1" >&2; exit 2 ;; esac

if [ -z "$out" ]; then
  slug=$(printf '%s' "$prompt" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-*//; s/-*$//' | cut -c1-60)
  out="${slug:-kling}.mp4"
fi
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# 1. Debian packages (only when something is missing).
if [ -f scripts/deps.sh ]; then
  # shellcheck source=scripts/deps.sh
  source scripts/deps.sh
  install_deps || echo "==> warning: could not install every package; trying to build anyway" >&2
fi

# 2. Build.
build=${BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
if [ ! -f "$build/build.ninja" ]; then
  echo "==> meson setup $build"
  meson setup "$build"
fi
echo "==> meson compile -C $build"
meson compile -C "$build"

# 3. The API: the real one with a key, the emulator without.
tmp=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${WAVESPEED_API_KEY:-}" ]; then
  emulator="$build/emulator/kling-emulator"
  if [ ! -x "$emulator" ]; then
    echo "demo.sh: WAVESPEED_API_KEY is not set and $emulator was not built" >&2
    exit 1
  fi
  key="emulator-key"
  "$emulator" --api-key "$key" --port 0 --cdn-port 0 >"$tmp/emulator.out" 2>"$tmp/emulator.err" &
  emulator_pid=$!
  api=""
  for _ in $(seq 100); do
    api=$(sed -n 's/^API: //p' "$tmp/emulator.out")
    [ -n "$api" ] && break
    if ! kill -0 "$emulator_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$api" ]; then
    echo "demo.sh: the emulator did not start:" >&2
    cat "$tmp/emulator.err" >&2
    exit 1
  fi
  echo "==> WAVESPEED_API_KEY is not set: using the offline emulator at $api"
  echo "    (no cost; the clip is synthetic and shows your prompt. Set WAVESPEED_API_KEY for the real API.)"
  export WAVESPEED_API_KEY="$key"
  export WAVESPEED_BASE_URL="$api"
else
  echo "==> using the WaveSpeed API at ${WAVESPEED_BASE_URL:-https://api.wavespeed.ai} (this is billed)"
fi

# 4. Run the element, uninstalled.
echo "==> klingsrc: \"$prompt\" (${duration} s, $aspect) -> $out"
export GST_PLUGIN_PATH="$build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$build/registry.dat"
gst-launch-1.0 -e klingsrc "prompt=$prompt" "duration=$duration" "aspect-ratio=$aspect" \
  ! filesink "location=$out"

# 5. What came out.
if [ ! -s "$out" ]; then
  echo "demo.sh: no video was written to $out" >&2
  exit 1
fi
resolution="" length=""
if command -v gst-discoverer-1.0 >/dev/null; then
  info=$(gst-discoverer-1.0 "$out" 2>/dev/null || true)
  w=$(printf '%s\n' "$info" | sed -n 's/^ *Width: *//p' | head -1)
  h=$(printf '%s\n' "$info" | sed -n 's/^ *Height: *//p' | head -1)
  [ -n "$w" ] && [ -n "$h" ] && resolution="${w}x${h}"
  length=$(printf '%s\n' "$info" | sed -n 's/^ *Duration: *//p' | head -1)
fi
if [ -z "$resolution" ] || [ -z "$length" ]; then
  # No gst-discoverer-1.0 (gstreamer1.0-plugins-base-apps): read the MP4 header.
  read -r resolution length < <(python3 - "$out" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
def boxes(lo, hi):
    while lo + 8 <= hi:
        size, kind = struct.unpack('>I4s', data[lo:lo + 8]); head = 8
        if size == 1: size = struct.unpack('>Q', data[lo + 8:lo + 16])[0]; head = 16
        elif size == 0: size = hi - lo
        if size < head: return
        yield kind, lo + head, lo + size
        lo += size
res, dur = '?', '?'
for kind, lo, hi in boxes(0, len(data)):
    if kind != b'moov': continue
    for k2, lo2, hi2 in boxes(lo, hi):
        if k2 == b'mvhd':
            v1 = data[lo2] == 1
            scale, d = struct.unpack('>IQ' if v1 else '>II', data[lo2 + (20 if v1 else 12):lo2 + (32 if v1 else 20)])
            dur = '%.3f s' % (d / scale)
        if k2 == b'trak' and res == '?':
            for k3, lo3, hi3 in boxes(lo2, hi2):
                if k3 == b'tkhd':
                    w, h = struct.unpack('>II', data[hi3 - 8:hi3])
                    if w: res = '%dx%d' % (w >> 16, h >> 16)
print(res, dur)
PY
)
fi
echo
echo "Wrote:      $out"
echo "Resolution: ${resolution:-unknown}"
echo "Duration:   ${length:-unknown}"
