// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/pipeline_run.h"

#include <atomic>
#include <cstring>

Run::~Run() {
  if (pipeline) {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(pipeline);
  }
  g_clear_error(&error);
  if (tags) gst_tag_list_unref(tags);
}

namespace {

GstBusSyncReply record_message(GstBus*, GstMessage* msg, gpointer data) {
  Run* run = static_cast<Run*>(data);
  std::lock_guard<std::mutex> lock(run->mutex);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_PROGRESS) {
    GstProgressType type;
    gchar *code = nullptr, *text = nullptr;
    gst_message_parse_progress(msg, &type, &code, &text);
    run->progress.push_back({type, code, text});
    if (type == GST_PROGRESS_TYPE_COMPLETE && g_str_equal(code, "poll"))
      run->saw_progress_complete = true;
    g_free(code);
    g_free(text);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_TAG &&
             GST_MESSAGE_SRC(msg) == GST_OBJECT(run->src)) {
    if (run->tags) gst_tag_list_unref(run->tags);
    gst_message_parse_tag(msg, &run->tags);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT &&
             gst_message_has_name(msg, "kling/task")) {
    const GstStructure* s = gst_message_get_structure(msg);
    g_autofree char* text = gst_structure_to_string(s);
    run->task_messages.push_back(text);
    run->last_task_status = gst_structure_get_string(s, "status");
    const GValue* outputs = gst_structure_get_value(s, "outputs");
    if (outputs && gst_value_array_get_size(outputs) > 0)
      run->last_task_output = g_value_get_string(gst_value_array_get_value(outputs, 0));
  }
  return GST_BUS_PASS;
}

void on_handoff(GstElement*, GstBuffer* buffer, GstPad*, gpointer data) {
  Run* run = static_cast<Run*>(data);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_READ);
  std::lock_guard<std::mutex> lock(run->mutex);
  run->bytes.append(reinterpret_cast<const char*>(map.data), map.size);
  run->buffers++;
  if (!run->saw_progress_complete) run->buffer_before_complete = true;
  gst_buffer_unmap(buffer, &map);
}

}  // namespace

std::unique_ptr<Run> parse_run(const std::string& desc) {
  auto run = std::make_unique<Run>();
  g_autoptr(GError) error = nullptr;
  run->pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  run->src = gst_bin_get_by_name(GST_BIN(run->pipeline), "src");
  g_assert_nonnull(run->src);
  if (GstElement* sink = gst_bin_get_by_name(GST_BIN(run->pipeline), "sink")) {
    g_object_set(sink, "signal-handoffs", TRUE, "sync", FALSE, nullptr);
    g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), run.get());
    gst_object_unref(sink);
  }
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  gst_bus_set_sync_handler(bus, record_message, run.get(), nullptr);
  return run;
}

void play_to_eos(GstElement* pipeline, unsigned timeout_s) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage* m =
      gst_bus_timed_pop_filtered(bus, timeout_s * GST_SECOND,
                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(m);
  g_assert_cmpint(GST_MESSAGE_TYPE(m), ==, GST_MESSAGE_EOS);
  gst_message_unref(m);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

void run_to_eos(const std::string& desc, unsigned timeout_s) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  play_to_eos(pipeline, timeout_s);
}

void write_png(const std::string& path, const char* pattern, int width, int height,
               const char* pngenc_options) {
  g_autofree char* desc = g_strdup_printf(
      "videotestsrc pattern=%s num-buffers=1 ! video/x-raw,width=%d,height=%d ! pngenc %s ! "
      "filesink location=%s",
      pattern, width, height, pngenc_options, path.c_str());
  run_to_eos(desc);
}

// Plays until EOS or an error, at most `timeout_s`.
bool title_reaches_sink(Run& run, const std::string& title, unsigned timeout_s) {
  struct Watch {
    std::string title;
    std::atomic<bool> seen{false};
  } watch{title};
  GstElement* sink = gst_bin_get_by_name(GST_BIN(run.pipeline), "sink");
  g_assert_nonnull(sink);
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gulong probe = gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* w = static_cast<Watch*>(data);
        GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
        GstTagList* tags = nullptr;
        gchar* t = nullptr;
        if (GST_EVENT_TYPE(event) == GST_EVENT_TAG && (gst_event_parse_tag(event, &tags), true) &&
            gst_tag_list_get_string(tags, GST_TAG_TITLE, &t) && w->title == t)
          w->seen = true;
        g_free(t);
        return GST_PAD_PROBE_OK;
      },
      &watch, nullptr);
  play_to_end(run, timeout_s);
  gst_pad_remove_probe(pad, probe);
  gst_object_unref(pad);
  gst_object_unref(sink);
  return watch.seen;
}

void play_to_end(Run& run, unsigned timeout_s) {
  gst_element_set_state(run.pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(run.pipeline);
  GstMessage* msg =
      gst_bus_timed_pop_filtered(bus, timeout_s * GST_SECOND,
                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);  // else: the pipeline hung
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &run.error, &debug);
    run.debug = debug ? debug : "";
    g_free(debug);
  } else {
    run.eos = true;
  }
  gst_message_unref(msg);
}

void unset_kling_environment() {
  for (const char* name :
       {"WAVESPEED_API_KEY", "WAVESPEED_BASE_URL", "KLING_MAX_COST", "KLING_DAILY_BUDGET"})
    g_unsetenv(name);
}

std::string random_bytes(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 4) {
    guint32 r = g_random_int();
    memcpy(&out[i], &r, MIN(4, size - i));
  }
  return out;
}

void assert_error(Run& run, GQuark domain, int code, const char* in_message) {
  g_assert_false(run.eos);
  g_assert_nonnull(run.error);
  if (!g_error_matches(run.error, domain, code))
    g_error("expected %s/%d, got %s/%d: %s (%s)", g_quark_to_string(domain), code,
            g_quark_to_string(run.error->domain), run.error->code, run.error->message,
            run.debug.c_str());
  if (in_message && !strstr(run.error->message, in_message))
    g_error("'%s' not in error message '%s'", in_message, run.error->message);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool progress_says(Run& run, const char* words) {
  std::lock_guard<std::mutex> lock(run.mutex);
  for (const auto& p : run.progress)
    if (contains(p.text, words)) return true;
  return false;
}
