// SPDX-License-Identifier: LGPL-2.1-or-later
// What klinglivesrc does with time, on a GstTestClock the test drives
// (GstHarness): each buffer waits for its own timestamp on the clock, one
// buffer per period, continuous timestamps, one frame of latency answered, the
// slate while the API hangs, a clip's frames in order with switches at frame
// boundaries, the audio pad's sample-exact timestamps. Nothing here depends on
// how busy the machine is: the clock only moves when the test cranks it.
#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clips.h"
#include "live_log.h"
#include "support/emulator_process.h"

namespace {

constexpr const char* kKey = "emulator-key";
constexpr int kFps = 30;
constexpr const char* kVideoCaps = "video/x-raw,format=I420,width=320,height=180,framerate=30/1";

GstClockTime frame_pts(guint64 n) {
  return gst_util_uint64_scale(n, GST_SECOND, kFps);
}

// klinglivesrc in a harness on its `video` pad (and `audio`, when asked), on a test clock.
// A video buffer as it left the element; read in its streaming thread (a pad probe) and
// handed to the test under a std::mutex: TSan cannot see GLib's own hand-over (GAsyncQueue).
struct Seen {
  GstClockTime pts, duration;
  guint64 offset;
  bool discont;
  int index;  // the indexed clip's frame number, -1 for anything else (the slate)
  int y_mean, u_mean;
};

Seen look(GstBuffer* buffer) {
  GstVideoInfo info;
  g_autoptr(GstCaps) caps = gst_caps_from_string(kVideoCaps);
  g_assert_true(gst_video_info_from_caps(&info, caps));
  GstVideoFrame vf;
  g_assert_true(gst_video_frame_map(&vf, &info, buffer, GST_MAP_READ));
  auto mean = [&](int plane) {
    const auto* p = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, plane));
    const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, plane);
    const int w = GST_VIDEO_FRAME_COMP_WIDTH(&vf, plane),
              h = GST_VIDEO_FRAME_COMP_HEIGHT(&vf, plane);
    guint64 sum = 0, n = 0;
    for (int y = h / 4; y < h * 3 / 4; y++)
      for (int x = w / 4; x < w * 3 / 4; x++, n++) sum += p[y * stride + x];
    return static_cast<int>(sum / n);
  };
  Seen s{GST_BUFFER_PTS(buffer),
         GST_BUFFER_DURATION(buffer),
         GST_BUFFER_OFFSET(buffer),
         GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT),
         -1,
         mean(0),
         mean(1)};
  s.index = frame_index(static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 0)),
                        GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0), GST_VIDEO_FRAME_WIDTH(&vf),
                        GST_VIDEO_FRAME_HEIGHT(&vf), s.u_mean);
  gst_video_frame_unmap(&vf);
  return s;
}

// An audio buffer as it left the element (as Seen), with the times its beeps start.
struct Heard {
  GstClockTime pts, duration;
  guint64 offset, offset_end;
  gsize size;
  bool discont, silent;
  std::vector<GstClockTime> onsets;  // a sample of 3000 or more after 200 ms under it
};

struct Live : LiveLog {
  GstHarness* h = nullptr;
  GstHarness* audio = nullptr;
  GstTestClock* clock = nullptr;
  std::deque<Seen> seen;    // under LiveLog::mutex
  std::deque<Heard> heard;  // under LiveLog::mutex
  gint rate = 0, channels = 0;
  GstClockTime loud_at = 0;  // the audio streaming thread's

  template <typename T>
  std::vector<T> take(std::deque<T>& from) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<T> out(from.begin(), from.end());
    from.clear();
    return out;
  }

  ~Live() {
    if (clock) gst_object_unref(clock);
    if (h) gst_harness_teardown(h);
    if (audio) gst_harness_teardown(audio);
  }
};

GstPadProbeReturn on_video(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* live = static_cast<Live*>(data);
  Seen s = look(GST_PAD_PROBE_INFO_BUFFER(info));
  std::lock_guard<std::mutex> lock(live->mutex);
  live->seen.push_back(s);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn on_audio(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* live = static_cast<Live*>(data);
  GstBuffer* b = GST_PAD_PROBE_INFO_BUFFER(info);
  Heard h{GST_BUFFER_PTS(b),
          GST_BUFFER_DURATION(b),
          GST_BUFFER_OFFSET(b),
          GST_BUFFER_OFFSET_END(b),
          gst_buffer_get_size(b),
          GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DISCONT),
          true,
          {}};
  GstMapInfo map;
  g_assert_true(gst_buffer_map(b, &map, GST_MAP_READ));
  const auto* pcm = reinterpret_cast<const gint16*>(map.data);
  for (gsize k = 0; k < map.size / 2; k += live->channels) {
    if (pcm[k] != 0) h.silent = false;
    if (std::abs(pcm[k]) < 3000) continue;
    GstClockTime t = h.pts + gst_util_uint64_scale(k / live->channels, GST_SECOND, live->rate);
    if (t >= live->loud_at + 200 * GST_MSECOND) h.onsets.push_back(t);
    live->loud_at = t;
  }
  gst_buffer_unmap(b, &map);
  std::lock_guard<std::mutex> lock(live->mutex);
  live->heard.push_back(std::move(h));
  return GST_PAD_PROBE_OK;
}

// Read, then dropped: nobody pops the harness's bus.
GstBusSyncReply record(GstBus* bus, GstMessage* msg, gpointer data) {
  LiveLog::on_message(bus, msg, data);
  gst_message_unref(msg);
  return GST_BUS_DROP;
}

// `props` ("name=value ...") set before PLAYING; with `audio_caps` the audio pad too.
std::unique_ptr<Live> start_live(const Emulator& emu, const char* props,
                                 const char* audio_caps = nullptr) {
  auto live = std::make_unique<Live>();
  live->h = gst_harness_new_with_padnames("klinglivesrc", nullptr, "video");
  GstElement* src = live->h->element;
  g_object_set(src, "api-url", emu.api.c_str(), "api-key", kKey, "poll-interval", 50u, "journal",
               "", nullptr);
  gst_util_set_object_arg(G_OBJECT(src), "when-idle", "slate");
  if (props) {
    g_auto(GStrv) pairs = g_strsplit(props, " ", -1);
    for (char** p = pairs; *p; p++) {
      g_auto(GStrv) kv = g_strsplit(*p, "=", 2);
      if (kv[0] && kv[1]) gst_util_set_object_arg(G_OBJECT(src), kv[0], kv[1]);
    }
  }
  gst_harness_set_sink_caps_str(live->h, kVideoCaps);
  g_autoptr(GstPad) video = gst_element_get_static_pad(src, "video");
  gst_pad_add_probe(video, GST_PAD_PROBE_TYPE_BUFFER, on_video, live.get(), nullptr);
  if (audio_caps) {
    live->audio = gst_harness_new_with_element(src, nullptr, nullptr);
    GstPad* pad = gst_element_request_pad_simple(src, "audio");
    g_assert_nonnull(pad);
    g_autoptr(GstCaps) caps = gst_caps_from_string(audio_caps);
    GstStructure* st = gst_caps_get_structure(caps, 0);
    g_assert_true(gst_structure_get_int(st, "rate", &live->rate));
    g_assert_true(gst_structure_get_int(st, "channels", &live->channels));
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_audio, live.get(), nullptr);
    gst_harness_add_element_src_pad(live->audio, pad);
    gst_object_unref(pad);
    gst_harness_set_sink_caps_str(live->audio, audio_caps);
  }
  g_autoptr(GstBus) bus = gst_bus_new();
  gst_bus_set_sync_handler(bus, record, static_cast<LiveLog*>(live.get()), nullptr);
  gst_element_set_bus(src, bus);
  gst_harness_use_testclock(live->h);
  live->clock = gst_harness_get_testclock(live->h);
  gst_harness_play(live->h);
  return live;
}

// The next wait is for running time `rt`: the buffer due then is not pushed before.
void assert_waits_for(Live& live, GstClockTime rt) {
  g_assert_true(gst_harness_wait_for_clock_id_waits(live.h, 1, 30));
  GstClockID id = nullptr;
  g_assert_true(gst_test_clock_peek_next_pending_id(live.clock, &id));
  g_assert_cmpuint(gst_clock_id_get_time(id), ==, gst_element_get_base_time(live.h->element) + rt);
  gst_clock_id_unref(id);
}

// Frame `n`: the output waits for its pts, the test cranks the clock there, one buffer
// comes. Frame 0 is due at PLAYING: it comes at once.
Seen crank_frame(Live& live, guint64 n) {
  if (n > 0) {
    assert_waits_for(live, frame_pts(n));
    g_assert_cmpuint(gst_harness_buffers_in_queue(live.h), ==, 0);  // nothing before its time
    g_assert_true(gst_harness_crank_single_clock_wait(live.h));
  }
  GstBuffer* buffer = gst_harness_pull(live.h);
  g_assert_nonnull(buffer);
  gst_buffer_unref(buffer);
  auto seen = live.take(live.seen);
  g_assert_cmpuint(seen.size(), ==, 1);
  Seen s = seen[0];
  g_assert_cmpuint(s.pts, ==, frame_pts(n));
  g_assert_cmpuint(s.duration, ==, frame_pts(n + 1) - frame_pts(n));
  g_assert_cmpuint(s.offset, ==, n);
  g_assert_cmpint(s.discont, ==, n == 0);
  return s;
}

void test_slate_paced_by_the_clock_while_api_hangs() {
  auto emu = start_emulator({"--hang-submit"});
  auto live = start_live(*emu, "prompt=fox");
  for (guint64 n = 0; n < 90; n++) {
    Seen s = crank_frame(*live, n);
    g_assert_cmpint(s.index, ==, -1);  // the slate, never a stall
    if (n == 0)                        // one frame of latency, answered once the caps are known
      g_assert_cmpuint(gst_harness_query_latency(live->h), ==, frame_pts(1));
  }
  auto slates = live->of("slate");
  g_assert_cmpuint(slates.size(), ==, 1);
  g_assert_cmpuint(slates[0].running_time, ==, 0);
  g_assert_cmpstr(slates[0].prompt.c_str(), ==, "fox");
  g_assert_true(live->warnings.empty());
}

void test_clip_frames_in_order_switching_at_frame_boundaries() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-clock-XXXXXX", nullptr);
  const std::string clip = std::string(dir) + "/indexed.mp4";
  constexpr int kFrames = 45;
  make_clip(clip, indexed_clip(kFrames));
  const std::string playlist = std::string(dir) + "/prompts.txt";
  g_assert_true(g_file_set_contents(playlist.c_str(), "a fox\na bear\n", -1, nullptr));
  auto emu = start_emulator({"--video-file", clip});
  std::string props = "ahead=2 playlist=" + playlist;
  auto live = start_live(*emu, props.c_str());

  std::vector<Seen> frames;
  const gint64 give_up = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  // Until the second clip has played and the slate is back (when-idle=slate). An event
  // is posted as its frame is made: before it is pushed.
  auto done = [&] {
    auto starts = live->of("clip-start");
    if (starts.size() < 2 || frames.empty()) return false;
    for (const LiveEvent& e : live->of("slate"))
      if (e.running_time > starts[1].running_time && frames.back().pts >= e.running_time)
        return true;
    return false;
  };
  while (!done()) {
    g_assert_cmpint(g_get_monotonic_time(), <, give_up);
    frames.push_back(crank_frame(*live, frames.size()));
    // The slate's frames cost the test nothing to crank: let real time pass for the generation.
    if (frames.back().index == -1) g_usleep(5000);
  }
  size_t clip_frames = 0, repeated = 0;
  for (size_t i = 1; i < frames.size(); i++) {
    clip_frames += frames[i].index != -1;
    repeated += frames[i].index != -1 && frames[i].index == frames[i - 1].index;
  }
  g_test_message("%zu frames cranked, %zu of a clip, %zu repeated (decoding behind)", frames.size(),
                 clip_frames, repeated);
  auto starts = live->of("clip-start");
  g_assert_cmpstr(starts[0].prompt.c_str(), ==, "a fox");
  g_assert_cmpstr(starts[1].prompt.c_str(), ==, "a bear");
  for (size_t c = 0; c < 2; c++) {
    // The clip starts on a frame boundary with its first frame, then plays every frame
    // in order (one repeated while its decoding is behind), to its last.
    const GstClockTime at = starts[c].running_time;
    size_t i = 0;
    while (i < frames.size() && frames[i].pts < at) i++;
    g_assert_cmpuint(i, <, frames.size());
    g_assert_cmpuint(frames[i].pts, ==, at);
    g_assert_cmpint(frames[i].index, ==, 0);
    if (c == 0) {
      for (size_t k = 0; k < i; k++) g_assert_cmpint(frames[k].index, ==, -1);
    }
    int last = 0;
    for (i++; i < frames.size() && frames[i].index != -1 && frames[i].index >= last; i++) {
      g_assert_cmpint(frames[i].index - last, <=, 1);
      last = frames[i].index;
    }
    g_assert_cmpint(last, ==, kFrames - 1);
    // Then the slate, or the next clip from its first frame (asserted on its turn).
    if (i < frames.size() && frames[i].index != -1) {
      g_assert_cmpuint(c, ==, 0);
      g_assert_cmpuint(frames[i].pts, ==, starts[1].running_time);
    }
  }
  g_assert_true(live->warnings.empty());
  g_remove(playlist.c_str());
  g_remove(clip.c_str());
  g_rmdir(dir);
}

// 44.1 kHz: 882 samples a buffer, each timestamp the sample count's own time
// (no rounding carried from buffer to buffer), waiting on the clock like the video.
void test_audio_pad_sample_exact_timestamps() {
  auto emu = start_emulator({"--hang-submit"});
  auto live = start_live(*emu, "prompt=tone",
                         "audio/x-raw,format=S16LE,layout=interleaved,rate=44100,channels=1");
  // Both outputs made their first buffer at running time 0 (the clock has not moved) and
  // wait for their second.
  g_assert_true(gst_harness_wait_for_clock_id_waits(live->h, 2, 30));
  guint64 samples = 0;
  size_t video = 0;
  while (samples < 44100 * 3) {
    g_assert_true(gst_harness_crank_single_clock_wait(live->h));
    while (GstBuffer* b = gst_harness_try_pull(live->h)) gst_buffer_unref(b);
    while (GstBuffer* b = gst_harness_try_pull(live->audio)) gst_buffer_unref(b);
    for (const Seen& v : live->take(live->seen)) g_assert_cmpuint(v.pts, ==, frame_pts(video++));
    for (const Heard& a : live->take(live->heard)) {
      g_assert_cmpuint(a.offset, ==, samples);
      g_assert_cmpuint(a.offset_end, ==, samples + 882);
      g_assert_cmpuint(a.pts, ==, gst_util_uint64_scale(samples, GST_SECOND, 44100));
      g_assert_cmpuint(a.duration, ==,
                       gst_util_uint64_scale(samples + 882, GST_SECOND, 44100) - a.pts);
      g_assert_cmpuint(a.size, ==, 882 * 2);
      g_assert_cmpint(a.discont, ==, samples == 0);
      g_assert_true(a.silent);
      samples += 882;
    }
  }
  // The clock moved only as far as the test cranked it: no buffer ran ahead of it.
  GstClockTime now = gst_clock_get_time(GST_CLOCK(live->clock));
  g_assert_cmpuint(gst_util_uint64_scale(samples - 882, GST_SECOND, 44100), <=, now);
  g_assert_cmpuint(frame_pts(video - 1), <=, now);
  g_assert_cmpuint(gst_harness_query_latency(live->audio), ==, 20 * GST_MSECOND);
}

// A video decoder that stalls on purpose: avdec_h264 in a bin, ranked just above it
// so the clip pipelines' decodebin picks it, sleeping `stall_ms` every `stall_every`
// frames it decodes.
std::atomic<int> stall_every{0}, stall_ms{0}, decoded{0};

struct StallDec {
  GstBin parent;
};
struct StallDecClass {
  GstBinClass parent_class;
};
G_DEFINE_TYPE(StallDec, stall_dec, GST_TYPE_BIN)

GstPadProbeReturn on_decoded(GstPad*, GstPadProbeInfo*, gpointer) {
  const int every = stall_every.load();
  if (every > 0 && ++decoded % every == 0) g_usleep(stall_ms.load() * 1000);
  return GST_PAD_PROBE_OK;
}

void stall_dec_init(StallDec* self) {
  GstElement* dec = gst_element_factory_make("avdec_h264", nullptr);
  g_assert_nonnull(dec);
  gst_bin_add(GST_BIN(self), dec);
  for (const char* name : {"sink", "src"}) {
    g_autoptr(GstPad) target = gst_element_get_static_pad(dec, name);
    GstPadTemplate* templ = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(self), name);
    gst_element_add_pad(GST_ELEMENT(self), gst_ghost_pad_new_from_template(name, target, templ));
    if (!strcmp(name, "src"))
      gst_pad_add_probe(target, GST_PAD_PROBE_TYPE_BUFFER, on_decoded, nullptr, nullptr);
  }
}

void stall_dec_class_init(StallDecClass* klass) {
  auto* element_class = GST_ELEMENT_CLASS(klass);
  g_autoptr(GstElementFactory) avdec = gst_element_factory_find("avdec_h264");
  g_assert_nonnull(avdec);
  for (const GList* l = gst_element_factory_get_static_pad_templates(avdec); l; l = l->next)
    gst_element_class_add_pad_template(
        element_class, gst_static_pad_template_get(static_cast<GstStaticPadTemplate*>(l->data)));
  gst_element_class_set_static_metadata(element_class, "Stalling H.264 decoder",
                                        "Codec/Decoder/Video", "avdec_h264, stalled on purpose",
                                        "gst-kling tests");
}

// A 3 s clip, a white frame and a 20 ms beep at every whole second, its AAC track 0.3 s
// longer than the video, looping (when-idle=loop), its decoder stalling on purpose
// (the picture then holds its last frame): each beep is heard within 45 ms before and
// 125 ms after its flash is seen (ITU-R BT.1359's thresholds of detectability), loop
// after loop, on the running times the element gives both pads.
void test_sound_in_step_with_the_picture_across_loops() {
  g_assert_true(gst_element_register(nullptr, "klingteststalldec", GST_RANK_PRIMARY + 1,
                                     stall_dec_get_type()));
  g_autofree char* dir = g_dir_make_tmp("kling-live-av-XXXXXX", nullptr);
  const std::string clip = std::string(dir) + "/beeps.mp4";
  ClipSpec spec;
  spec.frames = 90;
  spec.colour = [](int i) { return i % kFps == 0 ? Yuv{235, 128, 128} : Yuv{40, 128, 128}; };
  spec.audio_samples = 48000 * 33 / 10;
  spec.sound = [](guint64 s) {
    if (s % 48000 >= 960) return gint16(0);
    return static_cast<gint16>(12000 * std::sin(2 * G_PI * 1000.0 * (s % 48000) / 48000.0));
  };
  make_clip(clip, spec);
  auto emu = start_emulator({"--video-file", clip});
  auto live = start_live(*emu, "prompt=beep when-idle=loop ahead=1",
                         "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2");
  stall_every = 37;  // 150 ms of real time: with the test cranking, seconds of running time
  stall_ms = 150;

  std::vector<GstClockTime> flashes, beeps;
  bool was_white = false;
  GstClockTime audio_end = 0, video_end = 0;
  const gint64 give_up = g_get_monotonic_time() + 100 * G_USEC_PER_SEC;
  while (live->of("clip-start").size() < 5) {  // the clip, then four loops
    g_assert_cmpint(g_get_monotonic_time(), <, give_up);
    // Both outputs wait for their next buffer, the earlier is released: as a real clock does.
    g_assert_true(gst_harness_wait_for_clock_id_waits(live->h, 2, 30));
    g_assert_true(gst_harness_crank_single_clock_wait(live->h));
    while (GstBuffer* b = gst_harness_try_pull(live->h)) gst_buffer_unref(b);
    while (GstBuffer* b = gst_harness_try_pull(live->audio)) gst_buffer_unref(b);
    for (const Seen& s : live->take(live->seen)) {
      const bool white = s.y_mean > 150;
      if (white && !was_white) flashes.push_back(s.pts);
      was_white = white;
      video_end = s.pts + s.duration;
    }
    for (const Heard& a : live->take(live->heard)) {
      beeps.insert(beeps.end(), a.onsets.begin(), a.onsets.end());
      audio_end = a.pts + a.duration;
    }
    g_usleep(live->of("clip-start").empty() ? 5000 : 1000);
  }
  stall_every = 0;
  g_test_message("%zu flashes, %zu beeps, %d frames decoded (stalled every 37th)", flashes.size(),
                 beeps.size(), decoded.load());
  // Every flash seen while the sound was recorded has its beep, and every beep its flash.
  const GstClockTime end = std::min(audio_end, video_end) - 200 * GST_MSECOND;
  auto nearest = [](const std::vector<GstClockTime>& in, GstClockTime t) {
    GstClockTimeDiff best = G_MAXINT64;
    for (GstClockTime x : in)
      if (std::llabs(GST_CLOCK_DIFF(t, x)) < std::llabs(best)) best = GST_CLOCK_DIFF(t, x);
    return best;
  };
  size_t measured = 0;
  for (GstClockTime f : flashes) {
    if (f > end) continue;
    GstClockTimeDiff offset = nearest(beeps, f);  // beep - flash
    g_test_message("flash at %" GST_TIME_FORMAT ": beep %+" G_GINT64_FORMAT " ms", GST_TIME_ARGS(f),
                   offset / static_cast<GstClockTimeDiff>(GST_MSECOND));
    g_assert_cmpint(offset, >=, -45 * GST_MSECOND);
    g_assert_cmpint(offset, <=, 125 * GST_MSECOND);
    measured++;
  }
  for (GstClockTime b : beeps) {
    if (b > end) continue;
    GstClockTimeDiff offset = -nearest(flashes, b);
    g_assert_cmpint(offset, >=, -45 * GST_MSECOND);
    g_assert_cmpint(offset, <=, 125 * GST_MSECOND);
  }
  g_assert_cmpuint(measured, >=, 12);  // three a loop, four loops at least
  g_remove(clip.c_str());
  g_rmdir(dir);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/clock/slate-paced-by-the-clock-while-api-hangs",
                  test_slate_paced_by_the_clock_while_api_hangs);
  g_test_add_func("/klinglivesrc/clock/clip-frames-in-order-switching-at-frame-boundaries",
                  test_clip_frames_in_order_switching_at_frame_boundaries);
  g_test_add_func("/klinglivesrc/clock/audio-pad-sample-exact-timestamps",
                  test_audio_pad_sample_exact_timestamps);
  g_test_add_func("/klinglivesrc/clock/sound-in-step-with-the-picture-across-loops",
                  test_sound_in_step_with_the_picture_across_loops);
  return g_test_run();
}
