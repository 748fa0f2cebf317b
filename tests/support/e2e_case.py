# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the whole-program scripts (tests/e2e/one_charge, generate, fleet) share: a case's
folder and emulator, gst-launch-1.0 started in a session of its own and waited for within a
bound, the one-charge rule seen from outside, and the command line they take. Python 3
standard library only.
"""
import argparse
import os
import shutil
import signal
import subprocess
import tempfile

from kling_emulator import Emulator, Failure, check, run_tap

SCALE = 4
RUN_TIMEOUT = 30
MONEY_LIMITS = ("KLING_MAX_COST", "KLING_DAILY_BUDGET")  # from the shell, never the case's


def without_money_limits(env, **extra):
    """ENV with no max-cost or daily budget of the shell's, then EXTRA."""
    env = dict(env)
    for name in MONEY_LIMITS:
        env.pop(name, None)
    env.update(extra)
    return env


def command(element, props, sink, who=""):
    """gst-launch-1.0 ELEMENT poll-interval=100 PROPS ! SINK, as it is printed."""
    cmd = ["gst-launch-1.0", element, "poll-interval=100", *props, "!", *sink]
    print(f"# {who}$", " ".join(cmd))
    return cmd


def launch(element, props, sink, env, who=""):
    """command(...), started, not waited for; its own session, so that a kill reaches the
    whole program."""
    return subprocess.Popen(command(element, props, sink, who), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc, timeout=RUN_TIMEOUT):
    """(exit status, output) of a launched program; one still running after TIMEOUT seconds is
    killed and fails the case with the end of its output."""
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise Failure("timed out:\n" + output[-3000:])
    return proc.returncode, output


def read(path):
    with open(path, "rb") as f:
        return f.read()


def say(output, lines=40):
    for line in output.splitlines()[-lines:]:
        print("#   " + line)


class Case:
    """A temporary folder for one case on one machine: its emulator, its ledger
    (XDG_STATE_HOME) and files."""

    def __init__(self, emulator_exe, *flags):
        self.dir = tempfile.mkdtemp(prefix="kling-money-")
        self.emu = Emulator(emulator_exe, self.dir, *flags, scale=SCALE, latency_ms=400)
        self.ledger = os.path.join(self.dir, "state", "gst-kling", "ledger.db")

    def env(self, **extra):
        env = dict(self.emu.env(), XDG_STATE_HOME=os.path.join(self.dir, "state"), KLING_CACHE_DIR="")
        return without_money_limits(env, **extra)

    def path(self, name):
        return os.path.join(self.dir, name)

    def launch(self, props, out=None, **env):
        """gst-launch-1.0 klingsrc PROPS ! filesink (or fakesink), started, not waited for."""
        sink = ["filesink", f"location={out}"] if out else ["fakesink"]
        return launch("klingsrc", props, sink, self.env(**env))

    def run(self, props, out=None, **env):
        return finish(self.launch(props, out, **env))

    def close(self):
        self.emu.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def two_at_once_then_a_later_one(start, wait, emu, outs, who):
    """One request, one charge, seen from outside: two runs of one request started together
    (start(i, outs[i]) -> a process, wait(process) -> (status, output)) make one submit and
    the same bytes, the other waiting for or following the first's task; a third, afterwards,
    replays it for nothing. WHO names the runs in the checks ("processes", "machines")."""
    first, second = start(0, outs[0]), start(1, outs[1])
    (ra, oa), (rb, ob) = wait(first), wait(second)
    check(ra == 0 and rb == 0, f"both {who} finished")
    check(emu.submits() == 1, f"one submit for both {who} (saw {emu.submits()})")
    check(read(outs[0]) == read(outs[1]) and len(read(outs[0])) > 1000,
          f"both {who} got the same video, byte for byte")
    # Depending on when it asked: while the first was submitting, or once it had its task id.
    check("waiting for its task" in oa + ob or "Following task" in oa + ob,
          "the other waited for, or followed, the first one's task")
    r3, o3 = wait(start(2, outs[2]))
    check(r3 == 0 and read(outs[2]) == read(outs[0]), "a third run, later, streams the same video")
    check(emu.submits() == 1 and "costs nothing" in o3, "the third run replays it for nothing")


def tap_main(cases, suite, *programs, optional=()):
    """The scripts' command line: --emulator and each of PROGRAMS (required) and OPTIONAL
    ("--kling-tasks"...), then case names; runs CASES as TAP suite SUITE."""
    parser = argparse.ArgumentParser()
    for option in ("--emulator", *programs):
        parser.add_argument(option, required=True)
    for option in optional:
        parser.add_argument(option)
    parser.add_argument("cases", nargs="*")
    return run_tap(cases, suite, parser.parse_args())
