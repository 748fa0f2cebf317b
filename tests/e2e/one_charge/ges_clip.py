#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""GStreamer Editing Services on a kling:// URI, as an editor does it: discover
the asset (GESUriClipAsset), put it on a timeline, then play the timeline to
fakesinks. Exit 0 at EOS, 1 on an error, 77 without GES's introspection data.

    ges_clip.py URI
"""
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GES", "1.0")
    from gi.repository import GES, GLib, Gst
except (ImportError, ValueError) as e:
    print(f"no GES for Python: {e}")
    sys.exit(77)

Gst.init(None)
GES.init()
uri = sys.argv[1]
asset = GES.UriClipAsset.request_sync(uri)  # the discovery
print(f"discovered: duration {asset.get_duration() / Gst.SECOND:.2f} s")
timeline = GES.Timeline.new_audio_video()
layer = timeline.append_layer()
layer.add_asset(asset, 0, 0, asset.get_duration(), GES.TrackType.UNKNOWN)
pipeline = GES.Pipeline()
pipeline.set_timeline(timeline)
pipeline.preview_set_video_sink(Gst.ElementFactory.make("fakesink"))
pipeline.preview_set_audio_sink(Gst.ElementFactory.make("fakesink"))
loop = GLib.MainLoop()
result = {"code": 1}


def on_message(bus, message):
    if message.type == Gst.MessageType.EOS:
        result["code"] = 0
        loop.quit()
    elif message.type == Gst.MessageType.ERROR:
        print("error:", message.parse_error()[0].message)
        loop.quit()
    elif message.type == Gst.MessageType.PROGRESS:
        print("Progress:", message.parse_progress()[2])


bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
pipeline.set_state(Gst.State.PLAYING)
GLib.timeout_add_seconds(40, loop.quit)
loop.run()
pipeline.set_state(Gst.State.NULL)
print("played to the end" if result["code"] == 0 else "did not play to the end")
sys.exit(result["code"])
