// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/live_schedule.h"

#include <algorithm>
#include <utility>

#include "klinglive/playback/black_frame.h"
#include "klinglive/playback/call_async.h"
#include "klinglive/playback/disclosure.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

namespace {
constexpr gint64 kSecond = G_USEC_PER_SEC;
constexpr gint64 kFailureShown = 4 * kSecond;  // the slate says "failed" this long
// Same picture layout: format and size (the rate does not change a frame).
bool fits(const GstVideoInfo& a, const GstVideoInfo& b) {
  return GST_VIDEO_INFO_FORMAT(&a) == GST_VIDEO_INFO_FORMAT(&b) &&
         GST_VIDEO_INFO_WIDTH(&a) == GST_VIDEO_INFO_WIDTH(&b) &&
         GST_VIDEO_INFO_HEIGHT(&a) == GST_VIDEO_INFO_HEIGHT(&b);
}

// `frame` (laid out as `from`) scaled and converted to `to`, aspect kept with borders
// as the clip pipelines' videoscale add-borders=true does; nullptr if it cannot be.
GstBuffer* convert_frame(GstBuffer* frame, const GstVideoInfo& from, const GstVideoInfo& to) {
  GstVideoInfo in = from;
  GST_VIDEO_INFO_FPS_N(&in) = GST_VIDEO_INFO_FPS_N(&to);  // the converter wants equal rates
  GST_VIDEO_INFO_FPS_D(&in) = GST_VIDEO_INFO_FPS_D(&to);
  GstBuffer* out = black_frame(to);
  if (!out) return nullptr;
  // The largest rectangle of the frame's shape inside the new size, centred.
  const gint64 fw = GST_VIDEO_INFO_WIDTH(&from), fh = GST_VIDEO_INFO_HEIGHT(&from);
  const gint64 tw = GST_VIDEO_INFO_WIDTH(&to), th = GST_VIDEO_INFO_HEIGHT(&to);
  gint64 w = tw, h = th;
  if (fw * th > tw * fh)
    h = std::max<gint64>(1, tw * fh / fw);
  else
    w = std::max<gint64>(1, th * fw / fh);
  GstStructure* config = gst_structure_new(
      "config", GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, static_cast<int>((tw - w) / 2),
      GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, static_cast<int>((th - h) / 2),
      GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, static_cast<int>(w),
      GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT, G_TYPE_INT, static_cast<int>(h),
      GST_VIDEO_CONVERTER_OPT_FILL_BORDER, G_TYPE_BOOLEAN, FALSE, nullptr);
  bool ok = false;
  GstVideoFrame src, dst;
  if (gst_video_frame_map(&src, &in, frame, GST_MAP_READ)) {
    if (gst_video_frame_map(&dst, &to, out, GST_MAP_WRITE)) {
      if (GstVideoConverter* conv = gst_video_converter_new(&in, &to, config)) {
        config = nullptr;  // the converter's
        gst_video_converter_frame(conv, &src, &dst);
        gst_video_converter_free(conv);
        ok = true;
      }
      gst_video_frame_unmap(&dst);
    }
    gst_video_frame_unmap(&src);
  }
  if (config) gst_structure_free(config);
  if (!ok) gst_clear_buffer(&out);
  return out;
}

}  // namespace

LiveSchedule::LiveSchedule(GstElement* owner, std::shared_ptr<RequestQueue> queue,
                           std::function<ScheduleSettings()> settings)
    : queue_(std::move(queue)), settings_(std::move(settings)) {
  g_weak_ref_init(&owner_, owner);
}

GstElement* LiveSchedule::owner() {
  return static_cast<GstElement*>(g_weak_ref_get(&owner_));
}

LiveSchedule::~LiveSchedule() {
  stop();
  gst_clear_caps(&caps_);
  gst_clear_caps(&audio_caps_);
  gst_clear_buffer(&black_);
  g_weak_ref_clear(&owner_);
}

void LiveSchedule::want_audio(bool want) {
  std::lock_guard<std::mutex> lock(audio_mutex_);
  want_audio_ = want;
}

void LiveSchedule::set_audio_caps(GstCaps* caps) {
  std::lock_guard<std::mutex> lock(audio_mutex_);
  gst_caps_replace(&audio_caps_, caps);
}

void LiveSchedule::on_air(ClipPlayer* player) {
  feed_.set_source(player ? player->audio_sink() : nullptr);
}

void LiveSchedule::set_caps(GstCaps* caps) {
  gst_caps_replace(&caps_, caps);
  GstVideoInfo info;
  gst_clear_buffer(&black_);
  const bool had_info = have_info_;
  have_info_ = gst_video_info_from_caps(&info, caps);
  if (have_info_) {
    slate_.set_format(info);
    black_ = black_frame(info);
    // The frame held (hold, a loop's seek, decoding behind) in the new size and format:
    // never pushed under caps it does not fit.
    if (last_ && had_info && !fits(info_, info)) {
      GstBuffer* scaled = convert_frame(last_, info_, info);
      gst_buffer_unref(last_);
      last_ = scaled;  // nullptr if it could not be: black until the clip's next frame
    }
    info_ = info;
  } else {
    gst_clear_buffer(&last_);
  }
  for (auto& p : upcoming_) p->set_caps(caps);
  if (current_) current_->set_caps(caps);
  // Generation starts as soon as the output's format is known (PAUSED).
  start_players(settings_());
}

void LiveSchedule::start_players(const ScheduleSettings& s) {
  if (!caps_) return;
  GstCaps* audio_caps = nullptr;
  {
    std::lock_guard<std::mutex> lock(audio_mutex_);
    if (want_audio_ && !audio_caps_)
      return;  // the audio pad is negotiating: a clip started now would be silent
    if (audio_caps_) audio_caps = gst_caps_ref(audio_caps_);
  }
  g_autoptr(GstCaps) audio_ref = audio_caps;
  while (upcoming_.size() < std::max(1u, s.ahead)) {
    if (s.story && !story_.may_start()) break;  // serial: from the last frame before
    std::optional<std::string> request = queue_->pop();
    if (!request) break;
    const ClipPlayer::Extras extras{s.disclosure, s.story ? Story::frames_dir() : std::string()};
    g_autoptr(GstElement) o = owner();
    auto player =
        std::make_unique<ClipPlayer>(o,
                                     s.story ? std::make_shared<const PropertyValues>(story_.next(
                                                   *s.defaults, *request, s.continue_model))
                                             : s.defaults,
                                     *request, caps_, audio_caps, extras);
    if (s.story) story_.started(player->last_frame());
    GST_INFO_OBJECT(o, "generating ahead: %s", request->c_str());
    player->start();  // a failure is seen (and said) as failed()
    upcoming_.push_back(std::move(player));
  }
}

void LiveSchedule::drop_failed_upcoming(gint64 now) {
  for (auto it = upcoming_.begin(); it != upcoming_.end();) {
    if ((*it)->failed() && !(*it)->ready()) {
      ClipPlayer::Status st = (*it)->status();
      failed_prompt_ = st.prompt;
      failed_reason_ = st.error;
      failed_until_ = now + kFailureShown;
      retire(std::move(*it));
      it = upcoming_.erase(it);
    } else {
      ++it;
    }
  }
}

// The player's next frame made for the output's current caps. Frames decoded before a
// renegotiation (the appsink holds a few) are dropped: the clip's capsfilter has the new
// caps, and its next frames follow.
GstSample* LiveSchedule::pull_fitting(ClipPlayer* player) {
  while (GstSample* sample = player->pull()) {
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    GstVideoInfo info;
    GstCaps* caps = gst_sample_get_caps(sample);
    if (buffer && caps && have_info_ && gst_video_info_from_caps(&info, caps) &&
        fits(info, info_) && gst_buffer_get_size(buffer) >= GST_VIDEO_INFO_SIZE(&info_))
      return sample;
    GST_DEBUG("dropped a frame decoded for other caps: %" GST_PTR_FORMAT, caps);
    gst_sample_unref(sample);
  }
  return nullptr;
}

GstBuffer* LiveSchedule::take(GstSample* sample) {
  if (GstBuffer* buffer = sample ? gst_sample_get_buffer(sample) : nullptr) {
    gst_buffer_replace(&last_, buffer);
    // Where the clip is: the sound is placed against it.
    const GstSegment* segment = gst_sample_get_segment(sample);
    taken_clip_time_ = GST_BUFFER_PTS(buffer);
    if (segment && segment->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID(taken_clip_time_))
      taken_clip_time_ = gst_segment_to_running_time(segment, GST_FORMAT_TIME, taken_clip_time_);
  }
  if (sample) gst_sample_unref(sample);
  restarting_ = false;
  return last_ ? gst_buffer_ref(last_) : nullptr;
}

GstBuffer* LiveSchedule::switch_to_next(GstClockTime pts) {
  if (current_) retire(std::move(current_));
  current_ = std::move(upcoming_.front());
  upcoming_.pop_front();
  ended_posted_ = false;
  restarting_ = false;
  start_pending_ = true;
  on_air(current_.get());
  return take(pull_fitting(current_.get()));
}

GstBuffer* LiveSchedule::frame(GstClockTime pts, GstClockTime duration) {
  const gint64 now = g_get_monotonic_time();
  ScheduleSettings s = settings_();
  slate_.set_image(s.slate_location);
  drop_failed_upcoming(now);
  start_players(s);
  auto next_ready = [this] { return !upcoming_.empty() && upcoming_.front()->ready(); };

  GstBuffer* out = nullptr;
  taken_clip_time_ = GST_CLOCK_TIME_NONE;
  if (current_) {
    if (GstSample* sample = pull_fitting(current_.get())) {
      out = take(sample);
    } else if (!current_->ended() || (restarting_ && !current_->failed())) {
      if (!restarting_)
        GST_INFO("the clip's decoding is behind: frame at %" GST_TIME_FORMAT
                 " repeats the last one",
                 GST_TIME_ARGS(pts));
      out = last_ ? gst_buffer_ref(last_) : nullptr;  // decoding behind, or a loop seeking
    } else {
      if (!ended_posted_) {
        post_live("clip-end", current_.get(), pts);
        ended_posted_ = true;
      }
      if (next_ready()) {
        out = switch_to_next(pts);
      } else if (current_->failed() || s.when_idle == WhenIdle::Slate) {
        on_air(nullptr);
        retire(std::move(current_));
      } else if (s.when_idle == WhenIdle::Loop) {
        on_air(current_.get());  // its sound from the start again, after the seek
        current_->restart();
        restarting_ = true;
        ended_posted_ = false;
        start_pending_ = true;
        out = last_ ? gst_buffer_ref(last_) : nullptr;
      } else {
        out = last_ ? gst_buffer_ref(last_) : nullptr;  // hold
      }
    }
  } else if (next_ready()) {
    out = switch_to_next(pts);
  }

  if (out) {
    // A new frame of the clip on air, or the last one held: the sound follows.
    feed_.shown(pts, duration, taken_clip_time_);
    if (start_pending_ && !restarting_) {
      post_live("clip-start", current_.get(), pts);
      send_generated_tags(current_.get(), s.disclosure);
      start_pending_ = false;
    }
    on_slate_ = false;
    return out;
  }
  if (!on_slate_) {
    post_live("slate", upcoming_.empty() ? nullptr : upcoming_.front().get(), pts);
    on_slate_ = true;
  }
  if (GstBuffer* slate = slate_frame(now)) return slate;
  return black_ ? gst_buffer_ref(black_) : nullptr;  // no card drawn: black, never a stall
}

GstBuffer* LiveSchedule::slate_frame(gint64 now) {
  std::string title, detail;
  if (now < failed_until_) {
    title = failed_prompt_;
    detail = "failed: " + failed_reason_;
  } else if (!upcoming_.empty()) {
    ClipPlayer::Status st = upcoming_.front()->status();
    gint64 secs = (now - st.started_us) / kSecond;
    title = st.prompt;
    g_autofree char* d = g_strdup_printf("%s  %" G_GINT64_FORMAT ":%02d", st.state.c_str(),
                                         secs / 60, static_cast<int>(secs % 60));
    detail = d;
  } else {
    title = "klinglivesrc";
    detail = "waiting for a prompt";
  }
  return slate_.buffer(title, detail);
}

// Off the streaming thread: a pipeline going to NULL may take a moment.
void LiveSchedule::retire(std::unique_ptr<ClipPlayer> player) {
  if (!player) return;
  g_autoptr(GstElement) o = owner();
  if (!o) return;  // the live element is gone: here then (player goes out of scope)
  call_async(o, [player = std::move(player)](GstElement*) mutable { player.reset(); });
}

void LiveSchedule::post_live(const char* event, ClipPlayer* player, GstClockTime pts) {
  ClipPlayer::Status st;
  if (player) st = player->status();
  GstStructure* s = gst_structure_new(
      "kling/live", "event", G_TYPE_STRING, event, "task-id", G_TYPE_STRING, st.task_id.c_str(),
      "prompt", G_TYPE_STRING, st.prompt.c_str(), "running-time", G_TYPE_UINT64, pts, nullptr);
  g_autoptr(GstElement) o = owner();
  GST_INFO_OBJECT(o, "%" GST_PTR_FORMAT, s);
  if (o)
    gst_element_post_message(o, gst_message_new_element(GST_OBJECT(o), s));
  else
    gst_structure_free(s);
}

// Before the clip's first frame, on the output's streaming thread (inside its
// create): the tags precede that frame downstream. Not through
// gst_element_send_event, which takes the state lock a stopping pipeline holds.
void LiveSchedule::send_generated_tags(ClipPlayer* player, const std::string& disclosure) {
  if (!player) return;
  ClipPlayer::Status st = player->status();
  g_autoptr(GstElement) o = owner();
  if (!o) return;
  g_autoptr(GstPad) ghost = gst_element_get_static_pad(o, "video");
  g_autoptr(GstPad) target = ghost ? gst_ghost_pad_get_target(GST_GHOST_PAD(ghost)) : nullptr;
  if (!target) return;
  GstEvent* tags = generated_tag_event(st.model, st.task_id, disclosure);
  GST_INFO_OBJECT(o, "clip start: %" GST_PTR_FORMAT, tags);
  gst_pad_push_event(target, tags);
}

void LiveSchedule::stop() {
  story_.reset();
  on_air(nullptr);
  current_.reset();
  upcoming_.clear();
  gst_clear_buffer(&last_);
  on_slate_ = false;
  restarting_ = false;
  start_pending_ = false;
  slate_.stop();  // no thread of ours outlives the element's stop
}

}  // namespace kling::live
