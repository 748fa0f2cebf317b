#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A 24/7 channel from a playlist file: klinglivesrc generates each line's clip
# ahead and plays them back to back (a slate while the first one generates, the
# last clip looped while nothing new is ready); H.264 in FLV to an RTMP server.
# Append lines to the playlist while it runs: they are queued.
#
#   examples/live_channel.sh PLAYLIST URL [PROPERTY=VALUE ...]
#
# URL is rtmp://server/app/key, or a file path to record the same stream.
# SIZE (1280x720), RATE (30) and BITRATE (kbit/s, 2500) set the output.
# Further PROPERTY=VALUE arguments go to klinglivesrc (ahead=3 duration=10 ...).
# Ctrl-C ends the stream cleanly (EOS: the file is complete).
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 PLAYLIST URL [PROPERTY=VALUE ...]" >&2
  exit 2
fi
playlist=$1 url=$2
shift 2
size=${SIZE:-1280x720} rate=${RATE:-30}
width=${size%x*} height=${size#*x}

# A keyframe every 2 s, so a viewer (or an HLS/RTMP edge) can join quickly.
set -- klinglivesrc playlist="$playlist" "$@" \
  ! "video/x-raw,width=$width,height=$height,framerate=$rate/1" ! videoconvert \
  ! x264enc tune=zerolatency speed-preset=veryfast bitrate="${BITRATE:-2500}" key-int-max=$((2 * rate)) \
  ! h264parse ! flvmux streamable=true name=mux
case "$url" in
  rtmp://* | rtmps://*) exec gst-launch-1.0 -e "$@" ! rtmpsink location="$url live=1" ;;
  *) exec gst-launch-1.0 -e "$@" ! filesink location="$url" ;;
esac
