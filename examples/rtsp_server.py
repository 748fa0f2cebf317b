#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An RTSP server whose channel is klinglivesrc: clients get frames at once
(the slate while the first clip generates), then the clips back to back.

    examples/rtsp_server.py [--port 8554] [--prompt TEXT] [--playlist FILE] [PROPERTY=VALUE ...]

Serves rtsp://127.0.0.1:PORT/live (H.264). The media is shared: every client
watches the same channel and each prompt is generated (and paid for) once,
however many connect. Further PROPERTY=VALUE arguments go to klinglivesrc.
Prints `RTSP: rtsp://HOST:PORT/live` once it listens (--port 0 picks a free port),
then `generated: model=..., task-id=... (COMMENT)` as each clip goes on air: the
tags klinglivesrc sends at every clip start, which RTP does not carry (a log of
what was generated, for the station's records; `disclosure=AI-generated` also
draws the text on the clips' frames).
Needs python3-gi and gir1.2-gst-rtsp-server-1.0.
"""
import argparse
import shlex
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def log_generated(pad, info, last):
    """Prints each clip's kling-generated tag (the encoder repeats it with its own)."""
    event = info.get_event()
    if event.type == Gst.EventType.TAG:
        tags = event.parse_tag()
        found, generated = tags.get_string("kling-generated")
        if found and generated != last.get("generated"):
            last["generated"] = generated
            _, comment = tags.get_string(Gst.TAG_COMMENT)
            print(f"generated: {generated} ({comment or ''})", flush=True)
    return Gst.PadProbeReturn.OK


def on_media_configure(factory, media):
    pay = media.get_element().get_by_name("pay0")
    pay.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, log_generated, {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--playlist", default="")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("properties", nargs="*", help="PROPERTY=VALUE for klinglivesrc")
    args = parser.parse_args()
    Gst.init(None)

    width, height = args.size.split("x")
    props = [f"prompt={shlex.quote(args.prompt)}"] if args.prompt else []
    if args.playlist:
        props.append(f"playlist={shlex.quote(args.playlist)}")
    props += [shlex.quote(p) for p in args.properties]
    launch = (f"( klinglivesrc {' '.join(props)} ! video/x-raw,width={width},height={height} "
              "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
              "! rtph264pay name=pay0 pt=96 config-interval=-1 )")

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)  # one channel, one generation per prompt, whatever the clients
    factory.connect("media-configure", on_media_configure)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")

    print(f"RTSP: rtsp://{args.address}:{server.get_bound_port()}/live", flush=True)
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
