#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate a video with klingsrc and save the MP4 the API made, byte for byte.

    python3 examples/python/generate.py PROMPT OUT.mp4 [PROPERTY=VALUE ...]

Runs `klingsrc ! filesink` and prints what klingsrc posts on the bus: progress
(submit, poll, download...), `kling/task` status changes and errors, with the task
id so a paid task can be picked up again with request-id=ID. Ctrl-C stops at once.

The key and the API come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL, or from
api-key=... api-url=... on the command line; any other klingsrc property can be set
the same way (duration=10 aspect-ratio=9:16 ...).

Needs PyGObject and the GStreamer typelib (Debian: python3-gi gir1.2-gstreamer-1.0).
"""
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def build_pipeline(prompt, out, props):
    src = Gst.ElementFactory.make("klingsrc", "src")
    if src is None:
        sys.exit("klingsrc not found: set GST_PLUGIN_PATH to build/gst-plugin")
    src.set_property("prompt", prompt)
    for prop in props:  # PROPERTY=VALUE, parsed as gst-launch-1.0 does
        name, sep, value = prop.partition("=")
        if not sep or src.find_property(name) is None:
            sys.exit(f"Not a klingsrc PROPERTY=VALUE: {prop}")
        Gst.util_set_object_arg(src, name, value)

    sink = Gst.ElementFactory.make("filesink", "sink")
    sink.set_property("location", out)

    pipeline = Gst.Pipeline.new("generate")
    pipeline.add(src)
    pipeline.add(sink)
    src.link(sink)
    return pipeline


def print_error(msg):
    err, debug = msg.parse_error()
    print(f"Error from {msg.src.get_name()}: {err.message}", file=sys.stderr)
    # The details name the task (empty before one exists) and the HTTP status.
    details = msg.parse_error_details()
    task_id = details.get_string("task-id") if details else None
    if task_id:
        print(f"Task id: {task_id}", file=sys.stderr)
    if debug:
        print(f"Debug: {debug}", file=sys.stderr)


def main(argv):
    Gst.init(None)
    if len(argv) < 3:
        sys.exit(f"Usage: {argv[0]} PROMPT OUT.mp4 [PROPERTY=VALUE ...]")
    prompt, out, props = argv[1], argv[2], argv[3:]

    pipeline = build_pipeline(prompt, out, props)
    loop = GLib.MainLoop()
    exit_code = 0

    def on_message(_bus, msg):
        nonlocal exit_code
        if msg.type == Gst.MessageType.PROGRESS:
            _type, code, text = msg.parse_progress()
            print(f"Progress: ({code}) {text}", flush=True)
        elif msg.type == Gst.MessageType.ELEMENT and msg.has_name("kling/task"):
            task = msg.get_structure()
            line = f"Task {task.get_string('id')}: {task.get_string('status')}"
            if task.get_string("error"):
                line += f", error: {task.get_string('error')}"
            print(line, flush=True)
        elif msg.type == Gst.MessageType.ERROR:
            print_error(msg)
            exit_code = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            print(f"Saved {out} ({os.path.getsize(out)} bytes)", flush=True)
            loop.quit()

    def on_sigint():
        nonlocal exit_code
        print("Interrupted: stopping. A submitted task goes on at WaveSpeed "
              "(its id is above).", file=sys.stderr)
        exit_code = 130
        loop.quit()
        return GLib.SOURCE_REMOVE

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_sigint)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # A bad setting (no key, no prompt...) fails here, before anything is sent.
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        if msg:
            print_error(msg)
        exit_code = 1
    else:
        loop.run()

    # NULL at once: klingsrc stops polling or downloading without waiting.
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    if exit_code != 0 and os.path.exists(out):
        os.remove(out)  # a partial MP4 is of no use
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
