// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's disclosure (EU AI Act, Art. 50): the `disclosure` text is drawn on
// every frame of a generated clip and never on the slate, and each clip start sends
// a tag event downstream naming the content generated (kling-generated: the model
// and the task id; the text in GST_TAG_COMMENT), none while the slate shows.
// Against kling-emulator serving a black clip, with a red slate image: what the sink
// receives is told apart by the running times of the element's kling/live messages.
#include <gst/gst.h>
#include <gst/video/video.h>

#include <mutex>
#include <string>
#include <vector>

#include "disclosure_frames.h"
#include "support/emulator_process.h"

namespace {

constexpr const char* kModel = "kwaivgi/kling-v1.6-t2v-standard";
constexpr const char* kText = "AI-generated";

// What the sink got, in order: frames (their time and how many bright pixels the
// bottom-right quarter holds) and the kling-generated tag events.
struct Item {
  bool tag = false;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  int bright = 0;
  bool red = false;  // the slate image (top-left corner red), not the status card
  std::string generated, comment;
};

struct LiveEvent {
  std::string event, task_id;
  GstClockTime running_time;
};

struct Recording {
  std::mutex mutex;
  std::vector<Item> items;
  std::vector<LiveEvent> live;
};

GstPadProbeReturn on_sink(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* rec = static_cast<Recording*>(data);
  Item item;
  if (GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info); event && GST_IS_EVENT(event)) {
    if (!generated_tags(event, &item.generated, &item.comment)) return GST_PAD_PROBE_OK;
    item.tag = true;
  } else {
    GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    FrameMarks m = frame_marks(pad, buffer);
    item.bright = m.bright;
    item.red = m.red;
    item.pts = GST_BUFFER_PTS(buffer);
  }
  std::lock_guard<std::mutex> lock(rec->mutex);
  rec->items.push_back(item);
  return GST_PAD_PROBE_OK;
}

GstBusSyncReply on_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* rec = static_cast<Recording*>(data);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/live")) {
    const GstStructure* s = gst_message_get_structure(msg);
    LiveEvent e;
    e.event = gst_structure_get_string(s, "event");
    e.task_id = gst_structure_get_string(s, "task-id");
    gst_structure_get_uint64(s, "running-time", &e.running_time);
    std::lock_guard<std::mutex> lock(rec->mutex);
    rec->live.push_back(e);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* error = nullptr;
    gst_message_parse_error(msg, &error, nullptr);
    g_error("pipeline error: %s", error->message);
  }
  return GST_BUS_PASS;
}

// Two prompts, each a 1 s black clip, then the slate (when-idle=slate) for a second.
void record(const char* disclosure, Recording* rec) {
  DisclosureFixtures fx;
  auto emu = start_emulator({"--video-file", fx.clip});
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "klinglivesrc name=src when-idle=slate ! "
      "video/x-raw,format=I420,width=320,height=180,framerate=25/1 ! fakesink name=sink sync=true",
      nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu->api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", "model", kModel, "prompt", "a first black clip", "slate-location",
               fx.slate.c_str(), "disclosure", disclosure, nullptr);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_sink, rec, nullptr);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, on_bus, rec, nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  gboolean queued = FALSE;
  g_signal_emit_by_name(src, "queue", "a second black clip", &queued);
  g_assert_true(queued);
  // Until the second clip has ended and a second of slate has followed.
  for (gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;; g_usleep(50 * 1000)) {
    g_assert_cmpint(g_get_monotonic_time(), <, end);
    std::lock_guard<std::mutex> lock(rec->mutex);
    int ends = 0;
    GstClockTime last_end = 0;
    for (const auto& e : rec->live)
      if (e.event == "clip-end") ends++, last_end = e.running_time;
    if (ends < 2) continue;
    if (!rec->items.empty() && rec->items.back().pts > last_end + GST_SECOND) break;
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
}

// What is on air at `pts`: the last kling/live event at or before it.
std::string shown_at(const Recording& rec, GstClockTime pts) {
  std::string shown = "slate";
  GstClockTime best = 0;
  for (const auto& e : rec.live)
    if (e.event != "clip-end" && e.running_time <= pts && e.running_time >= best)
      shown = e.event, best = e.running_time;
  return shown;
}

struct Counts {
  int clip_frames = 0, clip_frames_with_text = 0, slate_image_frames = 0,
      slate_frames_with_text = 0;
};

Counts count(const Recording& rec) {
  Counts c;
  for (const auto& item : rec.items) {
    if (item.tag) continue;
    if (shown_at(rec, item.pts) == "clip-start") {
      c.clip_frames++;
      if (item.bright > 20) c.clip_frames_with_text++;
    } else if (item.red) {
      c.slate_image_frames++;
      if (item.bright > 0) c.slate_frames_with_text++;
    }
  }
  g_test_message("clip frames %d (with text %d), slate image frames %d (with text %d)",
                 c.clip_frames, c.clip_frames_with_text, c.slate_image_frames,
                 c.slate_frames_with_text);
  return c;
}

// With a disclosure, every clip frame carries bright text in its bottom-right quarter
// and no slate frame does; without one, the same clip frames carry none.
void test_text_on_clip_frames_only() {
  Recording with, without;
  record(kText, &with);
  record("", &without);
  Counts a = count(with), b = count(without);
  g_assert_cmpint(a.clip_frames, >=, 40);  // two clips of 25 frames, give or take a switch
  g_assert_cmpint(a.clip_frames_with_text, ==, a.clip_frames);
  g_assert_cmpint(a.slate_image_frames, >=, 20);
  g_assert_cmpint(a.slate_frames_with_text, ==, 0);
  g_assert_cmpint(b.clip_frames, >=, 40);
  g_assert_cmpint(b.clip_frames_with_text, ==, 0);
  g_assert_cmpint(b.slate_frames_with_text, ==, 0);
}

// Each clip start: one kling-generated tag event right before the clip's first frame,
// with the model and that clip's task id, and the disclosure as the comment; no tag
// event before a slate frame.
void test_tags_at_each_clip_start() {
  Recording rec;
  record(kText, &rec);
  std::vector<LiveEvent> starts;
  for (const auto& e : rec.live)
    if (e.event == "clip-start") starts.push_back(e);
  g_assert_cmpuint(starts.size(), ==, 2);
  size_t tags = 0;
  for (size_t i = 0; i < rec.items.size(); i++) {
    if (!rec.items[i].tag) continue;
    g_assert_cmpuint(i + 1, <, rec.items.size());
    const Item& next = rec.items[i + 1];
    g_assert_false(next.tag);
    g_assert_cmpuint(tags, <, starts.size());
    const LiveEvent& start = starts[tags];
    g_assert_cmpuint(next.pts, ==, start.running_time);  // the clip's first frame
    g_assert_false(start.task_id.empty());
    std::string want = std::string("model=") + kModel + ", task-id=" + start.task_id;
    g_assert_cmpstr(rec.items[i].generated.c_str(), ==, want.c_str());
    g_assert_cmpstr(rec.items[i].comment.c_str(), ==, kText);
    tags++;
  }
  g_assert_cmpuint(tags, ==, starts.size());
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/disclosure/text-on-clip-frames-only",
                  test_text_on_clip_frames_only);
  g_test_add_func("/klinglivesrc/disclosure/tags-at-each-clip-start", test_tags_at_each_clip_start);
  return g_test_run();
}
