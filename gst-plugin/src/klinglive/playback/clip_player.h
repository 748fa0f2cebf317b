// SPDX-License-Identifier: LGPL-2.1-or-later
// One queued request played as a frame provider: its own small pipeline,
//   klingsrc (the live element's defaults + the request) ! decodebin ! videoconvert
//   ! videoscale add-borders=true ! videorate ! capsfilter (output caps) ! appsink
// started ahead of time, so the clip's first frames wait in the appsink when its
// turn comes. The generation goes through klingsrc unchanged (journal, one submit
// per request, price guards). Its bus messages reach the live element's bus; an
// error there fails this clip only (a WARNING), never the live stream.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "klinglive/forwarded_properties.h"
#include "klinglive/playback/last_frame.h"

namespace kling::live {

class ClipPlayer {
 public:
  struct Status {
    std::string prompt;
    std::string task_id;
    std::string model;
    std::string state = "submitting";  // submitting, queued, processing, downloading, ready, failed
    std::string error;                 // the API's reason, once failed
    gint64 started_us = 0;             // monotonic
  };

  // What a clip adds to its pictures (disclosure.h, last_frame.h).
  struct Extras {
    std::string disclosure;  // drawn on every frame, when not ""
    std::string frames_dir;  // when not "": the last frame is kept there (last_frame())
  };

  // `owner` is the live element: messages are posted on it. With `audio_caps`, the
  // clip's sound is decoded too, into audio_sink().
  ClipPlayer(GstElement* owner, std::shared_ptr<const PropertyValues> defaults,
             const std::string& request, GstCaps* caps, GstCaps* audio_caps,
             const Extras& extras = {});
  ~ClipPlayer();
  ClipPlayer(const ClipPlayer&) = delete;
  ClipPlayer& operator=(const ClipPlayer&) = delete;

  // Makes the pipeline and sets it PLAYING, off this thread; a failure shows as failed().
  void start();
  // True once the first frame waits in the appsink (the frame is kept for pull()).
  bool ready();
  // The next frame, or nullptr when none is decoded yet (or the clip ended).
  GstSample* pull();
  // Every frame was pulled, or the clip failed.
  bool ended();
  bool failed();
  // Plays the clip again from its first frame (a flushing seek, off this thread).
  void restart();
  void set_caps(GstCaps* caps);
  // The clip's decoded sound (nullptr without audio_caps); it stays empty for a silent clip.
  GstAppSink* audio_sink();
  // Sets the pipeline to NULL (blocking; klingsrc stops promptly).
  void stop();
  Status status();
  // The clip's last decoded frame (nullptr without Extras::frames_dir).
  std::shared_ptr<LastFrame> last_frame() const { return last_frame_; }

 private:
  struct Shared;
  static GstBusSyncReply on_message(GstBus*, GstMessage* msg, gpointer data);
  static GstAppSink* add_audio_chain(GstElement* pipeline, GstCaps* audio_caps, GstElement** head);
  static void set_request(GstElement* src, const PropertyValues& defaults,
                          const std::string& request, std::string* error, std::string* prompt,
                          std::string* model);
  static void on_pad_added(GstElement*, GstPad* pad, gpointer data);
  static void add_extras(GstElement* pipeline, GstElement* rate, GstElement* filter,
                         GstElement* convert, const std::string& disclosure,
                         const std::shared_ptr<LastFrame>& last_frame);
  static void on_element_added(GstBin*, GstBin*, GstElement* element, gpointer);
  static void lower_priority_of_streaming_thread(GstMessage* msg);
  static GstElement* build(const std::shared_ptr<Shared>& shared, const PropertyValues& defaults,
                           const std::string& request, GstCaps* audio_caps,
                           const std::string& disclosure,
                           const std::shared_ptr<LastFrame>& last_frame);
  GstElement* owner_element();  // a ref, or nullptr once the live element is gone
  GstAppSink* sink();           // nullptr until the pipeline is made

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<const PropertyValues> defaults_;
  std::string request_;
  GstCaps* audio_caps_ = nullptr;
  std::string disclosure_;
  GstSample* peeked_ = nullptr;  // the output's thread only
  std::shared_ptr<LastFrame> last_frame_;
};

}  // namespace kling::live
