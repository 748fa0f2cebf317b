// SPDX-License-Identifier: LGPL-2.1-or-later
// Test clips the klinglivesrc suites serve through kling-emulator --video-file:
// H.264 frames of one flat colour each (chosen per frame, so a frame says which
// it is after decoding) and an optional AAC track (chosen per sample).
#pragma once

#include <glib.h>

#include <functional>
#include <string>

struct Yuv {
  guint8 y, u, v;
};

struct ClipSpec {
  int frames = 60;
  int fps = 30;
  int width = 320, height = 180;
  std::function<Yuv(int frame)> colour;
  // Sound at 48 kHz, the same on both channels; none when `audio_samples` is 0.
  guint64 audio_samples = 0;
  std::function<gint16(guint64 sample)> sound;
};

// Writes the MP4 (asserting it was made within 60 s).
void make_clip(const std::string& path, const ClipSpec& spec);

// The frame number a frame of `indexed_clip` shows (its luma), -1 for none (another colour).
ClipSpec indexed_clip(int frames);
int frame_index(const guint8* y_plane, int stride, int width, int height, int u_mean);
