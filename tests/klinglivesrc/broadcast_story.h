// SPDX-License-Identifier: LGPL-2.1-or-later
// What the broadcast suites share: klinglivesrc run live into a broadcaster's chain
// against kling-emulator, and the two-clip story with a disclosure, whose tags the
// muxer must receive and whose frames, wherever they are read back, must show the text
// on clip frames only.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "disclosure_frames.h"
#include "support/emulator_process.h"

// Runs `desc` live for `seconds`, then EOS; true if the EOS got through in time.
// `setup` sees the pipeline before it plays.
bool record(const Emulator& emu, const std::string& desc, int seconds,
            const std::function<void(GstElement*)>& setup = {});

struct Marked {
  std::mutex mutex;
  std::vector<FrameMarks> frames;
  std::vector<std::string> generated, comments;  // tag events, in order
};

// A pad probe (data: a Marked): each frame's marks, each clip's kling-generated tags.
GstPadProbeReturn mark(GstPad* pad, GstPadProbeInfo* info, gpointer data);

// Plays `desc` (a recording made) to its end, with `into` getting each frame of the
// element named "sink" (I420).
void decoded_marks(const std::string& desc, Marked* into);

// A story of two clips with a disclosure, recorded through x264enc ! `tail` for `seconds`
// into `dir`: the muxer received the kling-generated tags of each clip (the second from
// the i2v model) with the text as comment; the frame the second clip was made from (the
// image uploaded, read back from the emulator's storage) is the clip's own, black,
// without the text: the disclosure never feeds back into the story.
void record_story(const std::string& dir, const std::string& tail, int seconds);

// Decoded back, every clip frame of the recording carries the text and no slate frame does.
void assert_text_on_clip_frames_only(const Marked& seen);
