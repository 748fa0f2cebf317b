#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# klinglivesrc's first frame and late frames in absolute figures, beside
# videotestsrc is-live=true started with it into the same sink (the
# klinglivesrc suite asserts only the comparison; the milliseconds are here).
# RUNS (default 10) runs of the hung-API and slate/clip/clip/loop cases, with
# HOGS (default 2) CPU hogs at nice 19 beside them. Writes
# bench/results/live_start.md. About 30 s a run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
hogs=${HOGS:-2}
nice meson compile -C build >/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq "$hogs"); do
  nice -n 19 sh -c 'while :; do :; done' &
  pids+=("$!")
done
log=build/meson-logs/live-start.txt
all=$(mktemp)
for i in $(seq "$runs"); do
  meson test -C build --logbase live-start klinglivesrc --test-args "-p /klinglivesrc/first-frame-at-once-against-hung-api \
    -p /klinglivesrc/slate-clip-clip-loop-continuous-back-to-back" >/dev/null || true
  # (meson calls a run of 2 of the suite's 9 cases an error: the cases' own verdicts count)
  if grep -q '^not ok' "$log"; then echo "run $i: a case failed" >&2; fi
  grep -E '^# (first frame|late frames)' "$log" >>"$all" || true
done
python3 - "$all" "$runs" "$hogs" >bench/results/live_start.md <<'PY'
import re, statistics, sys, subprocess
lines = open(sys.argv[1]).read().splitlines()
first = [tuple(map(int, m.groups())) for m in (re.search(r'klinglivesrc (\d+) ms, videotestsrc (\d+) ms', l) for l in lines) if m]
late = [tuple(map(int, m.groups())) for m in (re.search(r'klinglivesrc (\d+) of (\d+) \(worst (\d+) ms\), videotestsrc beside it (\d+) of (\d+) \(worst (\d+) ms\)', l) for l in lines) if m]
git = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
print(f'# klinglivesrc start and lateness beside videotestsrc is-live=true (git {git})\n')
print(f'{sys.argv[2]} runs, {sys.argv[3]} CPU hogs at nice 19 beside them (bench/live_start.sh).\n')
if first:
    k = [a for a, _ in first]; r = [b for _, b in first]
    print('| first frame after PLAYING | median | max |\n|---|---|---|')
    print(f'| klinglivesrc (API hung) | {statistics.median(k)} ms | {max(k)} ms |')
    print(f'| videotestsrc is-live=true | {statistics.median(r)} ms | {max(r)} ms |\n')
if late:
    print('| frames > 2 periods late (from 0.5 s on) | late / frames | worst |\n|---|---|---|')
    print(f'| klinglivesrc | {sum(x[0] for x in late)} / {sum(x[1] for x in late)} | {max(x[2] for x in late)} ms |')
    print(f'| videotestsrc is-live=true | {sum(x[3] for x in late)} / {sum(x[4] for x in late)} | {max(x[5] for x in late)} ms |')
PY
rm -f "$all"
cat bench/results/live_start.md
