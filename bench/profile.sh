#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Profile of one 256 MiB klingsrc ! fakesink download: perf (cpu-clock, call graphs, per
# thread) and the sizes of the data syscalls (strace); then the same with cache-dir (perf by
# thread, the entry's fsync under strace -T) and its replay. Output: bench/results/profile.txt.
# Usage: bench/profile.sh   (env: BUILD=build dir, PLUGIN=path/libgstkling.so)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
for p in linux-perf strace gcc pkg-config libgstreamer1.0-dev curl python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    apt-get install -y --no-install-recommends "$p" >/dev/null
done
bench_setup kprof
mkdir -p "$W/plugin"
cp "${PLUGIN:-$BUILD/gst-plugin/libgstkling.so}" "$W/plugin/libgstkling.so"
export GST_PLUGIN_PATH=$W/plugin GST_REGISTRY=$W/registry.bin
bench_emulator_256
OUT=$RESULTS/profile.txt
set +e +o pipefail   # report pipelines end in head/grep
P="klingsrc name=src journal=none cache-dir=\"\" poll-interval=100 prompt=\"profile $$"
{
  echo "== perf record -e cpu-clock -g (klingsrc, 256 MiB, blocksize 262144): by thread"
  perf record -q -e cpu-clock -F 4999 -g -o "$W/perf.data" -- "$W/kbench" "$P a\" ! fakesink sync=false" >/dev/null 2>&1 || true
  perf report -i "$W/perf.data" --no-children --sort pid,tid --stdio -g none 2>/dev/null | grep "%" | head -8
  echo; echo "== top symbols"
  perf report -i "$W/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | head -25
  echo; echo "== callers of the top symbols (caller graph, 3%+)"
  perf report -i "$W/perf.data" --no-children --sort sym --stdio -g caller,3,callee --percent-limit 3 2>/dev/null |
    grep -v '^$' | grep -v '^#' | head -80
  echo; echo "== data syscalls (strace -f), sizes rounded down to a power of two"
  strace -f -qq -ff -e trace=read,recvfrom,recvmsg,readv,pwrite64,pread64,write,writev -o "$W/st" \
    "$W/kbench" "$P b\" ! fakesink sync=false" >/dev/null 2>&1 || true
  python3 - "$W" <<'EOF'
import collections, glob, re, sys
cnt = collections.defaultdict(collections.Counter); tot = collections.Counter()
for f in glob.glob(sys.argv[1] + "/st.*"):
    for l in open(f, errors="replace"):
        m = re.match(r"(\w+)\(\d+,.*\)\s+=\s+(\d+)", l)
        if m and int(m.group(2)) > 0:
            r = int(m.group(2)); cnt[m.group(1)][1 << (r.bit_length() - 1)] += 1; tot[m.group(1)] += r
for sc in sorted(cnt, key=lambda s: -tot[s]):
    if tot[sc] < 1 << 20: continue
    n = sum(cnt[sc].values())
    print("%-10s %6d calls %11d bytes  avg %7d  sizes %s" % (sc, n, tot[sc], tot[sc] // n,
          ", ".join("%dx%d" % (c, s) for s, c in cnt[sc].most_common(4))))
EOF
  C="klingsrc name=src journal=none cache-dir=$W/cache poll-interval=100 prompt=\"profile $$ cache\""
  echo; echo "== cache-dir: perf record -e cpu-clock (klingsrc cache-dir, 256 MiB): by thread and library"
  perf record -q -e cpu-clock -F 4999 -g -o "$W/perf-c.data" -- "$W/kbench" "$C ! fakesink sync=false" 2>/dev/null |
    grep -E '^(t_poll_complete|t_eos|cpu_user_s|cpu_sys_s)='
  perf report -i "$W/perf-c.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep "%" | head -8
  echo; echo "== cache-dir: top symbols"
  perf report -i "$W/perf-c.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | head -12
  echo; echo "== cache-dir: the entry's fsync, link and renames (strace -T, seconds)"
  rm -rf "$W/cache"
  strace -f -qq -T -e trace=fsync,fdatasync,linkat,rename,renameat,renameat2 -o "$W/st-c" \
    "$W/kbench" "$C ! fakesink sync=false" >/dev/null 2>&1 || true
  sed -E 's#"/[^"]*/#".../#g' "$W/st-c"
  echo; echo "== cache-dir replay of that entry (verified, then streamed): by thread and library"
  perf record -q -e cpu-clock -F 4999 -g -o "$W/perf-r.data" -- "$W/kbench" "$C ! fakesink sync=false" 2>/dev/null |
    grep -E '^(t_eos|cpu_user_s|cpu_sys_s)='
  perf report -i "$W/perf-r.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep "%" | head -6
} >"$OUT" 2>&1
cat "$OUT"
