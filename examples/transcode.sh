#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generate a clip with klingsrc and re-encode it into a file:
# .mp4 gets H.264 (x264enc) in MP4, .webm gets VP9 (vp9enc) in WebM.
#
#   examples/transcode.sh PROMPT OUT.mp4|OUT.webm [PROPERTY=VALUE ...]
#
# Further PROPERTY=VALUE arguments go to klingsrc (duration=10 aspect-ratio=9:16 ...).
# The key and the API come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL.
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 PROMPT OUT.mp4|OUT.webm [PROPERTY=VALUE ...]" >&2
  exit 2
fi
prompt=$1 out=$2
shift 2

case $out in
  *.mp4)  encode="x264enc ! mp4mux" ;;
  *.webm) encode="vp9enc deadline=1 cpu-used=4 ! webmmux" ;;  # VP9 at real-time speed
  *) echo "$0: OUT must end in .mp4 or .webm" >&2; exit 2 ;;
esac

# -e: on Ctrl-C, end the stream first so the muxer writes a playable file.
# $encode is split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e \
  klingsrc prompt="$prompt" "$@" ! decodebin ! videoconvert \
  ! $encode ! filesink location="$out"
