#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generate a clip with klingsrc and cut it into HLS: MPEG-TS segments and a
# playlist in a folder, ready for any HTTP server (no re-encoding).
#
#   examples/hls.sh PROMPT DIR [PROPERTY=VALUE ...]
#
# Writes DIR/playlist.m3u8 and DIR/segment00000.ts, ... (a segment starts at a
# keyframe, about every TARGET_DURATION seconds, default 2).
# Further PROPERTY=VALUE arguments go to klingsrc (duration=10 aspect-ratio=9:16 ...).
# The key and the API come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL.
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 PROMPT DIR [PROPERTY=VALUE ...]" >&2
  exit 2
fi
prompt=$1 dir=$2
shift 2
mkdir -p "$dir"

# The MP4 holds H.264 already: demux it, mux MPEG-TS and let hlssink cut it.
# playlist-length=0 and max-files=0 keep every segment (a VOD playlist, closed
# with #EXT-X-ENDLIST at the end of the stream).
# Not hlssink2: on GStreamer 1.22 it sometimes never ends (its splitmuxsink
# loses the EOS after writing the last segment, about 1 run in 10).
exec gst-launch-1.0 -e \
  klingsrc prompt="$prompt" "$@" ! qtdemux ! h264parse ! mpegtsmux \
  ! hlssink target-duration="${TARGET_DURATION:-2}" playlist-length=0 max-files=0 \
      location="$dir/segment%05d.ts" playlist-location="$dir/playlist.m3u8"
