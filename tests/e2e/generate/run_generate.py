#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`kling-tasks generate` against kling-emulator: a video made ahead of time under the
element's money rules, its kling:// URI then replayed by klingsrc (through uridecodebin)
at no cost; submits counted from the emulator's request log. TAP output.

    run_generate.py --emulator PATH --kling-tasks PATH [CASE...]
"""
import contextlib
import json
import os
import pty
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from e2e_case import Case, finish, read, say, tap_main  # noqa: E402
from kling_emulator import check  # noqa: E402

RUN_TIMEOUT = 30


@contextlib.contextmanager
def emulated(args, *flags):
    """A case's emulator and folder (e2e_case.Case), removed whatever happens."""
    c = Case(args.emulator, *flags)
    try:
        yield c
    finally:
        c.close()


def generate(args, c, *options, **env):
    """kling-tasks generate OPTIONS, stdout and stderr apart (stdout is the URI)."""
    cmd = [args.kling_tasks, "generate", "--poll-interval", "100", *options]
    print("# $", " ".join(cmd))
    p = subprocess.run(cmd, env=c.env(**env), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    say(p.stderr)
    return p.returncode, p.stdout.strip(), p.stderr


def play_uri(c, uri, out=None):
    """The URI through uridecodebin (klingsrc as a URI handler), as a player would open it."""
    sink = ["filesink", f"location={out}"] if out else ["fakesink"]
    src = ["urisourcebin", f"uri={uri}"] if out else ["uridecodebin", f"uri={uri}"]
    cmd = ["gst-launch-1.0", *src, "!", *sink]
    print("# $", " ".join(cmd))
    p = subprocess.Popen(cmd, env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    rc, output = finish(p, RUN_TIMEOUT)
    say(output)
    return rc, output


def submitted_bodies(c):
    return [json.loads(r["body"]) for r in c.emu.requests()
            if r["server"] == "api" and r["method"] == "POST" and r["path"].startswith("/api/v3/kwaivgi/")]


# ------------------------------------------------------------------ cases

def case_generate_then_its_uri_replays_at_no_cost(args):
    with emulated(args) as c:
        out = c.path("made.mp4")
        rc, uri, err = generate(args, c, "a fox made ahead of time", "-d", "10", "-a", "1:1", "-o", out)
        check(rc == 0, "generate succeeded")
        check(c.emu.submits() == 1, f"one submit (saw {c.emu.submits()})")
        check(uri.startswith("kling://") and "prompt=a%20fox%20made%20ahead%20of%20time" in uri
              and "duration=10" in uri and "aspect-ratio=1:1" in uri, f"it printed the request's URI: {uri}")
        check("costs $2.60" in err, "the quote was shown before the submit")
        check("\r" not in err and "\033" not in err and "Downloaded" in err,
              "not a terminal: plain lines, the download among them")
        check(len(read(out)) > 1000, "-o wrote the video")
        replay = c.path("replayed.mp4")
        rc, output = play_uri(c, uri, replay)
        check(rc == 0 and read(replay) == read(out), "the URI replays the same bytes")
        check(c.emu.submits() == 1, f"no new submit for the replay (saw {c.emu.submits()})")
        check("costs nothing" in output, "the replay said it costs nothing")
        rc, _, err = generate(args, c, "a fox made ahead of time", "-d", "10", "-a", "1:1")
        check(rc == 0 and c.emu.submits() == 1, "generating the same request again pays nothing")


def case_no_wait_then_klingsrc_follows_the_task(args):
    with emulated(args, "--latency-ms=6000") as c:  # a task long in the making
        start = time.monotonic()
        rc, uri, err = generate(args, c, "a whale, later", "--no-wait")
        took = time.monotonic() - start
        check(rc == 0 and uri.startswith("kling://"), "generate --no-wait printed the URI")
        check(c.emu.submits() == 1, f"one submit (saw {c.emu.submits()})")
        print(f"# generate --no-wait took {took:.1f} s")
        check(c.emu.count("cdn", "GET", "/outputs/") == 0 and "Downloaded" not in err,
              "it returned before the video was ready (nothing downloaded)")
        listed = subprocess.run([args.kling_tasks, "list"], env=c.env(), capture_output=True, text=True)
        say(listed.stdout)
        said = re.search(r"Task (\w+) is on the ledger", err)
        check(said is not None, "it named the task it left on the ledger")
        task = said.group(1)
        check(task in listed.stdout, f"task {task} is on the ledger")
        rc, output = play_uri(c, uri)
        check(rc == 0, "klingsrc played the URI to the end")
        check("Following task" in output and task in output, "klingsrc followed the task on the ledger")
        check(c.emu.submits() == 1, f"no new submit (saw {c.emu.submits()})")


def case_max_cost_refused_nothing_submitted(args):
    with emulated(args) as c:
        rc, uri, err = generate(args, c, "too dear", "-d", "10", "--max-cost", "2.00")
        check(rc == 2 and uri == "", "refused with exit status 2 and no URI")
        check("above max-cost $2.00" in err, "it says why")
        rc, uri, err = generate(args, c, "too dear", KLING_MAX_COST="1.00")
        check(rc == 2 and "above max-cost $1.00" in err, "KLING_MAX_COST is kept as the element keeps it")
        check(c.emu.submits() == 0, f"nothing submitted (saw {c.emu.submits()})")


def case_daily_budget_across_runs(args):
    with emulated(args) as c:
        rc, _, _ = generate(args, c, "first of the day", "--daily-budget", "2.00")
        check(rc == 0, "the first fits the budget")
        rc, _, err = generate(args, c, "second of the day", "--daily-budget", "2.00")
        check(rc == 2 and "budget" in err, "the second would pass it: refused")
        check(c.emu.submits() == 1, f"one submit (saw {c.emu.submits()})")


def case_request_options_make_the_submit_body(args):
    with emulated(args) as c:
        options = ["a camera move", "-m", "kwaivgi/kling-v9-t2v-test", "-d", "10", "-a", "9:16",
                   "--negative-prompt", "blur", "--param", "cfg_scale=0.7", "--param", "camera=zoom_in"]
        rc, uri, _ = generate(args, c, *options)
        check(rc == 0, "generate succeeded")
        body = submitted_bodies(c)[-1]
        check(body == {"prompt": "a camera move", "duration": 10, "aspect_ratio": "9:16",
                       "negative_prompt": "blur", "cfg_scale": 0.7, "camera": "zoom_in"},
              f"every option is in the submit body, typed by the model's schema: {body}")
        rc, output = play_uri(c, uri)
        check(rc == 0 and c.emu.submits() == 1, "its URI replays it (params included) without a submit")
        rc, _, _ = generate(args, c, *options, "--variation", "1")
        check(rc == 0 and c.emu.submits() == 2, "--variation 1 is a deliberate second generation")
        rc, _, err = generate(args, c, "x", "-m", "kwaivgi/kling-v9-t2v-test", "--param", "cfg_scale=3")
        check(rc == 2 and "cfg_scale" in err and c.emu.submits() == 2, "a param the schema refuses: nothing sent")


def case_terminal_shows_a_status_line(args):
    with emulated(args) as c:
        leader, follower = pty.openpty()  # stderr on a terminal, stdout (the URI) a pipe
        cmd = [args.kling_tasks, "generate", "--poll-interval", "100", "a fox on a terminal"]
        p = subprocess.Popen(cmd, env=c.env(), stdout=subprocess.PIPE, stderr=follower, text=True)
        os.close(follower)
        uri, _ = p.communicate(timeout=RUN_TIMEOUT)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            screen += chunk
        os.close(leader)
        text = screen.decode(errors="replace")
        for line in text.replace("\r", "\n").splitlines()[-6:]:
            print("#   " + line)
        check(p.returncode == 0 and uri.startswith("kling://"), "generate succeeded, the URI on stdout")
        check("\r\033[K" in text and re.search(r"processing  00:0\d", text) is not None,
              "one status line redrawn in place: status and time spent")
        check(re.search(r"\[#+\] 100%", text) is not None, "the download as a bar")


def case_help_exits_0(args):
    p = subprocess.run([args.kling_tasks, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "generate PROMPT" in p.stdout, "kling-tasks --help exits 0 and names generate")
    p = subprocess.run([args.kling_tasks, "generate", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "--no-wait" in p.stdout, "kling-tasks generate --help lists its options")
    p = subprocess.run([args.kling_tasks, "generate"], capture_output=True, text=True)
    check(p.returncode == 2 and "PROMPT" in p.stderr, "no prompt: exit status 2")


CASES = [case_generate_then_its_uri_replays_at_no_cost, case_no_wait_then_klingsrc_follows_the_task,
         case_max_cost_refused_nothing_submitted, case_daily_budget_across_runs,
         case_request_options_make_the_submit_body, case_terminal_shows_a_status_line,
         case_help_exits_0]


def main():
    return tap_main(CASES, "generate", "--kling-tasks")


if __name__ == "__main__":
    sys.exit(main())
