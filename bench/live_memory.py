#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs COMMAND (a gst-launch-1.0 -m klinglivesrc pipeline) until --clips clips
have started, printing its RSS after every tenth `clip-start`. Standard library only.

    live_memory.py --clips 100 -- gst-launch-1.0 -m klinglivesrc ... ! fakesink
"""
import argparse
import signal
import subprocess
import sys
import time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    proc = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    started, clips, warnings = time.monotonic(), 0, 0
    print(f"{'clips':>6} {'seconds':>8} {'RSS MiB':>8}")
    for line in proc.stdout:
        if "WARNING" in line:
            warnings += 1
        if "kling/live" in line and "event=(string)clip-start" in line:
            clips += 1
            if clips == 1 or clips % 10 == 0:
                print(f"{clips:>6} {time.monotonic() - started:>8.1f} {rss_mib(proc.pid):>8.1f}",
                      flush=True)
            if clips >= args.clips:
                break
        if time.monotonic() - started > args.timeout:
            print(f"timeout after {clips} clips")
            break
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    print(f"warnings: {warnings}")
    return 0 if clips >= args.clips else 1


if __name__ == "__main__":
    sys.exit(main())
