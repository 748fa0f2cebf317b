# SPDX-License-Identifier: LGPL-2.1-or-later
"""kling-emulator on free loopback ports for the Python test scripts
(tests/e2e/examples/run_example.py, and through e2e_case.py the one_charge, generate and fleet
scripts), and what it was asked, read back from its request log. Python 3 standard library only.

Output lines start with "#": TAP comments for the scripts that speak TAP.
"""
import json
import os
import re
import selectors
import subprocess
import sys
import time
import traceback


class Failure(Exception):
    pass


class Skip(Exception):
    """A case that cannot run here (a missing package): reported as a TAP SKIP."""


def check(condition, what):
    if not condition:
        raise Failure(what)
    print(f"# ok: {what}")


def read_until(fd, done, timeout):
    """What fd (a pipe or a pty, nothing of it buffered elsewhere) says until done(all read so
    far) holds, or until its end when done is None. `timeout` only bounds a hang: the text comes
    as events happen, it is not a measured time."""
    data, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while done is None or not done(data.decode(errors="replace")):
            if not sel.select(max(0, deadline - time.monotonic())):
                raise Failure(f"not seen within {timeout} s; so far: {data[-3000:]!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: a pty whose other end closed
                chunk = b""
            if not chunk:
                if done is None:
                    break
                raise Failure(f"it ended first; so far: {data[-3000:]!r}")
            data += chunk
    return data.decode(errors="replace")


class Emulator:
    """One kling-emulator; its videos in WORKDIR/emulator-videos, its request log its own."""

    def __init__(self, exe, workdir, *flags, scale=4, latency_ms=300):
        self.videos = os.path.join(workdir, "emulator-videos")
        self.request_log = os.path.join(workdir, f"emulator-requests-{time.monotonic_ns()}.jsonl")
        # The clients' catalogue cache: one a server, never one an earlier server on the same
        # port left (fresh for an hour, it would stand for this one's).
        self.xdg_cache = os.path.join(workdir, f"xdg-cache-{time.monotonic_ns()}")
        cmd = [exe, f"--video-scale={scale}", f"--latency-ms={latency_ms}",
               f"--output-dir={self.videos}", f"--request-log={self.request_log}", *flags]
        print("# $", " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        addresses = self._read_addresses()
        self.api, self.cdn = addresses["API"], addresses["CDN"]

    def _read_addresses(self, timeout=20):
        """The first two lines: `API: http://...` and `CDN: http://...`."""
        text = read_until(self.proc.stdout.fileno(), lambda t: t.count("\n") >= 2, timeout)
        for line in text.splitlines():
            print("#", line)
        return dict(re.findall(r"^(API|CDN): (\S+)$", text, re.M))

    def env(self):
        return dict(os.environ, WAVESPEED_BASE_URL=self.api, WAVESPEED_API_KEY="emulator-key",
                    XDG_CACHE_HOME=self.xdg_cache)

    def requests(self):
        try:
            with open(self.request_log) as log:
                # A last line without its newline is still being written: read next time.
                return [json.loads(line) for line in log if line.endswith("\n") and line.strip()]
        except FileNotFoundError:
            return []

    def count(self, server, method, prefix):
        return sum(1 for r in self.requests()
                   if r["server"] == server and r["method"] == method and r["path"].startswith(prefix))

    def submits(self):
        """POSTs that create a task (not price quotes or uploads)."""
        return sum(1 for r in self.requests()
                   if r["server"] == "api" and r["method"] == "POST"
                   and r["path"].startswith("/api/v3/") and not r["path"].startswith("/api/v3/model/")
                   and not r["path"].startswith("/api/v3/media/"))

    def polls(self):
        return sum(1 for r in self.requests() if "/predictions/" in r["path"])

    def wait_for_submits(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while self.submits() < n:
            if time.monotonic() > deadline:
                raise Failure(f"the emulator saw {self.submits()} submits, not {n}")
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_tap(cases, suite, args):
    """Runs each case(args) (those whose names hold one of args.cases, if any) in turn as one
    TAP test /SUITE/NAME; a failed case never hides the others. The exit status: 1 when one failed."""
    cases = [c for c in cases if not args.cases or any(n in c.__name__ for n in args.cases)]
    print(f"1..{len(cases)}")
    failed = 0
    for i, case in enumerate(cases, 1):
        name = case.__name__[len("case_"):].replace("_", "-")
        try:
            case(args)
            print(f"ok {i} /{suite}/{name}")
        except Skip as e:
            print(f"ok {i} /{suite}/{name} # SKIP {e}")
        except Exception as e:
            failed += 1
            for line in (traceback.format_exc() if not isinstance(e, Failure) else str(e)).splitlines():
                print("# " + line)
            print(f"not ok {i} /{suite}/{name}")
        sys.stdout.flush()
    return 1 if failed else 0
