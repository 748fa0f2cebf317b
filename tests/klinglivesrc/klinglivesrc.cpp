// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc against kling-emulator with a live, synchronising sink
// (fakesink sync=true and a pad probe): continuous timestamps across
// slate/clip/clip/loop, the clip's own frames (told from the slate by colour),
// no slate between clips generated ahead, failures as warnings, requests
// queued while playing. What is measured on the real clock (the first frame,
// frames late) is compared with videotestsrc is-live=true run side by side into
// the same sink in the same run, never with a fixed figure: the machine may be
// busy. The timing logic itself is asserted on a test clock (clock.cpp).
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "live_log.h"
#include "support/emulator_process.h"
#include "support/thread_names.h"

namespace {

constexpr const char* kKey = "emulator-key";
constexpr GstClockTime kPeriod = GST_SECOND / 30;

struct Frame {
  GstClockTime pts, duration;
  bool clip;      // the emulator's blue, not the slate's grey
  int edge_luma;  // mean Y of the leftmost eighth: 16 in a pillarbox's border
};

// What a sink saw of one source on the real clock.
struct Punctuality {
  std::mutex mutex;
  gint64 started_us = 0, first_us = 0;  // PLAYING asked; first buffer at the sink
  size_t frames = 0, late = 0;          // late: more than two periods behind the clock
  size_t stalls = 0;                    // runs of late frames (a thread held up once)
  bool was_late = false;
  GstClockTimeDiff worst = 0;
  GstClockTime first_pts = 0;

  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return frames;
  }

  // Lateness from the half second on: the start (the first slate card is drawn before
  // the first frame) is the first frame's measure.
  void saw(GstBuffer* buffer, GstClockTimeDiff behind) {
    std::lock_guard<std::mutex> lock(mutex);
    if (frames++ == 0) {
      first_us = g_get_monotonic_time();
      first_pts = GST_BUFFER_PTS(buffer);
    }
    if (GST_BUFFER_PTS(buffer) < first_pts + GST_SECOND / 2) return;
    const bool is_late = behind > 2 * static_cast<GstClockTimeDiff>(kPeriod);
    late += is_late;
    stalls += is_late && !was_late;
    was_late = is_late;
    worst = std::max(worst, behind);
  }
};

GstClockTimeDiff behind_clock(GstElement* pipeline, GstBuffer* buffer) {
  g_autoptr(GstClock) clock = gst_element_get_clock(pipeline);
  if (!clock) return 0;
  return GST_CLOCK_DIFF(GST_BUFFER_PTS(buffer),
                        gst_clock_get_time(clock) - gst_element_get_base_time(pipeline));
}

// videotestsrc is-live=true into the same sink, run beside klinglivesrc: what
// this machine allows a live source right now.
struct Reference {
  GstElement* pipeline = nullptr;
  Punctuality seen;

  static GstPadProbeReturn on_buffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
    auto* ref = static_cast<Reference*>(data);
    GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    ref->seen.saw(buffer, behind_clock(ref->pipeline, buffer));
    return GST_PAD_PROBE_OK;
  }
  Reference() {
    pipeline = gst_parse_launch(
        "videotestsrc is-live=true pattern=snow ! video/x-raw,format=I420,width=320,height=180,"
        "framerate=30/1 ! fakesink name=sink sync=true",
        nullptr);
    g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, this, nullptr);
  }
  ~Reference() {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
  void play() {
    seen.started_us = g_get_monotonic_time();
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
  }
  void stop() { gst_element_set_state(pipeline, GST_STATE_NULL); }
};

struct LiveRun : LiveLog {
  Reference reference;
  Punctuality seen;
  GstElement* pipeline = nullptr;
  GstElement* src = nullptr;
  std::vector<Frame> frames;  // under LiveLog::mutex

  void stop() {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    reference.stop();
  }
  ~LiveRun() {
    reference.stop();
    if (pipeline) {
      gst_element_set_state(pipeline, GST_STATE_NULL);
      gst_object_unref(src);
      gst_object_unref(pipeline);
    }
  }
  size_t n_frames() {
    std::lock_guard<std::mutex> lock(mutex);
    return frames.size();
  }
};

// The mean U (I420) in the middle: ~128 for the grey slate, ~147 for the emulator's blue.
// Also the mean luma of the leftmost eighth of the picture.
bool is_clip(GstBuffer* buffer, GstPad* pad, int* edge_luma) {
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  GstVideoInfo info;
  if (!caps || !gst_video_info_from_caps(&info, caps)) return false;
  GstVideoFrame vf;
  if (!gst_video_frame_map(&vf, &info, buffer, GST_MAP_READ)) return false;
  guint64 sum = 0, n = 0;
  const guint8* u = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 1));
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 1);
  // The middle quarter of the width: inside a pillarboxed clip too.
  const int w = GST_VIDEO_FRAME_COMP_WIDTH(&vf, 1);
  for (int y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT(&vf, 1); y++)
    for (int x = w * 3 / 8; x < w * 5 / 8; x++, n++) sum += u[y * stride + x];
  guint64 ysum = 0, yn = 0;
  const guint8* luma = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 0));
  int ystride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0);
  for (int y = 0; y < GST_VIDEO_FRAME_HEIGHT(&vf); y++)
    for (int x = 0; x < GST_VIDEO_FRAME_WIDTH(&vf) / 8; x++, yn++) ysum += luma[y * ystride + x];
  *edge_luma = static_cast<int>(ysum / yn);
  gst_video_frame_unmap(&vf);
  return sum / n > 136;
}

GstPadProbeReturn on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* run = static_cast<LiveRun*>(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  run->seen.saw(buffer, behind_clock(run->pipeline, buffer));
  int edge = 0;
  bool clip = is_clip(buffer, pad, &edge);
  Frame f{GST_BUFFER_PTS(buffer), GST_BUFFER_DURATION(buffer), clip, edge};
  std::lock_guard<std::mutex> lock(run->mutex);
  run->frames.push_back(f);
  return GST_PAD_PROBE_OK;
}

// klinglivesrc (props) at 320x180 I420 into a synchronising fakesink, PLAYING.
std::unique_ptr<LiveRun> play(const Emulator& emu, const std::string& props,
                              const char* prompt = "a red fox in snow") {
  auto run = std::make_unique<LiveRun>();
  std::string desc =
      "klinglivesrc name=src " + props +
      " ! video/x-raw,format=I420,width=320,height=180 ! fakesink name=sink sync=true";
  g_autoptr(GError) error = nullptr;
  run->pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  run->src = gst_bin_get_by_name(GST_BIN(run->pipeline), "src");
  g_object_set(run->src, "api-url", emu.api.c_str(), "api-key", kKey, "poll-interval", 50u,
               "journal", "", nullptr);
  if (prompt) g_object_set(run->src, "prompt", prompt, nullptr);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(run->pipeline), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, run.get(), nullptr);
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  gst_bus_set_sync_handler(bus, LiveLog::on_message, static_cast<LiveLog*>(run.get()), nullptr);
  run->reference.play();
  run->seen.started_us = g_get_monotonic_time();
  g_assert_cmpint(gst_element_set_state(run->pipeline, GST_STATE_PLAYING), !=,
                  GST_STATE_CHANGE_FAILURE);
  return run;
}

// Waits (bounded) for `done`; false on timeout.
bool wait_for(std::function<bool()> done, int timeout_s) {
  for (gint64 end = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;
       g_get_monotonic_time() < end; g_usleep(20 * 1000))
    if (done()) return true;
  return false;
}

// Every buffer follows the previous one; held up at the sink no more often than
// videotestsrc beside it, nor much longer. Counted in stalls (runs of frames more than
// two periods late), not frames: a thread of ours descheduled once for 170 ms on a
// loaded machine makes four late frames in a row; a stall at every switch, or an
// output that no longer keeps up, fails.
void assert_continuous(LiveRun& run) {
  {
    std::lock_guard<std::mutex> lock(run.mutex);
    g_assert_cmpuint(run.frames.size(), >, 10);
    for (size_t i = 1; i < run.frames.size(); i++) {
      const Frame &a = run.frames[i - 1], &b = run.frames[i];
      g_assert_cmpuint(b.pts, ==, a.pts + a.duration);
      g_assert_cmpuint(a.duration, >=, kPeriod - 1);
      g_assert_cmpuint(a.duration, <=, kPeriod + 1);
    }
  }
  std::lock_guard<std::mutex> lock(run.seen.mutex), ref_lock(run.reference.seen.mutex);
  const Punctuality &k = run.seen, &r = run.reference.seen;
  g_test_message("late frames (> 2 periods): klinglivesrc %zu of %zu (worst %" G_GINT64_FORMAT
                 " ms), videotestsrc beside it %zu of %zu (worst %" G_GINT64_FORMAT
                 " ms); stalls %zu and %zu",
                 k.late, k.frames, k.worst / GST_MSECOND, r.late, r.frames, r.worst / GST_MSECOND,
                 k.stalls, r.stalls);
  g_assert_cmpuint(r.frames, >, 0);
  g_assert_cmpuint(k.stalls, <=, 2 * r.stalls + 1 + k.frames / 150);
  g_assert_cmpint(k.worst, <=,
                  std::max<GstClockTimeDiff>(2 * r.worst, r.worst + 250 * GST_MSECOND));
}

// The first frame at the sink: the API is not waited for, so no later than
// videotestsrc's beside it by more than this machine's own slowness.
void assert_first_frame_prompt(LiveRun& run) {
  std::lock_guard<std::mutex> lock(run.seen.mutex), ref_lock(run.reference.seen.mutex);
  const gint64 ours = run.seen.first_us - run.seen.started_us;
  const gint64 ref = run.reference.seen.first_us - run.reference.seen.started_us;
  g_test_message("first frame after PLAYING: klinglivesrc %" G_GINT64_FORMAT
                 " ms, videotestsrc %" G_GINT64_FORMAT " ms",
                 ours / 1000, ref / 1000);
  g_assert_cmpuint(run.reference.seen.frames, >, 0);
  g_assert_cmpint(ours, <=, 3 * ref + 500 * 1000);
}

void test_first_frame_against_hung_api() {
  auto emu = start_emulator({"--hang-submit"});
  auto run = play(*emu, "");
  g_assert_true(wait_for([&] { return run->n_frames() > 0; }, 10));
  g_assert_true(wait_for([&] { return run->reference.seen.count() > 0; }, 10));
  assert_first_frame_prompt(*run);
  // It keeps going at the output's rate while the submit hangs: the slate.
  g_assert_true(wait_for([&] { return run->n_frames() >= 45; }, 10));
  assert_continuous(*run);
  std::lock_guard<std::mutex> lock(run->mutex);
  for (const Frame& f : run->frames) g_assert_false(f.clip);
  g_assert_cmpuint(run->events.size(), >=, 1);
  g_assert_cmpstr(run->events[0].event.c_str(), ==, "slate");
  g_assert_cmpstr(run->events[0].prompt.c_str(), ==, "a red fox in snow");
  g_assert_true(run->errors.empty());
}

// slate, clip 1, clip 2 (generated during clip 1), clip 2 looped.
void test_slate_clip_clip_loop() {
  auto emu = start_emulator({});
  g_autofree char* dir = g_dir_make_tmp("kling-live-XXXXXX", nullptr);
  std::string playlist = std::string(dir) + "/prompts.txt";
  g_assert_true(
      g_file_set_contents(playlist.c_str(), "# two clips\na fox\n\na bear\n", -1, nullptr));
  auto run = play(*emu, "ahead=2 playlist=" + playlist, nullptr);
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 3; }, 30));
  g_usleep(500 * 1000);  // some of the loop
  run->stop();
  assert_continuous(*run);

  auto starts = run->of("clip-start");
  g_assert_cmpstr(starts[0].prompt.c_str(), ==, "a fox");
  g_assert_cmpstr(starts[1].prompt.c_str(), ==, "a bear");
  g_assert_cmpstr(starts[2].prompt.c_str(), ==, "a bear");  // the loop
  g_assert_false(starts[0].task_id.empty());
  g_assert_cmpstr(starts[0].task_id.c_str(), !=, starts[1].task_id.c_str());
  auto ends = run->of("clip-end");
  g_assert_cmpuint(ends.size(), >=, 2);
  const auto slates = run->of("slate");  // held: g_assert_cmpstr keeps the pointer
  g_assert_cmpstr(slates[0].prompt.c_str(), ==, "a fox");

  std::lock_guard<std::mutex> lock(run->mutex);
  // Frames before the first clip are the slate; from there on every frame is a
  // clip's: 5 s at 30 fps each, back to back, no slate between them.
  size_t i = 0;
  while (i < run->frames.size() && run->frames[i].pts < starts[0].running_time) {
    g_assert_false(run->frames[i].clip);
    i++;
  }
  g_assert_cmpuint(i, >, 0);
  g_assert_cmpuint(run->frames[i].pts, ==, starts[0].running_time);
  // Its 150 frames (5 s at 30 fps), more when its decoding fell behind on a busy machine (the
  // last frame repeats: clock.cpp asserts the order frame by frame), never fewer.
  g_assert_cmpuint((starts[1].running_time - starts[0].running_time + kPeriod / 2) / kPeriod, >=,
                   150);
  size_t clip_frames = 0;
  for (; i < run->frames.size(); i++) {
    g_assert_true(run->frames[i].clip);
    clip_frames++;
  }
  g_assert_cmpuint(clip_frames, >, 300);
  // Each generation was submitted once (its quote, a POST too, is no submit).
  std::string log = emu->log();
  int submits = 0;
  g_auto(GStrv) lines = g_strsplit(log.c_str(), "\n", -1);
  for (char** line = lines; *line; line++)
    submits += strstr(*line, "\"method\":\"POST\"") && !strstr(*line, "/api/v3/model/price");
  g_assert_cmpint(submits, ==, 2);
}

void test_failed_generation_keeps_streaming() {
  auto emu = start_emulator({"--fail-task", "1200:Content moderation flagged the prompt"});
  auto run = play(*emu, "");
  g_assert_true(wait_for(
      [&] {
        std::lock_guard<std::mutex> lock(run->mutex);
        return !run->warnings.empty();
      },
      20));
  size_t at_warning = run->n_frames();
  g_assert_true(wait_for([&] { return run->n_frames() >= at_warning + 30; }, 30));  // 1 s of stream
  run->stop();
  assert_continuous(*run);
  std::lock_guard<std::mutex> lock(run->mutex);
  g_assert_true(run->errors.empty());
  const std::string& w = run->warnings[0];
  g_assert_nonnull(strstr(w.c_str(), "Content moderation flagged the prompt"));
  g_assert_nonnull(strstr(w.c_str(), "task id: "));
  g_assert_null(strstr(w.c_str(), "task id: none"));
  for (const Frame& f : run->frames) g_assert_false(f.clip);
}

void test_request_queued_while_playing_plays_next() {
  auto emu = start_emulator({});
  auto run = play(*emu, "ahead=1 when-idle=loop", "first");
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 1; }, 20));
  gboolean queued = FALSE;
  g_signal_emit_by_name(run->src, "queue", "second", &queued);
  g_assert_true(queued);
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 2; }, 20));
  auto starts = run->of("clip-start");
  g_assert_cmpstr(starts[1].prompt.c_str(), ==, "second");
  // The first clip played whole (150 frames, more if its decoding fell behind), then the second.
  g_assert_cmpuint((starts[1].running_time - starts[0].running_time + kPeriod / 2) / kPeriod, >=,
                   150);
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    for (const Frame& f : run->frames)
      if (f.pts >= starts[0].running_time && f.pts < starts[1].running_time)
        g_assert_true(f.clip);  // no slate between them
  }
  // The prompt property while playing queues too.
  g_object_set(run->src, "prompt", "third", nullptr);
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 3; }, 20));
  const auto clip_starts = run->of("clip-start");  // held: g_assert_cmpstr keeps the pointer
  g_assert_cmpstr(clip_starts[2].prompt.c_str(), ==, "third");
  run->stop();
  assert_continuous(*run);
}

struct Sound {
  std::mutex mutex;
  std::vector<std::pair<GstClockTime, GstClockTime>> times;  // pts, duration
  std::vector<std::pair<GstClockTime, int>> peaks;           // pts, loudest sample
};

GstPadProbeReturn on_sound(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* sound = static_cast<Sound*>(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstMapInfo map;
  int peak = 0;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const gint16* s = reinterpret_cast<const gint16*>(map.data);
    for (gsize i = 0; i < map.size / 2; i++)
      peak = std::max(peak, std::abs(static_cast<int>(s[i])));
    gst_buffer_unmap(buffer, &map);
  }
  std::lock_guard<std::mutex> lock(sound->mutex);
  sound->times.emplace_back(GST_BUFFER_PTS(buffer), GST_BUFFER_DURATION(buffer));
  sound->peaks.emplace_back(GST_BUFFER_PTS(buffer), peak);
  return GST_PAD_PROBE_OK;
}

// A clip with sound (a 440 Hz tone) served by the emulator: silence on the audio
// pad while the slate shows, the tone once the clip is on air, timestamps running on.
void test_audio_pad_silence_then_the_clips_sound() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-av-XXXXXX", nullptr);
  std::string clip = std::string(dir) + "/av.mp4";
  std::string make =
      "videotestsrc pattern=ball num-buffers=75 ! video/x-raw,width=320,height=180,framerate=25/1 "
      "! x264enc speed-preset=ultrafast ! mp4mux name=m ! filesink location=" +
      clip +
      " audiotestsrc freq=440 volume=0.5 num-buffers=141 samplesperbuffer=1024 "
      "! audio/x-raw,rate=48000 ! avenc_aac ! m.";
  g_autoptr(GstElement) maker = gst_parse_launch(make.c_str(), nullptr);
  play_to_eos(maker);

  auto emu = start_emulator({"--video-file", clip}, 600);
  auto run = std::make_unique<LiveRun>();
  std::string desc =
      "klinglivesrc name=src ! video/x-raw,format=I420,width=320,height=180 ! fakesink sync=true "
      "src.audio ! audio/x-raw,rate=48000,channels=2 ! fakesink name=asink sync=true";
  run->pipeline = gst_parse_launch(desc.c_str(), nullptr);
  run->src = gst_bin_get_by_name(GST_BIN(run->pipeline), "src");
  g_object_set(run->src, "api-url", emu->api.c_str(), "api-key", kKey, "poll-interval", 50u,
               "journal", "", "prompt", "a tone", nullptr);
  Sound sound;
  g_autoptr(GstElement) asink = gst_bin_get_by_name(GST_BIN(run->pipeline), "asink");
  g_autoptr(GstPad) apad = gst_element_get_static_pad(asink, "sink");
  gst_pad_add_probe(apad, GST_PAD_PROBE_TYPE_BUFFER, on_sound, &sound, nullptr);
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  gst_bus_set_sync_handler(bus, LiveLog::on_message, static_cast<LiveLog*>(run.get()), nullptr);
  g_assert_cmpint(gst_element_set_state(run->pipeline, GST_STATE_PLAYING), !=,
                  GST_STATE_CHANGE_FAILURE);
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 1; }, 20));
  g_usleep(1500 * 1000);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);

  GstClockTime start = run->of("clip-start")[0].running_time;
  std::lock_guard<std::mutex> lock(sound.mutex);
  g_assert_cmpuint(sound.times.size(), >, 50);
  for (size_t i = 1; i < sound.times.size(); i++)
    g_assert_cmpuint(sound.times[i].first, ==,
                     sound.times[i - 1].first + sound.times[i - 1].second);
  int before = 0, after = 0;
  for (auto& [pts, peak] : sound.peaks) {
    if (pts + 40 * GST_MSECOND < start) before = std::max(before, peak);
    if (pts > start + 200 * GST_MSECOND) after = std::max(after, peak);
  }
  g_assert_cmpint(before, ==, 0);    // silence while the slate showed
  g_assert_cmpint(after, >, 10000);  // the tone (volume 0.5: about 16000)
}

// A 9:16 clip fills the middle of the 16:9 output, black borders either side; a line
// appended to the playlist while it plays is the next clip; kling/task messages reach the bus.
void test_portrait_pillarboxed_and_playlist_appended() {
  auto emu = start_emulator({});
  g_autofree char* dir = g_dir_make_tmp("kling-live-XXXXXX", nullptr);
  std::string playlist = std::string(dir) + "/prompts.txt";
  g_assert_true(g_file_set_contents(playlist.c_str(), "a tall fox\n", -1, nullptr));
  auto run = play(*emu, "aspect-ratio=9:16 when-idle=hold playlist=" + playlist, nullptr);
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 1; }, 20));
  g_assert_true(g_file_set_contents(playlist.c_str(), "a tall fox\na second fox\n", -1, nullptr));
  g_assert_true(wait_for([&] { return run->of("clip-start").size() >= 2; }, 20));
  run->stop();
  assert_continuous(*run);
  auto starts = run->of("clip-start");
  g_assert_cmpstr(starts[1].prompt.c_str(), ==, "a second fox");
  std::lock_guard<std::mutex> lock(run->mutex);
  g_assert_cmpint(run->task_messages, >, 0);
  int clip_frames = 0;
  for (const Frame& f : run->frames)
    if (f.clip) {
      clip_frames++;
      g_assert_cmpint(f.edge_luma, <=, 20);  // the border: black
    }
  g_assert_cmpint(clip_frames, >, 100);
}

// slate-location: the user's image (solid red here) replaces the card while the API hangs.
void test_slate_location_image_shown() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-slate-XXXXXX", nullptr);
  std::string png = std::string(dir) + "/slate.png";
  write_png(png, "red", 64, 36);
  auto emu = start_emulator({"--hang-submit"});
  auto run = play(*emu, "slate-location=" + png);
  g_assert_true(wait_for([&] { return run->n_frames() >= 60; }, 10));
  run->stop();
  assert_continuous(*run);
  std::lock_guard<std::mutex> lock(run->mutex);
  // Red is Y 81 in I420's range; the grey card's edge is Y 60.
  g_assert_cmpint(run->frames.back().edge_luma, >=, 75);
  g_assert_cmpint(run->frames.back().edge_luma, <=, 90);
  g_assert_false(run->frames.back().clip);
}

// The slate's threads are the element's: none outlives its stop (NULL). A 4K
// image still decoding when the pipeline stops is waited for, not left running.
void test_slate_threads_end_with_the_stop() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-slate-XXXXXX", nullptr);
  std::string png = std::string(dir) + "/big.png";
  write_png(png, "snow", 3840, 2160, "compression-level=1");
  auto emu = start_emulator({"--hang-submit"});
  auto run = play(*emu, "slate-location=" + png);
  g_assert_true(wait_for([&] { return run->n_frames() >= 1; }, 10));
  // The premise: the image is still being decoded (a 4K noise PNG takes a while).
  // (A thread just started names itself a moment later; a card may be drawing too.)
  g_assert_true(wait_for([] { return count_threads_named("kling-slate-img") >= 1; }, 5));
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  std::string names;
  if (count_threads_named("kling-slate-img", &names) + count_threads_named("kling-slate") != 0)
    g_error("a slate thread outlived klinglivesrc's stop; threads: %s", names.c_str());
  g_remove(png.c_str());
  g_rmdir(dir);
}

void test_no_key_is_an_error_at_start() {
  g_autoptr(GstElement) pipeline =
      gst_parse_launch("klinglivesrc name=src prompt=x ! fakesink", nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), ==, GST_STATE_CHANGE_FAILURE);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  g_assert_nonnull(msg);
  g_autoptr(GError) error = nullptr;
  gst_message_parse_error(msg, &error, nullptr);
  g_assert_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS);
  gst_message_unref(msg);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/first-frame-at-once-against-hung-api",
                  test_first_frame_against_hung_api);
  g_test_add_func("/klinglivesrc/slate-clip-clip-loop-continuous-back-to-back",
                  test_slate_clip_clip_loop);
  g_test_add_func("/klinglivesrc/failed-generation-warns-and-keeps-streaming",
                  test_failed_generation_keeps_streaming);
  g_test_add_func("/klinglivesrc/request-queued-while-playing-plays-next",
                  test_request_queued_while_playing_plays_next);
  g_test_add_func("/klinglivesrc/audio-pad-silence-then-the-clips-sound",
                  test_audio_pad_silence_then_the_clips_sound);
  g_test_add_func("/klinglivesrc/portrait-pillarboxed-and-playlist-appended",
                  test_portrait_pillarboxed_and_playlist_appended);
  g_test_add_func("/klinglivesrc/slate-location-image-shown", test_slate_location_image_shown);
  g_test_add_func("/klinglivesrc/slate-threads-end-with-the-stop",
                  test_slate_threads_end_with_the_stop);
  g_test_add_func("/klinglivesrc/no-key-is-an-error-at-start", test_no_key_is_an_error_at_start);
  return g_test_run();
}
