#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One request, one charge, on a whole machine: klingsrc in separate processes
(gst-launch-1.0, gst-discoverer-1.0, gst-play-1.0) against kling-emulator, with
submit counts read from the emulator's request log. TAP output.

    run_one_charge.py --emulator PATH [--kling-tasks PATH] [CASE...]

Python 3 standard library only.
"""
import os
import pty
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from e2e_case import (RUN_TIMEOUT, SCALE, Case, command, finish, read, say, tap_main,  # noqa: E402
                      two_at_once_then_a_later_one)
from kling_emulator import Emulator, Failure, Skip, check, read_until  # noqa: E402


# ------------------------------------------------------------------ cases

def case_discoverer_then_play_one_submit(args):
    c = Case(args.emulator)
    try:
        uri = "kling://?prompt=a%20fox%20probed%20then%20played&poll-interval=1000"
        env = c.env()
        p = subprocess.run(["gst-discoverer-1.0", "-t", "30", uri], env=env, capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        say(p.stdout + p.stderr)
        check(p.returncode == 0 and "video" in p.stdout.lower(), "gst-discoverer-1.0 read the stream")
        play = subprocess.run(["gst-play-1.0", "--no-interactive", "--videosink=fakesink",
                               "--audiosink=fakesink", uri], env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)
        say(play.stdout + play.stderr)
        check("Reached end of play list" in play.stdout or play.returncode == 0, "gst-play-1.0 played it to the end")
        check(c.emu.submits() == 1, f"one submit for both clients (saw {c.emu.submits()})")
        check("costs nothing" in play.stdout + play.stderr or c.emu.submits() == 1, "the second client paid nothing")
    finally:
        c.close()


def case_two_processes_at_once_one_submit(args):
    c = Case(args.emulator)
    try:
        def wait(proc):
            rc, out = finish(proc)
            say(out)
            return rc, out
        two_at_once_then_a_later_one(lambda i, out: c.launch(["prompt=two at once"], out), wait, c.emu,
                                     [c.path("a.mp4"), c.path("b.mp4"), c.path("c.mp4")], "processes")
    finally:
        c.close()


def case_variation_is_a_new_paid_generation(args):
    c = Case(args.emulator)
    try:
        r1, o1 = c.run(["prompt=varied"], c.path("v0.mp4"))
        check(r1 == 0 and c.emu.submits() == 1, "the first run submits")
        r2, o2 = c.run(["prompt=varied", "variation=1"], c.path("v1.mp4"))
        say(o2)
        check(r2 == 0 and c.emu.submits() == 2, "variation=1 submits a second task")
        r3, o3 = c.run(["prompt=varied", "variation=1"], c.path("v1b.mp4"))
        check(r3 == 0 and c.emu.submits() == 2, "variation=1 again replays it")
        if args.kling_tasks:
            task = re.search(r"Task (\w+) submitted", o1).group(1)
            p = subprocess.run([args.kling_tasks, "fetch", task, "-o", c.path("fetched.mp4")], env=c.env(),
                               capture_output=True, text=True, timeout=RUN_TIMEOUT)
            say(p.stdout + p.stderr)
            check(p.returncode == 0 and read(c.path("fetched.mp4")) == read(c.path("v0.mp4")),
                  "kling-tasks fetch ID -o FILE writes the paid task's video")
            check(c.emu.submits() == 2 and "emulator-key" not in p.stdout + p.stderr,
                  "fetching submits nothing and never prints the key")
    finally:
        c.close()


def case_max_cost_below_quote_submits_nothing(args):
    c = Case(args.emulator)
    try:
        rc, out = c.run(["prompt=too dear", "max-cost=1.00"])
        say(out)
        check(rc != 0 and "$1.30" in out and "$1.00" in out, "the error names the quote and max-cost")
        check(c.emu.submits() == 0, "nothing was submitted")
        rc, out = c.run(["prompt=too dear"], KLING_MAX_COST="1.20")
        check(rc != 0 and c.emu.submits() == 0, "KLING_MAX_COST refuses the same way")
        rc, out = c.run(["prompt=cheap enough", "max-cost=1.30"], c.path("ok.mp4"))
        say(out)
        check(rc == 0 and c.emu.submits() == 1, "a quote at max-cost is submitted")
        check("costs $1.30, balance $100.00" in out, "the submit progress shows the quote and balance")
    finally:
        c.close()
    c = Case(args.emulator, "--no-price")
    try:
        rc, out = c.run(["prompt=no quote", "max-cost=5"])
        say(out)
        check(rc != 0 and "could not be had" in out and c.emu.submits() == 0,
              "with max-cost set, no quote to be had refuses")
        rc, out = c.run(["prompt=no quote"], c.path("nq.mp4"))
        check(rc == 0 and c.emu.submits() == 1 and "price unknown" in out,
              "without limits an unknown price does not block, and says so")
    finally:
        c.close()


def case_low_balance_submits_nothing(args):
    c = Case(args.emulator, "--balance=1.00")
    try:
        rc, out = c.run(["prompt=no money"])
        say(out)
        check(rc != 0 and "$1.00" in out and "$1.30" in out, "the error names the balance and the quote")
        check(c.emu.submits() == 0, "nothing was submitted")
    finally:
        c.close()


def case_daily_budget_across_processes(args):
    c = Case(args.emulator)
    try:
        # 1.30 + 1.30 > 2.00: of two different requests started together, one is paid.
        pa = c.launch(["prompt=budget one", "daily-budget=2.00"])
        pb = c.launch(["prompt=budget two", "daily-budget=2.00"])
        (ra, oa), (rb, ob) = finish(pa), finish(pb)
        say(oa)
        say(ob)
        check(sorted([ra, rb]) == [0, 1], "one process finished, the other was refused")
        check(c.emu.submits() == 1, f"one submit (saw {c.emu.submits()})")
        check("daily-budget $2.00" in oa + ob, "the refusal names the budget")
        rc, out = c.run(["prompt=budget three"], KLING_DAILY_BUDGET="2.00")
        check(rc != 0 and c.emu.submits() == 1, "KLING_DAILY_BUDGET holds in a third process")
        if args.kling_tasks:
            p = subprocess.run([args.kling_tasks, "spent"], env=c.env(), capture_output=True, text=True)
            say(p.stdout)
            check(p.returncode == 0 and "$1.30 (1)" in p.stdout, "kling-tasks spent shows today's $1.30")
            check("emulator-key" not in p.stdout + p.stderr, "kling-tasks never prints the key")
            p = subprocess.run([args.kling_tasks, "list"], env=c.env(), capture_output=True, text=True)
            say(p.stdout)
            check("budget" in p.stdout and "delivered" in p.stdout, "kling-tasks list shows the paid task")
    finally:
        c.close()


def case_unanswered_submit_refused_in_another_process(args):
    c = Case(args.emulator, "--hang-submit")
    try:
        first = c.launch(["prompt=lost reply", "request-timeout=60"])
        c.emu.wait_for_submits(1)
        time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)  # a crash with the POST on the wire
        finish(first)
        rc, out = c.run(["prompt=lost reply"])
        say(out)
        check(rc != 0 and "never got its reply" in out and "dashboard" in out,
              "a new process refuses, pointing to the dashboard")
        check(re.search(r"sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out), "the error says when it was sent")
        check(c.emu.submits() == 1, "no second submit")
        rc, out = c.run(["prompt=lost reply", "variation=1", "request-timeout=1"])
        check(c.emu.submits() == 2, "variation=1 is allowed to submit anew")
    finally:
        c.close()


def case_waiting_run_stops_at_once(args):
    c = Case(args.emulator, "--hang-submit")
    try:
        # The first's submit is never answered and it would wait an hour for it: the second,
        # waiting for the first's task, ending at all on Ctrl-C shows the wait was cut (the
        # bound of RUN_TIMEOUT only reports a hang; nothing here is a measured duration).
        first = c.launch(["prompt=slow submit", "request-timeout=3600"])
        c.emu.wait_for_submits(1)
        master, slave = pty.openpty()  # a terminal: gst-launch-1.0 prints each line at once
        second = subprocess.Popen(command("klingsrc", ["prompt=slow submit"], ["fakesink"]),
                                  env=c.env(), stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        try:
            out = read_until(master, lambda text: "waiting for its task" in text, RUN_TIMEOUT)
            os.killpg(second.pid, signal.SIGINT)  # Ctrl-C, once it waits
            out += read_until(master, None, RUN_TIMEOUT)
            second.wait(RUN_TIMEOUT)
        finally:
            if second.poll() is None:
                os.killpg(second.pid, signal.SIGKILL)
            os.close(master)
        say(out)
        check(second.returncode is not None, "Ctrl-C ended the run waiting for the first's task")
        check(c.emu.submits() == 1, "the waiting run submitted nothing")
        os.killpg(first.pid, signal.SIGKILL)
        finish(first)
    finally:
        c.close()


def case_cache_entry_written_by_two_processes(args):
    c = Case(args.emulator)
    try:
        cache = c.path("cache")
        pa = c.launch(["prompt=cached twice", f"cache-dir={cache}"], c.path("a.mp4"))
        pb = c.launch(["prompt=cached twice", f"cache-dir={cache}"], c.path("b.mp4"))
        (ra, oa), (rb, ob) = finish(pa), finish(pb)
        check(ra == 0 and rb == 0 and c.emu.submits() == 1, "one submit, both finished")
        entries = [n for n in os.listdir(cache)]
        check(len(entries) == 1 and entries[0].endswith(".kling"), f"one whole entry in the cache ({entries})")
        cdn_before = c.emu.count("cdn", "GET", "/")
        rc, out = c.run(["prompt=cached twice", f"cache-dir={cache}"], c.path("c.mp4"))
        say(out)
        check(rc == 0 and read(c.path("c.mp4")) == read(c.path("a.mp4")), "a third run replays the same bytes")
        check(c.emu.count("cdn", "GET", "/") == cdn_before and c.emu.submits() == 1,
              "from the cache: no download, no submit")
    finally:
        c.close()


def case_gone_task_is_submitted_again_saying_why(args):
    c = Case(args.emulator)
    try:
        r1, _ = c.run(["prompt=soon gone"], c.path("a.mp4"))
        check(r1 == 0 and c.emu.submits() == 1, "the first run submits")
    finally:
        c.emu.stop()
    # The same ledger and API address, an emulator that has forgotten every task (as after 7 days).
    port, cdn_port = c.emu.api.rsplit(":", 1)[1], c.emu.cdn.rsplit(":", 1)[1]
    c.emu = Emulator(args.emulator, c.dir, f"--port={port}", f"--cdn-port={cdn_port}",
                     scale=SCALE, latency_ms=400)
    try:
        rc, out = c.run(["prompt=soon gone"], c.path("b.mp4"))
        say(out)
        check(rc == 0 and c.emu.submits() == 1, "the gone task is paid for again, once")
        check("is gone" in out, "the progress says why it is submitted again")
    finally:
        c.close()


SYSTEM_PYTHON = "/usr/bin/python3"  # the one with Debian's PyGObject (GES, gst-rtsp-server)
HERE = os.path.dirname(os.path.abspath(__file__))


def case_ges_discovers_then_plays_one_submit(args):
    c = Case(args.emulator)
    try:
        uri = "kling://?prompt=an%20edited%20fox&poll-interval=1000"
        p = subprocess.run([SYSTEM_PYTHON, os.path.join(HERE, "ges_clip.py"), uri], env=c.env(),
                           capture_output=True, text=True, timeout=60)
        if p.returncode == 77:
            raise Skip(p.stdout.strip())
        say(p.stdout + p.stderr)
        check(p.returncode == 0 and "discovered" in p.stdout, "GES discovered the asset and played the timeline")
        check(c.emu.submits() == 1, f"one submit for the discovery and the playback (saw {c.emu.submits()})")
        check("costs nothing" in p.stdout or "Following task" in p.stdout,
              "the playback streamed the discovered task")
    finally:
        c.close()


def case_rtsp_two_clients_one_submit(args):
    for shared in (False, True):
        c = Case(args.emulator)
        server = subprocess.Popen([SYSTEM_PYTHON, os.path.join(HERE, "rtsp_server.py"), "served twice"]
                                  + (["--shared"] if shared else []),
                                  env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        try:
            line = server.stdout.readline()
            if server.poll() == 77 or not line.startswith("PORT"):
                server.wait(5)
                if server.returncode == 77:
                    raise Skip(line.strip())
                raise Failure(f"the RTSP server did not start: {line!r}")
            url = f"rtsp://127.0.0.1:{line.split()[1]}/clip"
            def client():
                return subprocess.Popen(
                    ["gst-launch-1.0", "rtspsrc", f"location={url}", "protocols=tcp", "!", "rtph264depay", "!",
                     "fakesink", "num-buffers=20"], env=c.env(), stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
            if shared:
                # One after the other: two clients doing SETUP on one shared media while it is
                # still preparing sometimes left one without data (seen under ASan); the second
                # joins the running media, or a new one once the first left.
                results = [finish(client(), 45), finish(client(), 45)]
            else:
                clients = [client(), client()]
                results = [finish(cl, 45) for cl in clients]
            for _, out in results:
                say(out)
            # The stream's end, not the exit status: a shared media's teardown may race the client's.
            check(all("Got EOS" in out for _, out in results), f"both RTSP clients got the stream (shared={shared})")
            check(c.emu.submits() == 1, f"one submit for two clients, shared={shared} (saw {c.emu.submits()})")
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            c.close()


CASES = [
    case_discoverer_then_play_one_submit,
    case_two_processes_at_once_one_submit,
    case_variation_is_a_new_paid_generation,
    case_max_cost_below_quote_submits_nothing,
    case_low_balance_submits_nothing,
    case_daily_budget_across_processes,
    case_unanswered_submit_refused_in_another_process,
    case_waiting_run_stops_at_once,
    case_cache_entry_written_by_two_processes,
    case_gone_task_is_submitted_again_saying_why,
    case_ges_discovers_then_plays_one_submit,
    case_rtsp_two_clients_one_submit,
]


def main():
    return tap_main(CASES, "one-charge", optional=["--kling-tasks"])


if __name__ == "__main__":
    sys.exit(main())
