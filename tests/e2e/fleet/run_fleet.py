#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fleet pays once: several "machines" (separate gst-launch-1.0 processes, each
with its own state and cache folders) share one ledger on a PostgreSQL server the
test starts (kling-pg-scratch: initdb on loopback, password authentication), and
one kling-emulator, whose request log counts the submits. TAP output.

    run_fleet.py --emulator PATH --pg-scratch PATH --kling-tasks PATH [CASE...]

Python 3 standard library only.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from e2e_case import (SCALE, launch, read, say, tap_main, two_at_once_then_a_later_one,  # noqa: E402
                      without_money_limits)
from e2e_case import finish as finish_process  # noqa: E402
from kling_emulator import Emulator, Failure, check  # noqa: E402

RUN_TIMEOUT = 60


class Server:
    """kling-pg-scratch: a PostgreSQL server of the case's own, stopped and started on demand."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # bounded: the helper gives up after about 30 s
        if not line.startswith("URI: "):
            raise Failure("kling-pg-scratch started no server")
        self.uri = line[5:].strip()
        self.password = re.match(r"postgresql://[^:]+:([^@]+)@", self.uri).group(1)
        self.name = self.uri.replace(":" + self.password + "@", "@")  # as messages show it

    def command(self, what):
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == what + " ok"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Fleet:
    """One case: a server, an emulator, and a folder with one sub-folder per machine."""

    def __init__(self, args, latency_ms=400, *flags):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="kling-fleet-")
        self.server = Server(args.pg_scratch)
        self.emu = Emulator(args.emulator, self.dir, *flags, scale=SCALE, latency_ms=latency_ms)
        self.outputs = []

    def machine_dir(self, machine, what):
        return os.path.join(self.dir, machine, what)

    def env(self, machine, **extra):
        env = dict(os.environ, WAVESPEED_BASE_URL=self.emu.api, WAVESPEED_API_KEY="emulator-key",
                   XDG_STATE_HOME=self.machine_dir(machine, "state"),
                   XDG_CACHE_HOME=self.machine_dir(machine, "xdg-cache"),
                   KLING_CACHE_DIR=self.machine_dir(machine, "videos"), KLING_JOURNAL=self.server.uri)
        return without_money_limits(env, **extra)

    def path(self, name):
        return os.path.join(self.dir, name)

    def launch(self, machine, element, props, sink, **env):
        return launch(element, props, sink, self.env(machine, **env), f"{machine} ")

    def klingsrc(self, machine, prompt, out, *props, **env):
        return self.launch(machine, "klingsrc", [f"prompt={prompt}", *props], ["filesink", f"location={out}"],
                           **env)

    def finish(self, proc, timeout=RUN_TIMEOUT):
        returncode, output = finish_process(proc, timeout)
        say(output, 25)
        self.outputs.append(output)
        return returncode, output

    def tasks(self, *argv, ledger=None):
        p = subprocess.run([self.args.kling_tasks, "--ledger", ledger or self.server.uri, *argv],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT, env=self.env("tools"))
        self.outputs.append(p.stdout + p.stderr)
        return p.returncode, p.stdout, p.stderr

    def wait_for_task_on_the_ledger(self, timeout=30):
        """The task id of the first submit, once the ledger has it (kling-tasks list)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, out, _ = self.tasks("list")
            # After the header: date, time, task id, ...
            ids = [line.split()[2] for line in out.splitlines()[1:] if len(line.split()) > 2]
            ids = [i for i in ids if i != "(none)"]
            if ids:
                return ids[0]
            time.sleep(0.1)
        raise Failure("no task id on the ledger in time")

    def close(self):
        # The server's password is never shown: not by a machine, nor by kling-tasks.
        leaked = [o for o in self.outputs if self.server.password in o]
        self.emu.stop()
        self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        check(not leaked, "no output showed the ledger's password")


# ------------------------------------------------------------------ cases

def case_two_machines_at_once_one_submit_a_third_replays(args):
    f = Fleet(args, 1500)
    try:
        machines = ("main", "backup", "third")
        two_at_once_then_a_later_one(lambda i, out: f.klingsrc(machines[i], "two machines at once", out),
                                     f.finish, f.emu, [f.path("a.mp4"), f.path("b.mp4"), f.path("c.mp4")],
                                     "machines")
    finally:
        f.close()


def case_a_machine_killed_after_its_submit_is_followed_not_paid_again(args):
    f = Fleet(args, 4000)
    try:
        pa = f.klingsrc("killed", "killed after its submit", f.path("a.mp4"))
        task = f.wait_for_task_on_the_ledger()
        os.killpg(pa.pid, signal.SIGKILL)  # no goodbye to the ledger or the API
        pa.communicate()
        check(f.emu.submits() == 1, "the killed machine had submitted")
        rb, ob = f.finish(f.klingsrc("survivor", "killed after its submit", f.path("b.mp4")))
        check(rb == 0 and len(read(f.path("b.mp4"))) > 1000, "another machine got the video")
        check(task in ob, f"it followed the killed machine's task {task}")
        check(f.emu.submits() == 1, f"no new submit (saw {f.emu.submits()})")
    finally:
        f.close()


def case_the_daily_budget_is_the_fleets(args):
    f = Fleet(args, 800)
    try:
        # Two quotes of 1.30 fit in 3.00, a third does not: whichever machine asks last.
        procs = [f.klingsrc(f"m{i}", f"budget clip {i}", f.path(f"{i}.mp4"), KLING_DAILY_BUDGET="3.00")
                 for i in range(3)]
        results = [f.finish(p) for p in procs]
        ok = [r for r, _ in results if r == 0]
        refused = [o for r, o in results if r != 0]
        check(len(ok) == 2, f"two machines were let through (saw {len(ok)})")
        check(len(refused) == 1 and "daily-budget" in refused[0] and "2.60" in refused[0],
              "the third was refused: the fleet's quotes today (2.60) plus its own pass daily-budget")
        check(f.emu.submits() == 2, f"two submits for the fleet (saw {f.emu.submits()})")
    finally:
        f.close()


def case_main_and_backup_playout_one_submit_per_clip(args):
    f = Fleet(args, 600)
    try:
        playlist = f.path("playlist.txt")
        with open(playlist, "w") as p:
            p.write("main and backup: clip one\nmain and backup: clip two\nmain and backup: clip three\n")
        sink = ["fakesink", "sync=false"]
        live = [f.launch(m, "klinglivesrc", [f"playlist={playlist}", "ahead=3"], sink) for m in ("main", "backup")]
        # Each machine keeps each clip it played in its own cache: both had all three.
        deadline = time.monotonic() + RUN_TIMEOUT
        def entries(m):
            return len(glob.glob(os.path.join(f.machine_dir(m, "videos"), "**", "*.kling"), recursive=True))
        while time.monotonic() < deadline and min(entries("main"), entries("backup")) < 3:
            check(all(p.poll() is None for p in live), "both playout machines are still playing")
            time.sleep(0.2)
        for p in live:
            os.killpg(p.pid, signal.SIGINT)
        for p in live:
            f.finish(p)
        check(entries("main") == 3 and entries("backup") == 3, "main and backup each got all three clips")
        check(f.emu.submits() == 3, f"one submit per clip for the pair (saw {f.emu.submits()})")
    finally:
        f.close()


def case_the_server_stopped_mid_run_nothing_paid_a_clear_error(args):
    f = Fleet(args, 3000)
    try:
        pa = f.klingsrc("first", "paid before the server stopped", f.path("a.mp4"))
        f.wait_for_task_on_the_ledger()
        check(f.server.command("stop"), "the ledger's server stopped")
        quotes = f.emu.count("api", "POST", "/api/v3/model/price")
        # Its end at all is the point (finish()'s RUN_TIMEOUT only reports a hang; nothing here
        # is a measured duration): the error says why it ended.
        rb, ob = f.finish(f.klingsrc("second", "asked while the server is down", f.path("b.mp4"), "timeout=10"))
        check(rb != 0 and "ledger" in ob and f.server.name in ob,
              f"the next run failed with an error naming the ledger {f.server.name}")
        check(f.emu.submits() == 1 and f.emu.count("api", "POST", "/api/v3/model/price") == quotes,
              "nothing was submitted, nor even quoted, without the ledger")
        ra, oa = f.finish(pa)
        check(ra == 0 and len(read(f.path("a.mp4"))) > 1000, "the task paid before still streamed to its end")
    finally:
        f.close()


def case_a_machines_ledger_imported_is_followed_and_listed_the_same(args):
    f = Fleet(args, 400)
    try:
        # Before the fleet: one machine with its own SQLite ledger.
        alone = os.path.join(f.machine_dir("alone", "state"), "gst-kling", "ledger.db")
        r, _ = f.finish(f.klingsrc("alone", "paid before the fleet", f.path("a.mp4"), KLING_JOURNAL=""))
        check(r == 0 and os.path.exists(alone), "a machine paid with its own ledger")
        rc, out, err = f.tasks("import", alone)
        check(rc == 0 and "Imported 1 tasks" in out, f"kling-tasks import copied its task: {out}{err}")
        rc, out, _ = f.tasks("import", alone)
        check(rc == 0 and "Imported 0 tasks" in out, "a second import adds nothing")
        for command in (["list"], ["spent"]):
            _, local, _ = f.tasks(*command, ledger=alone)
            _, fleet, _ = f.tasks(*command)
            check(local == fleet and len(local.splitlines()) >= 2,
                  f"kling-tasks {command[0]} reads the same from either ledger")
        r, o = f.finish(f.klingsrc("fleet", "paid before the fleet", f.path("b.mp4")))
        check(r == 0 and read(f.path("b.mp4")) == read(f.path("a.mp4")), "a fleet machine streams that video")
        check(f.emu.submits() == 1 and "costs nothing" in o, "and pays nothing for it")
    finally:
        f.close()


CASES = [
    case_two_machines_at_once_one_submit_a_third_replays,
    case_a_machine_killed_after_its_submit_is_followed_not_paid_again,
    case_the_daily_budget_is_the_fleets,
    case_main_and_backup_playout_one_submit_per_clip,
    case_the_server_stopped_mid_run_nothing_paid_a_clear_error,
    case_a_machines_ledger_imported_is_followed_and_listed_the_same,
]


def main():
    return tap_main(CASES, "fleet", "--pg-scratch", "--kling-tasks")


if __name__ == "__main__":
    sys.exit(main())
