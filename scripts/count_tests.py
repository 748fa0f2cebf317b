#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Counts test results from meson testlog.json files (one per build): every TAP
subtest, and every plain (exit-code) test as one; and from TAP files (*.tap: the
`ok`/`not ok` lines of the CI's own checks). Prints `N passed, N failed`."""
import json
import re
import sys

passed = failed = skipped = 0
TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$", re.M)


def tally(verdicts):
    global passed, failed, skipped
    for verdict, rest in verdicts:
        if "# SKIP" in rest:
            skipped += 1
        elif verdict == "ok":
            passed += 1
        else:
            failed += 1


lines = []
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as log:
            text = log.read()
    except OSError:
        print(f"no test log at {path}: that build or run failed", file=sys.stderr)
        failed += 1
        continue
    if not path.endswith(".tap"):
        lines.extend(text.splitlines())
        continue
    verdicts = TAP_LINE.findall(text)
    if not verdicts:
        print(f"no check in {path}: that stage failed", file=sys.stderr)
        failed += 1
    tally(verdicts)
for line in lines:
    try:
        test = json.loads(line)
    except json.JSONDecodeError:
        print("an unreadable line in a test log: counted as a failure", file=sys.stderr)
        failed += 1
        continue
    out = test.get("stdout") or ""
    oks = TAP_LINE.findall(out)
    if oks:
        tally(oks)
        if test["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and all(v == "ok" for v, _ in oks):
            failed += 1  # crashed or timed out after its last subtest
    elif test["result"] == "SKIP":
        skipped += 1
    elif test["result"] in ("OK", "EXPECTEDFAIL"):
        passed += 1
    else:
        failed += 1
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
