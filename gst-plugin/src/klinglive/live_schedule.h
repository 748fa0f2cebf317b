// SPDX-License-Identifier: LGPL-2.1-or-later
// Decides, one frame period at a time, what klinglivesrc shows: the next frame
// of the current clip, the first frame of the next ready clip, the last frame
// again, or the slate. Keeps `ahead` requests generating in advance. Used only
// by the output's streaming thread (and by its stop()), so it holds no lock.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "klinglive/playback/audio_feed.h"
#include "klinglive/playback/clip_player.h"
#include "klinglive/playback/slate.h"
#include "klinglive/request_queue.h"
#include "klinglive/story.h"

namespace kling::live {

enum class WhenIdle { Loop = 0, Hold = 1, Slate = 2 };

struct ScheduleSettings {
  guint ahead = 2;
  WhenIdle when_idle = WhenIdle::Loop;
  std::string slate_location;
  std::shared_ptr<const PropertyValues> defaults;  // for the child klingsrc (never null)
  std::string disclosure;  // drawn on clip frames, in the tags at each clip start
  bool story = false;      // continue: each request from the last frame before it
  std::string continue_model;
};

class LiveSchedule {
 public:
  // `owner` (the live element) posts the messages; `settings` reads its properties.
  LiveSchedule(GstElement* owner, std::shared_ptr<RequestQueue> queue,
               std::function<ScheduleSettings()> settings);
  ~LiveSchedule();
  LiveSchedule(const LiveSchedule&) = delete;
  LiveSchedule& operator=(const LiveSchedule&) = delete;

  void set_caps(GstCaps* caps);
  // The `audio` pad exists: clips are started with sound once its caps are known
  // (set_audio_caps, from the audio output's thread), and the feed follows the clip on air.
  void want_audio(bool want);
  void set_audio_caps(GstCaps* caps);
  AudioFeed* audio_feed() { return &feed_; }
  // The frame for running time `pts`, lasting `duration` (a ref for the caller): nullptr
  // only before caps.
  GstBuffer* frame(GstClockTime pts, GstClockTime duration);
  // Every clip's pipeline to NULL; the queue is kept.
  void stop();

 private:
  void start_players(const ScheduleSettings& s);
  void drop_failed_upcoming(gint64 now);
  GstBuffer* switch_to_next(GstClockTime pts);
  GstSample* pull_fitting(ClipPlayer* player);
  GstBuffer* take(GstSample* sample);
  GstBuffer* slate_frame(gint64 now);
  void retire(std::unique_ptr<ClipPlayer> player);
  void post_live(const char* event, ClipPlayer* player, GstClockTime pts);
  void send_generated_tags(ClipPlayer* player, const std::string& disclosure);

  void on_air(ClipPlayer* player);  // the feed follows the clip shown

  GstElement* owner();  // a ref, or nullptr once the live element is gone
  GWeakRef owner_;      // the live element: a schedule held by a child may outlive it
  AudioFeed feed_;
  std::mutex audio_mutex_;
  bool want_audio_ = false;        // under audio_mutex_
  GstCaps* audio_caps_ = nullptr;  // under audio_mutex_
  std::shared_ptr<RequestQueue> queue_;
  std::function<ScheduleSettings()> settings_;
  GstCaps* caps_ = nullptr;
  GstVideoInfo info_{};  // of caps_, when have_info_
  bool have_info_ = false;
  Slate slate_;
  Story story_;
  std::deque<std::unique_ptr<ClipPlayer>> upcoming_;  // started, in queue order
  std::unique_ptr<ClipPlayer> current_;
  GstBuffer* last_ = nullptr;   // the last clip frame shown
  GstBuffer* black_ = nullptr;  // in the output's format: when there is nothing else
  // The clip running time of the frame take() just took; NONE when none was.
  GstClockTime taken_clip_time_ = GST_CLOCK_TIME_NONE;
  bool on_slate_ = false;
  bool restarting_ = false;  // a loop's seek is on its way
  bool ended_posted_ = false;
  bool start_pending_ = false;  // post clip-start with the next clip frame
  std::string failed_prompt_, failed_reason_;
  gint64 failed_until_ = 0;
};

}  // namespace kling::live
