#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# klingsrc benchmarks, each side by side with its anchor, on loopback against kling-emulator.
# Usage: bench/run.sh   (env: RUNS=15 throughput repeats; BUILD=build dir; PLUGIN=path/libgstkling.so to
#        measure another build; PROFILE=1 also runs bench/profile.sh)
# Output: bench/results/raw.tsv (every figure), bench/results/results.md (the table), stdout.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-15}
RESULTS=${RESULTS:-$HERE/results}
MiB=$((1024 * 1024))

# ------------------------------------------------------------------ packages
PKGS=(time curl procps coreutils python3 gcc pkg-config libgstreamer1.0-dev
      gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      linux-perf strace)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: installing ${missing[*]}"
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

# ------------------------------------------------------------------ work dir, cleanup
W=$(mktemp -d /tmp/kbench.XXXXXX)
EMU_PIDS=()
cleanup() {
  for pid in "${EMU_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${EMU_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export TMPDIR=$W            # klingsrc's spill files (unlinked at once anyway)
df -h "$W" | tail -1 | awk '{print "bench: free space in " $6 ": " $4}'
avail_kb=$(df -Pk "$W" | awk 'NR==2{print $4}')
if ((avail_kb < 8 * 1024 * 1024)); then echo "bench: need 8 GiB free in /tmp" >&2; exit 1; fi

# ------------------------------------------------------------------ build (snapshot the plugin)
if ! meson compile -C "$BUILD" >"$W/build.log" 2>&1; then
  echo "bench: warning: meson compile -C $BUILD failed (tree being edited?); using the last built plugin"
fi
mkdir -p "$W/plugin"
cp "${PLUGIN:-$BUILD/gst-plugin/libgstkling.so}" "$W/plugin/libgstkling.so"   # PLUGIN=path: A/B another build
cp "$BUILD/emulator/kling-emulator" "$W/"
gcc -O2 -Wall -o "$W/kbench" "$HERE/kbench.c" $(pkg-config --cflags --libs gstreamer-1.0)
export GST_PLUGIN_PATH=$W/plugin WAVESPEED_API_KEY=emulator-key
unset KLING_CACHE_DIR
export GST_REGISTRY=$W/registry.bin
gst-inspect-1.0 klingsrc >/dev/null

mkdir -p "$RESULTS"
RAW=$RESULTS/raw.tsv
: >"$RAW"
{
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r), GStreamer $(pkg-config --modversion gstreamer-1.0),"
  echo "libsoup $(pkg-config --modversion libsoup-3.0 2>/dev/null || echo '?'), /tmp on $(df -PT "$W" | awk 'NR==2{print $2}'),"
  echo "git $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- gst-plugin 2>/dev/null || echo '+local changes in gst-plugin'), $(date -u +%F)"
} | tr '\n' ' ' >"$RESULTS/machine.txt"
echo "bench: $(cat "$RESULTS/machine.txt")"

# ------------------------------------------------------------------ helpers
# start_emu NAME ARGS...: starts the emulator, sets API and CDN.
start_emu() {
  local name=$1; shift
  "$W/kling-emulator" "$@" >"$W/$name.out" 2>"$W/$name.err" &
  EMU_PIDS+=($!)
  for _ in $(seq 100); do
    API=$(sed -n 's/^API: //p' "$W/$name.out"); CDN=$(sed -n 's/^CDN: //p' "$W/$name.out")
    [[ -n $API && -n $CDN ]] && { export WAVESPEED_BASE_URL=$API; return 0; }
    sleep 0.05
  done
  echo "bench: emulator $name did not start: $(cat "$W/$name.err")" >&2; exit 1
}
stop_emu() {
  local pid=${EMU_PIDS[-1]}
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  unset 'EMU_PIDS[-1]'
}
# record BENCH VARIANT KBENCH-OUTPUT-FILE [extra key=value...]
record() {
  local bench=$1 variant=$2 file=$3; shift 3
  { printf '%s\t%s\t' "$bench" "$variant"; tr '\n' '\t' <"$file"; printf '%s\t' "$@"; echo; } >>"$RAW"
}
n=0
kling() { n=$((n + 1)); echo "klingsrc name=src prompt=\"bench $$ $n $1\" journal=none cache-dir=\"\" poll-interval=${2:-100} ${3:-}"; }
kb() { timeout 300 "$W/kbench" "$@" || true; }
val() { sed -n "s/^$1=//p" "$2"; }

# ------------------------------------------------------------------ 1+2+3: throughput, RSS, latency (256 MiB)
echo "bench: [1-3] throughput, peak RSS and latency, 256 MiB, $RUNS runs"
head -c $((256 * MiB)) /dev/urandom >"$W/256.bin"
start_emu emu256 --video-file "$W/256.bin" --latency-ms 300
URL=$(python3 "$HERE/util.py" output-url "$API" emulator-key)
curl -s -o /dev/null "$URL"   # page cache warm for everybody
for run in $(seq "$RUNS"); do
  for bs in 65536 262144 1048576; do
    kb "$(kling "$bs" 100 "blocksize=$bs") ! fakesink sync=false" >"$W/o"
    dl=$(awk -F= '/^t_eos=/{e=$2} /^t_poll_complete=/{p=$2} END{printf "%.3f", e-p}' "$W/o")
    record throughput "klingsrc blocksize=$bs" "$W/o" "download_ms=$dl"
  done
  # The same with cache-dir: every byte also goes to disk (as in pull mode), the cost of keeping it.
  kb "$(kling cache 100 "cache-dir=$W/cache") ! fakesink sync=false" >"$W/o"
  dl=$(awk -F= '/^t_eos=/{e=$2} /^t_poll_complete=/{p=$2} END{printf "%.3f", e-p}' "$W/o")
  record throughput "klingsrc cache-dir (every byte to disk)" "$W/o" "download_ms=$dl"
  rm -rf "$W/cache"
  kb "souphttpsrc name=src location=$URL ! fakesink sync=false" >"$W/o"
  record throughput souphttpsrc "$W/o"
  kb "filesrc name=src location=$W/256.bin blocksize=262144 ! fakesink sync=false" >"$W/o"
  record throughput filesrc "$W/o"
  t=$(curl -s -o /dev/null -w '%{time_total}' "$URL")
  printf 'throughput\tcurl\tt_eos=%s\t\n' "$(awk -v t="$t" 'BEGIN{printf "%.3f", t*1000}')" >>"$RAW"
  echo "  run $run: $(grep -c . "$RAW") records"
done
stop_emu

# ------------------------------------------------------------------ 2+4: RSS flat for 1 and 2 GiB, progressive, seek
for size in 1 2; do
  echo "bench: [2/4] ${size} GiB (sparse) output: peak RSS, progressive"
  truncate -s "${size}G" "$W/big.bin"
  start_emu emubig --video-file "$W/big.bin" --latency-ms 300
  URL=$(python3 "$HERE/util.py" output-url "$API" emulator-key)
  kb "$(kling big) ! fakesink sync=false" >"$W/o"
  record rss "klingsrc ${size}GiB" "$W/o"
  [[ $size == 2 ]] && record progressive "klingsrc 2GiB" "$W/o"
  kb "souphttpsrc name=src location=$URL ! fakesink sync=false" >"$W/o"
  record rss "souphttpsrc ${size}GiB" "$W/o"
  if [[ $size == 2 ]]; then
    kb --seek-from-end $((64 * MiB)) "$(kling seek) ! fakesink sync=false" >"$W/o"
    record progressive seek "$W/o"
  fi
  stop_emu
  rm -f "$W/big.bin"
done

echo "bench: [4] progressive MP4 through qtdemux (pull mode)"
start_emu emugen --latency-ms 200 --video-scale 4 --output-dir "$W/gen"
python3 "$HERE/util.py" output-url "$API" emulator-key >"$W/u" && curl -s -o "$W/faststart.mp4" "$(cat "$W/u")"
stop_emu
start_emu emugen2 --latency-ms 200 --video-scale 4 --moov-at-end --output-dir "$W/gen2"
python3 "$HERE/util.py" output-url "$API" emulator-key >"$W/u" && curl -s -o "$W/moovend.mp4" "$(cat "$W/u")"
stop_emu
for layout in faststart moov-at-end; do
  f=$W/faststart.mp4; [[ $layout == moov-at-end ]] && f=$W/moovend.mp4
  echo "  $layout: $(python3 "$HERE/util.py" pad-mp4 "$f" "$W/padded.mp4" $((1024 * MiB)))"
  start_emu emupad --video-file "$W/padded.mp4" --latency-ms 300
  kb --probe sink "$(kling "$layout") ! qtdemux ! fakesink name=sink sync=false" >"$W/o"
  record progressive "$layout" "$W/o"
  stop_emu
  rm -f "$W/padded.mp4"
done

# ------------------------------------------------------------------ 5: waiting is free
echo "bench: [5] CPU over a 20 s generation (poll-interval 5000 and 1000, side by side)"
head -c $MiB /dev/urandom >"$W/1.bin"
start_emu emuidle --video-file "$W/1.bin" --latency-ms 20000
kb -t 60 "$(kling idle5000 5000) ! fakesink sync=false" >"$W/o5" &
p1=$!
kb -t 60 "$(kling idle1000 1000) ! fakesink sync=false" >"$W/o1" &
p2=$!
wait $p1 $p2
record idle poll-interval=5000 "$W/o5"
record idle poll-interval=1000 "$W/o1"
stop_emu

# ------------------------------------------------------------------ 6: scale
echo "bench: [6] scale: 1, 8, 16, 32 klingsrc in one process"
start_emu emuscale --video-file "$W/1.bin" --latency-ms 3000
for N in 1 8 16 32 32s; do
  n=$((n + 1))
  stagger=20; [[ $N == 32s ]] && stagger=0
  kb -n "${N%s}" --stagger-ms $stagger -t 60 "klingsrc name=src prompt=\"bench $$ $n scale %d\" journal=none cache-dir=\"\" poll-interval=100 ! fakesink sync=false" >"$W/o"
  record scale "$N" "$W/o"
done
stop_emu

if [[ ${PROFILE:-0} == 1 ]]; then "$HERE/profile.sh" || true; fi

echo
python3 "$HERE/util.py" report "$RAW" "$RESULTS/results.md" "$RESULTS/machine.txt"
