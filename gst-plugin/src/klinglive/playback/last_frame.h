// SPDX-License-Identifier: LGPL-2.1-or-later
// A clip's last decoded frame, for story mode: watched on the clip's decoded
// video (before the disclosure overlay and any scaling), kept one buffer at a
// time, and written at the decoder's EOS as a PNG named by its SHA-256 in the
// element's folder (the same bytes are the same file, which the core then names
// the request by and uploads once), off the clip's streaming thread. Known when
// written, or when the clip ended without one (failed, or stopped before its
// decoder's EOS): then the path is "".
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>

namespace kling::live {

class LastFrame : public std::enable_shared_from_this<LastFrame> {
 public:
  explicit LastFrame(std::string dir) : dir_(std::move(dir)) {}
  ~LastFrame();
  LastFrame(const LastFrame&) = delete;
  LastFrame& operator=(const LastFrame&) = delete;

  // Watches `pad` (decoded video) until its EOS.
  void watch(GstPad* pad);
  // No frame will come (the clip failed or is going).
  void abandon();
  bool known();
  // The PNG, or "" (no frame, or it could not be written: see error()).
  std::string path();
  std::string error();

 private:
  static GstPadProbeReturn on_probe(GstPad* pad, GstPadProbeInfo* info, gpointer data);
  void finish(GstPad* pad);

  const std::string dir_;
  std::mutex mutex_;
  GstBuffer* last_ = nullptr;  // under mutex_
  bool known_ = false;
  bool writing_ = false;  // the PNG is being made (finish())
  std::string path_, error_;
};

// Frames older than this (by mtime) are removed from the folder when a new one is written.
constexpr gint64 kStoryFrameMaxAgeS = 3600;

// Writes the frame as a PNG named <sha256>.png in `dir` (made if missing), and removes
// the frames there older than kStoryFrameMaxAgeS; its path, or "" with `error` set.
std::string write_frame_png(GstBuffer* buffer, GstCaps* caps, const std::string& dir,
                            std::string* error);

}  // namespace kling::live
