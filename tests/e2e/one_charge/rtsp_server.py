#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gst-rtsp-server serving a klingsrc generation at rtsp://127.0.0.1:PORT/clip,
one media per client (as by default) or shared. Prints `PORT N` once listening,
then serves until killed. Exit 77 without the RTSP server's introspection data.

    rtsp_server.py PROMPT [--shared]
"""
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as e:
    print(f"no gst-rtsp-server for Python: {e}", flush=True)
    sys.exit(77)

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service("0")
factory = GstRtspServer.RTSPMediaFactory()
prompt = sys.argv[1].replace('"', "")
factory.set_launch(f'( klingsrc prompt="{prompt}" poll-interval=100 ! qtdemux ! h264parse ! '
                   f'rtph264pay name=pay0 pt=96 )')
factory.set_shared("--shared" in sys.argv)
server.get_mount_points().add_factory("/clip", factory)
server.attach(None)
print(f"PORT {server.get_bound_port()}", flush=True)
GLib.MainLoop().run()
