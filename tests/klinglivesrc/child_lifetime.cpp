// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's children (the video output, the audio pad's source) share what they
// use with the element instead of pointing into its private data: a child an
// application still holds after the element is gone keeps working (slate frames,
// silence) rather than reading freed memory.
#include <gst/gst.h>

#include <atomic>

namespace {

GstPadProbeReturn count(GstPad*, GstPadProbeInfo*, gpointer data) {
  static_cast<std::atomic<int>*>(data)->fetch_add(1);
  return GST_PAD_PROBE_OK;
}

// `child` in a pipeline of its own into a synchronising fakesink: buffers arrive.
void plays_alone(GstElement* child, const char* caps) {
  GstElement* pipeline = gst_pipeline_new(nullptr);
  GstElement* filter = gst_element_factory_make("capsfilter", nullptr);
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_autoptr(GstCaps) c = gst_caps_from_string(caps);
  g_object_set(filter, "caps", c, nullptr);
  g_object_set(sink, "sync", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), child, filter, sink, nullptr);
  g_assert_true(gst_element_link_many(child, filter, sink, nullptr));
  std::atomic<int> buffers{0};
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count, &buffers, nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  for (int i = 0; i < 250 && buffers.load() < 10; i++) g_usleep(20 * 1000);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  g_assert_cmpint(buffers.load(), >=, 10);
}

void test_children_outlive_the_element() {
  GstElement* live = gst_element_factory_make("klinglivesrc", nullptr);
  g_assert_nonnull(live);
  gst_object_ref_sink(live);
  g_object_set(live, "api-key", "test-key", "api-url", "http://127.0.0.1:9", "journal", "",
               nullptr);
  GstPad* audio_pad = gst_element_request_pad_simple(live, "audio");
  g_assert_nonnull(audio_pad);
  gst_object_unref(audio_pad);
  GstElement* output = gst_bin_get_by_name(GST_BIN(live), "output");
  GstElement* audio = gst_bin_get_by_name(GST_BIN(live), "audio-output");
  g_assert_nonnull(output);
  g_assert_nonnull(audio);
  gpointer gone = live;
  g_object_add_weak_pointer(G_OBJECT(live), &gone);
  gst_object_unref(live);
  g_assert_null(gone);  // finalised, its private data freed

  // No parent any more: each plays in a pipeline of its own.
  plays_alone(output, "video/x-raw,format=I420,width=64,height=36,framerate=30/1");
  plays_alone(audio, "audio/x-raw,rate=48000,channels=2");
  gst_object_unref(output);
  gst_object_unref(audio);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/child-lifetime/children-outlive-the-element",
                  test_children_outlive_the_element);
  return g_test_run();
}
