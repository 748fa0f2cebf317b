#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/ledger.sh: what the ledger adds to a run's start (open, claim, begin the submit with
# the daily budget summed, mark it submitted), the machine's SQLite file against a PostgreSQL
# server on loopback (kling-pg-scratch: initdb in /tmp, fsync off), RUNS runs one after another,
# then PROCS processes deciding at once: distinct requests, and all on one request (one submits).
# Figures go to results/ledger.tsv (appended) and stdout. About 20 s.
#   RUNS=50 PROCS=32 BUILD=build bench/ledger.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-50}
PROCS=${PROCS:-32}
nice meson compile -C "$BUILD" kling-ledger-bench kling-pg-scratch >/dev/null
W=$(mktemp -d /tmp/kbench-ledger.XXXXXX)
coproc PG { exec "$BUILD/tests/kling-pg-scratch"; }
PG_IN=${PG[1]}
# The server stops (and its folder goes) when its input closes.
trap 'exec {PG_IN}>&-; wait; rm -rf "$W"' EXIT
read -r -t 60 -u "${PG[0]}" line
URI=${line#URI: }  # holds the server's password: never printed
{
  echo "# $(date -u +%FT%TZ) git $(git -C "$ROOT" rev-parse --short HEAD) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# what	ledger	n	median_ms	p90_ms	max_ms	wall_ms	submits"
  timeout 300 "$BUILD/bench/kling-ledger-bench" "$W/ledger.db" "$RUNS" "$PROCS"
  timeout 300 "$BUILD/bench/kling-ledger-bench" "$URI" "$RUNS" "$PROCS"
} | tee -a "$HERE/results/ledger.tsv"
