#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An app that queues prompts into klinglivesrc while it plays.

    examples/python/live_queue.py [--sink SINK] [--stdin] PROMPT... [-- PROPERTY=VALUE ...]

The first prompt starts the stream (a slate shows while it generates); each
next one is queued with the `queue` action signal once the previous clip is on
air, so it is generated while that clip plays. With --stdin, every line typed
is queued too. Prints each `kling/live` event (slate, clip-start, clip-end) and
each failed generation. Without --stdin it exits after the last prompt's clip
has played once. SINK defaults to autovideosink.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink", default="autovideosink")
    parser.add_argument("--stdin", action="store_true", help="queue every line read")
    parser.add_argument("prompts", nargs="+")
    args = parser.parse_args(argv)
    Gst.init(None)

    pipeline = Gst.parse_launch(
        f"klinglivesrc name=src {' '.join(extra)} ! videoconvert ! {args.sink}")
    src = pipeline.get_by_name("src")
    src.set_property("prompt", args.prompts[0])
    waiting = list(args.prompts[1:])  # queued one at a time, as clips go on air
    loop = GLib.MainLoop()
    state = {"last_started": False, "status": 0}

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.has_name("kling/live"):
            s = msg.get_structure()
            event, prompt = s.get_string("event"), s.get_string("prompt")
            print(f"{event}: {prompt!r} task {s.get_string('task-id') or '-'} "
                  f"at {s.get_value('running-time') / Gst.SECOND:.2f} s", flush=True)
            if event == "clip-start" and waiting:
                src.emit("queue", waiting.pop(0))
            elif event == "clip-start" and prompt == args.prompts[-1]:
                state["last_started"] = True
            elif event == "clip-end" and state["last_started"] and not args.stdin:
                loop.quit()
        elif msg.type == Gst.MessageType.WARNING:
            err, _debug = msg.parse_warning()
            print(f"warning: {err.message}", flush=True)
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"error: {err.message} ({debug})", file=sys.stderr, flush=True)
            state["status"] = 1
            loop.quit()

    def on_stdin(channel, _condition):
        line = channel.readline()
        if not line:
            return False
        if line.strip():
            src.emit("queue", line.strip())
            print(f"queued: {line.strip()!r}", flush=True)
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if args.stdin:
        GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.IO_IN | GLib.IO_HUP,
                          on_stdin)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 2, loop.quit)  # Ctrl-C
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    return state["status"]


if __name__ == "__main__":
    sys.exit(main())
