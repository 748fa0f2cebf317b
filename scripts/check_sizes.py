#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""No function over 80 lines and no class over 300 in gst-plugin/ and emulator/.

Universal Ctags finds the definitions and where each ends (it matches braces
past strings, comments and initialiser lists); a line is counted from the
definition's first line to its closing brace. Prints TAP (a skipped plan
without Universal Ctags). `scripts/check_sizes.py --list` prints every
definition over half its limit, longest first.
"""
import json
import os
import shutil
import subprocess
import sys

ROOTS = ("gst-plugin/", "emulator/")
LIMITS = {"function": 80, "class": 300, "struct": 300}


def sources(top):
    out = subprocess.run(["git", "-C", top, "ls-files", "--", *ROOTS], check=True,
                         capture_output=True, text=True).stdout.split()
    return [f for f in out if f.endswith((".c", ".cpp", ".h")) and "/tests/" not in f]


def definitions(top, files):
    out = subprocess.run(["ctags", "--output-format=json", "--fields=+neK", "--kinds-C=fs",
                          "--kinds-C++=fcs", "-f", "-", *files], cwd=top, check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        tag = json.loads(line)
        kind = tag.get("kind")
        if kind in LIMITS and "end" in tag:
            scope = tag.get("scope", "")
            name = f"{scope}::{tag['name']}" if scope else tag["name"]
            yield tag["path"], tag["line"], tag["end"] - tag["line"] + 1, kind, name


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ctags = shutil.which("ctags")
    version = subprocess.run([ctags, "--version"], capture_output=True, text=True).stdout if ctags else ""
    if "Universal Ctags" not in version:
        print("1..0 # SKIP Universal Ctags is not installed")
        return 0
    found = sorted(definitions(top, sources(top)), key=lambda d: -d[2])
    if "--list" in sys.argv:
        for path, line, length, kind, name in found:
            if length > LIMITS[kind] // 2:
                print(f"{length:4} {kind:8} {path}:{line} {name}")
        return 0
    over = [d for d in found if d[2] > LIMITS[d[3]]]
    print("1..1")
    for path, line, length, kind, name in over:
        print(f"# {path}:{line}: {kind} {name} is {length} lines (limit {LIMITS[kind]})")
    if over:
        print(f"not ok 1 - {len(over)} definitions over their size limit")
        return 1
    print(f"ok 1 - {len(found)} functions and classes within 80 and 300 lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
