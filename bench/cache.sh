#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cost of `cache-dir` alone, side by side: a 256 MiB klingsrc download with cache-dir (the
# entry written, hashed and fsynced before EOS), the replay of that entry by a new process (the
# entry verified, then streamed), the same download without cache-dir, and souphttpsrc on the
# same URL, interleaved, RUNS times; medians. PLUGIN_B=path/libgstkling.so adds the same klingsrc
# rows for a second build (A/B in one run, e.g. main's plugin against this tree's).
# Usage: bench/cache.sh   (env: RUNS=9, BUILD=build dir, PLUGIN=path/libgstkling.so, PLUGIN_B=...)
# Output: stdout, and bench/results/cache.tsv (every run).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
RUNS=${RUNS:-9}

bench_setup kcache
mkdir -p "$W/a" "$W/b"
cp "${PLUGIN:-$BUILD/gst-plugin/libgstkling.so}" "$W/a/libgstkling.so"
variants=(a)
if [[ -n ${PLUGIN_B:-} ]]; then cp "$PLUGIN_B" "$W/b/libgstkling.so"; variants+=(b); fi
unset KLING_CACHE_DIR
for v in "${variants[@]}"; do GST_PLUGIN_PATH=$W/$v GST_REGISTRY=$W/$v/registry.bin gst-inspect-1.0 klingsrc >/dev/null; done
bench_emulator_256
URL=$(python3 "$HERE/util.py" output-url "$WAVESPEED_BASE_URL" emulator-key)
curl -s -o /dev/null "$URL"   # page cache warm for everybody

RAW=$RESULTS/cache.tsv
: >"$RAW"
kb() { timeout 300 "$W/kbench" "$@" || true; }
# run VARIANT NAME PIPELINE: one kbench run; records download ms (poll COMPLETE -> EOS) and total ms.
run() {
  local v=$1 name=$2; shift 2
  if [[ $v == - ]]; then kb "$@" >"$W/o"; else GST_PLUGIN_PATH=$W/$v GST_REGISTRY=$W/$v/registry.bin kb "$@" >"$W/o"; fi
  awk -F= -v name="$name" '/^t_eos=/{e=$2} /^t_poll_complete=/{p=$2} /^bytes=/{b=$2}
    END{printf "%s\t%.3f\t%.3f\t%s\n", name, (p == "" || p < 0 ? e : e - p), e, b}' "$W/o" >>"$RAW"
}
n=0
for r in $(seq "$RUNS"); do
  for v in "${variants[@]}"; do
    n=$((n + 1))
    P="klingsrc name=src prompt=\"cache bench $$ $n\" journal=none poll-interval=100"
    run "$v" "$v: klingsrc cache-dir, download" "$P cache-dir=$W/cache ! fakesink sync=false"
    run "$v" "$v: klingsrc cache-dir, replay" "$P cache-dir=$W/cache ! fakesink sync=false"
    rm -rf "$W/cache"
    run "$v" "$v: klingsrc, no cache-dir" "$P cache-dir=\"\" ! fakesink sync=false"
  done
  run - "souphttpsrc" "souphttpsrc name=src location=$URL ! fakesink sync=false"
  echo "  run $r done" >&2
done
echo "bench: $(nproc) cores, $(uname -r), git $(git -C "$ROOT" rev-parse --short HEAD), $RUNS runs; medians, ms"
python3 - "$RAW" <<'EOF'
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, dl, total, b = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(dl), float(total), b))
soup = statistics.median(d for d, _, _ in rows.get("souphttpsrc", [(1, 1, "")]))
print("| reader | download ms (poll COMPLETE or PLAYING -> EOS) | total ms (PLAYING -> EOS) | vs souphttpsrc | bytes |")
print("|---|---|---|---|---|")
for name, v in rows.items():
    d = statistics.median(x[0] for x in v); t = statistics.median(x[1] for x in v)
    print("| %s | %.1f (min %.1f, max %.1f) | %.1f | %.2fx | %s |" % (
        name, d, min(x[0] for x in v), max(x[0] for x in v), t, d / soup, v[0][2]))
EOF
