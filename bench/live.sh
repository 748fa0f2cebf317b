#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# klinglivesrc's cost, measured with farm-bench against its anchors (issue 11):
#  1. the slate: CPU per second of 720p30 output while the API hangs, vs the same
#     pipeline fed by `videotestsrc is-live=true`;
#  2. a clip: CPU while a ready 720p clip plays, vs `filesrc ! decodebin` of the same MP4
#     scaled and rated to the same output;
#  3. memory over a playlist of 100 short clips (RSS sampled as the clips go by);
#  4. punctuality over 100 clips: frames reaching a synchronising sink more than two frame
#     periods late, klinglivesrc and `videotestsrc is-live=true` side by side in one pipeline
#     (one clock), with a CPU hog (one niced busy loop a core) beside both (bench/live_late.c).
# Writes bench/results/live.md (parts 1-3) and bench/results/live_late.md (part 4). About 8
# minutes. RUNS (default 3) pairs per comparison, and runs of part 4; PARTS=4 runs part 4 only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-3}
work=$(mktemp -d /tmp/kbench-live.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

nice meson compile -C build >/dev/null || echo "build failed: using the last built plugin" >&2
export GST_PLUGIN_PATH=$root/build/gst-plugin GST_REGISTRY=$work/registry.dat
export WAVESPEED_API_KEY=emulator-key
emulator=$root/build/emulator/kling-emulator

# An emulator with FLAGS on free ports (plenty of credit: 100 clips cost more than the
# default $100); sets $api to its API URL. Not in a subshell: its pid must reach cleanup.
start_emulator() {
  local out=$work/emu.$RANDOM.out
  "$emulator" --balance 100000 --request-log "$work/requests.jsonl" "$@" >"$out" &
  pids+=("$!")
  for _ in $(seq 100); do
    grep -q '^API: ' "$out" 2>/dev/null && break
    sleep 0.1
  done
  api=$(grep '^API: ' "$out" | cut -d' ' -f2)
}

# The clips the emulator serves: 720p H.264, 5 s at 25 fps, and 0.5 s for the playlist.
make_clip() {  # FILE FRAMES
  gst-launch-1.0 -q videotestsrc pattern=ball num-buffers="$2" \
    ! video/x-raw,width=1280,height=720,framerate=25/1 ! x264enc speed-preset=ultrafast \
    ! mp4mux ! filesink location="$1"
}
make_clip "$work/clip.mp4" 125
make_clip "$work/short.mp4" 13

out=720p30
caps="video/x-raw,width=1280,height=720,framerate=30/1"
live="klinglivesrc journal=none poll-interval=100 prompt=bench"
frames=150  # 5 s of output

bench() {  # NAME A... -- B (a string)
  local name=$1
  shift
  farm-bench -n "$runs" --warmup 1 --timeout 600 "$@" 2>&1 | tee "$work/$name.txt"
}

parts=${PARTS:-1234}
for i in $(seq 100); do echo "clip number $i"; done >"$work/playlist.txt"

if [[ $parts == *1* ]]; then
start_emulator --hang-submit
hung=$api
bench slate --vs "gst-launch-1.0 -q videotestsrc is-live=true num-buffers=$frames ! $caps ! fakesink sync=true" \
  -- gst-launch-1.0 -q $live api-url="$hung" ! $caps ! identity eos-after=$frames ! fakesink sync=true

fi

if [[ $parts == *2* ]]; then
start_emulator --latency-ms 0 --video-file "$work/clip.mp4"
ready=$api
bench clip --vs "gst-launch-1.0 -q filesrc location=$work/clip.mp4 ! decodebin ! videoconvert ! videoscale add-borders=true ! videorate ! $caps ! fakesink sync=true" \
  -- gst-launch-1.0 -q $live api-url="$ready" ! $caps ! identity eos-after=$frames ! fakesink sync=true

fi

# 3. Memory: 100 clips of 0.5 s, RSS after each tenth clip.
if [[ $parts == *3* ]]; then
start_emulator --latency-ms 200 --video-file "$work/short.mp4"
short=$api
memory_run() {
  /usr/bin/python3 "$root/bench/live_memory.py" --clips 100 -- gst-launch-1.0 -m \
    klinglivesrc journal=none poll-interval=50 api-url="$short" playlist="$work/playlist.txt" \
    when-idle=slate ! $caps ! fakesink sync=true
}
# glibc's default, then with its mmap threshold fixed (every frame mapped apart): the two
# should agree, as nothing of a finished clip is left in the heap's arenas.
memory_run | tee "$work/memory.txt"
MALLOC_MMAP_THRESHOLD_=131072 memory_run | tee "$work/memory-mmap.txt"
fi

if [[ $parts == *1* && $parts == *2* && $parts == *3* ]]; then
median() { awk -v k="$2" '$1" "$2" "$3==k {print $5}' "$work/$1.txt"; }
{
  echo "# klinglivesrc: CPU and memory ($(date -u +%F), $(nproc) cores, RUNS=$runs, bench/live.sh)"
  echo
  echo "| output 720p30, 5 s, fakesink sync=true | klinglivesrc cpu s | anchor cpu s | ratio (median of pairs) |"
  echo "|---|---|---|---|"
  echo "| slate (API hung) vs videotestsrc is-live=true | $(median slate 'A cpu s') | $(median slate 'B cpu s') | $(awk '$1=="A/B" && $2=="cpu" {print $4}' "$work/slate.txt") |"
  echo "| clip playing vs filesrc ! decodebin (same MP4) | $(median clip 'A cpu s') | $(median clip 'B cpu s') | $(awk '$1=="A/B" && $2=="cpu" {print $4}' "$work/clip.txt") |"
  echo
  echo "Memory over a playlist of 100 clips of 0.5 s (RSS of the gst-launch-1.0 process):"
  echo
  echo '| clips | RSS MiB (glibc default) | RSS MiB (MALLOC_MMAP_THRESHOLD_=131072) |'
  echo '|---|---|---|'
  join <(awk '$1 ~ /^[0-9]+$/ {print $1, $3}' "$work/memory.txt") \
       <(awk '$1 ~ /^[0-9]+$/ {print $1, $3}' "$work/memory-mmap.txt") | awk '{print "| "$1" | "$2" | "$3" |"}'
} >"$root/bench/results/live.md"
cat "$root/bench/results/live.md"
fi

# 4. Punctuality: 100 clips of 0.5 s played back to back, with a hog on every core.
if [[ $parts == *4* ]]; then
gcc -O2 -Wall -o "$work/live_late" "$root/bench/live_late.c" $(pkg-config --cflags --libs gstreamer-1.0)
start_emulator --latency-ms 200 --video-file "$work/short.mp4"
late_api=$api
hogs=()
for _ in $(seq "$(nproc)"); do
  nice -n 10 sh -c 'while :; do :; done' &
  hogs+=("$!")
  pids+=("$!")
done
for r in $(seq "$runs"); do
  "$work/live_late" --clips 100 --seconds 300 \
    "klinglivesrc journal=none poll-interval=50 api-url=$late_api playlist=$work/playlist.txt \
     when-idle=slate ! $caps ! fakesink name=live sync=true \
     videotestsrc is-live=true ! $caps ! fakesink name=ref sync=true" | tee -a "$work/late.txt" || true
done
kill "${hogs[@]}" 2>/dev/null || true
{
  echo "# klinglivesrc punctuality ($(date -u +%F), $(nproc) cores, git $(git rev-parse --short HEAD), bench/live.sh part 4)"
  echo
  echo "100 clips of 0.5 s (720p H.264 from kling-emulator) played back to back into"
  echo "\`$caps ! fakesink sync=true\`, \`videotestsrc is-live=true\` into the same caps and sink in"
  echo "the same pipeline (one clock), a niced busy loop on each core beside both. Late: reached"
  echo "the sink more than two frame periods after its timestamp's running time."
  echo
  echo '| run | klinglivesrc frames | late | worst ms | late while a clip played | videotestsrc frames | late | worst ms |'
  echo '|---|---|---|---|---|---|---|---|'
  awk '$1=="live" {split($0,a," "); for (i in a) {split(a[i],kv,"="); v[kv[1]]=kv[2]}; lf=v["frames"]; ll=v["late"]; lw=v["worst_ms"]; lc=v["late_clip"]}
       $1=="ref" {split($0,a," "); for (i in a) {split(a[i],kv,"="); v[kv[1]]=kv[2]}; n++; print "| "n" | "lf" | "ll" | "lw" | "lc" | "v["frames"]" | "v["late"]" | "v["worst_ms"]" |"}' "$work/late.txt"
} >"$root/bench/results/live_late.md"
cat "$root/bench/results/live_late.md"
fi
