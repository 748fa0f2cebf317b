#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The build says what it needs of the system before any compiler error: `meson setup`
of this source tree for a host that is not Linux, and with a C library that hides
O_TMPFILE (glibc without _GNU_SOURCE), stops with "gst-kling needs Linux (...)"
naming what is missing, never with a compiler's error. TAP output.

    linux_only.py --meson MESON --source DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def setup(meson, source, tmp, *args):
    build = tempfile.mkdtemp(dir=tmp)
    p = subprocess.run([meson, "setup", *args, build, source], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--meson", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="kling-portability-")
    failed = 0
    try:
        cxx = os.environ.get("CXX", "c++").split()[0]
        cross = os.path.join(tmp, "freebsd.ini")
        with open(cross, "w") as f:
            f.write(f"[binaries]\ncpp = '{shutil.which(cxx) or cxx}'\n"
                    "[host_machine]\nsystem = 'freebsd'\ncpu_family = 'x86_64'\ncpu = 'x86_64'\n"
                    "endian = 'little'\n")
        # A C library that lacks the Linux calls: glibc with _GNU_SOURCE taken away.
        native = os.path.join(tmp, "no_gnu_source.ini")
        with open(native, "w") as f:
            f.write("[built-in options]\ncpp_args = ['-U_GNU_SOURCE']\n")
        cases = [
            ("/portability/another-host-is-refused-at-setup", ["--cross-file", cross],
             ["gst-kling needs Linux (", "this build is for freebsd"]),
            ("/portability/a-missing-linux-call-is-named-at-setup", ["--native-file", native],
             ["gst-kling needs Linux (", "<fcntl.h> declares no O_TMPFILE"]),
        ]
        print(f"1..{len(cases)}")
        for i, (name, extra, expected) in enumerate(cases, 1):
            rc, out = setup(args.meson, args.source, tmp, *extra)
            # Meson's own ERROR line at setup, never a compiler's "file:line:col: error:".
            ok = rc != 0 and all(e in out for e in expected) and not re.search(r":\d+:\d+: error:", out)
            if not ok:
                failed += 1
                for line in out.splitlines()[-15:]:
                    print("# " + line)
            print(f"{'ok' if ok else 'not ok'} {i} {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
