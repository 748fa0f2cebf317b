#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generate two clips (two prompts, two tasks, generated at the same time) and put
# them side by side with compositor, encoded to H.264 in an MP4.
#
#   examples/compositor.sh PROMPT_LEFT PROMPT_RIGHT OUT.mp4 [PROPERTY=VALUE ...]
#
# Further PROPERTY=VALUE arguments go to both klingsrc (duration=10 aspect-ratio=9:16 ...).
# Each clip is scaled to CLIP_HEIGHT pixels (default: the height the API makes for
# the aspect ratio: 720 for 16:9), so the output is two clips wide.
# The key and the API come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL.
set -eu

if [ $# -lt 3 ]; then
  echo "usage: $0 PROMPT_LEFT PROMPT_RIGHT OUT.mp4 [PROPERTY=VALUE ...]" >&2
  exit 2
fi
left=$1 right=$2 out=$3
shift 3

# Each clip's size from the aspect ratio (klingsrc's default is 16:9).
ratio=16:9
for prop in "$@"; do
  case $prop in aspect-ratio=*) ratio=${prop#aspect-ratio=} ;; esac
done
case $ratio in
  16:9) native=720 ;;
  9:16) native=1280 ;;
  1:1)  native=960 ;;
  *) echo "$0: unknown aspect-ratio $ratio" >&2; exit 2 ;;
esac
height=${CLIP_HEIGHT:-$native}
width=$(( height * ${ratio%:*} / ${ratio#*:} / 2 * 2 ))  # even, for the encoder
clip="video/x-raw,width=$width,height=$height,pixel-aspect-ratio=1/1"

# The right clip starts where the left one ends: the output is 2*width wide.
exec gst-launch-1.0 -e \
  compositor name=mix sink_1::xpos="$width" \
    ! videoconvert ! x264enc ! mp4mux ! filesink location="$out" \
  klingsrc prompt="$left" "$@" ! decodebin ! videoconvert ! videoscale ! "$clip" ! mix.sink_0 \
  klingsrc prompt="$right" "$@" ! decodebin ! videoconvert ! videoscale ! "$clip" ! mix.sink_1
