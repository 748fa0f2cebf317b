// SPDX-License-Identifier: LGPL-2.1-or-later
#include "broadcast_story.h"

#include <json-glib/json-glib.h>

#include <cstring>

bool record(const Emulator& emu, const std::string& desc, int seconds,
            const std::function<void(GstElement*)>& setup) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu.api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", nullptr);
  if (setup) setup(pipeline);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, seconds * GST_SECOND, GST_MESSAGE_ERROR);
  g_assert_null(msg);
  gst_element_send_event(pipeline, gst_event_new_eos());
  msg = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND,
                                   GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  bool eos = msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
  if (msg) {
    g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return eos;
}

GstPadProbeReturn mark(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* m = static_cast<Marked*>(data);
  std::lock_guard<std::mutex> lock(m->mutex);
  if (GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info); event && GST_IS_EVENT(event)) {
    std::string generated, comment;
    // The encoder and the parser send the tags again with their own (bitrate...): one
    // entry per clip.
    if (generated_tags(event, &generated, &comment) &&
        (m->generated.empty() || m->generated.back() != generated)) {
      m->generated.push_back(generated);
      m->comments.push_back(comment);
    }
  } else {
    m->frames.push_back(frame_marks(pad, GST_PAD_PROBE_INFO_BUFFER(info)));
  }
  return GST_PAD_PROBE_OK;
}

void decoded_marks(const std::string& desc, Marked* into) {
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mark, into, nullptr);
  play_to_eos(pipeline);
}

void record_story(const std::string& dir, const std::string& tail, int seconds) {
  DisclosureFixtures fx;
  auto emu = start_emulator({"--video-file", fx.clip});
  const std::string playlist = dir + "/story.txt";
  g_assert_true(g_file_set_contents(playlist.c_str(), "a black fox\nthe fox turns\n", -1, nullptr));
  Marked sent;
  record(*emu,
         "klinglivesrc name=src continue=true when-idle=slate disclosure=AI-generated "
         "model=kwaivgi/kling-v1.6-t2v-standard slate-location=" +
             fx.slate + " playlist=" + playlist +
             " ! video/x-raw,width=320,height=180,framerate=30/1 ! videoconvert ! x264enc "
             "tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse name=parse ! " +
             tail,
         seconds, [&sent](GstElement* pipeline) {
           // What the muxer receives (its pad is requested only once the caps are known).
           g_autoptr(GstElement) parse = gst_bin_get_by_name(GST_BIN(pipeline), "parse");
           g_autoptr(GstPad) pad = gst_element_get_static_pad(parse, "src");
           gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, mark, &sent, nullptr);
         });
  g_assert_cmpuint(sent.generated.size(), ==, 2);
  g_assert_true(g_str_has_prefix(sent.generated[0].c_str(),
                                 "model=kwaivgi/kling-v1.6-t2v-standard, task-id="));
  g_assert_true(
      g_str_has_prefix(sent.generated[1].c_str(), "model=kwaivgi/kling-v2.1-i2v-master, task-id="));
  for (const auto& c : sent.comments) g_assert_cmpstr(c.c_str(), ==, "AI-generated");

  // The image the second submit sent, fetched back from the emulator's storage.
  std::string image;
  g_auto(GStrv) lines = g_strsplit(emu->log().c_str(), "\n", -1);
  for (char** line = lines; *line; line++) {
    if (!strstr(*line, "\"path\":\"/api/v3/kwaivgi/kling-v2.1-i2v-master\"")) continue;
    g_autoptr(JsonParser) entry = json_parser_new();
    g_assert_true(json_parser_load_from_data(entry, *line, -1, nullptr));
    const char* body =
        json_object_get_string_member(json_node_get_object(json_parser_get_root(entry)), "body");
    g_autoptr(JsonParser) submit = json_parser_new();
    g_assert_true(json_parser_load_from_data(submit, body, -1, nullptr));
    image =
        json_object_get_string_member(json_node_get_object(json_parser_get_root(submit)), "image");
  }
  g_assert_true(g_str_has_prefix(image.c_str(), "http://127.0.0.1:"));
  Marked png;
  decoded_marks("souphttpsrc location=" + image +
                    " ! pngdec ! videoconvert ! video/x-raw,format=I420 ! fakesink name=sink",
                &png);
  g_assert_cmpuint(png.frames.size(), ==, 1);
  g_assert_true(png.frames[0].black);
  g_assert_cmpint(png.frames[0].bright, ==, 0);
}

void assert_text_on_clip_frames_only(const Marked& seen) {
  int clip = 0, clip_text = 0, slate = 0, slate_text = 0;
  for (const auto& f : seen.frames) {
    if (f.black) clip++, clip_text += f.bright > 20;
    if (f.red) slate++, slate_text += f.bright > 0;
  }
  g_test_message("recording: %zu frames, clip %d (with text %d), slate %d (with text %d)",
                 seen.frames.size(), clip, clip_text, slate, slate_text);
  g_assert_cmpint(clip, >=, 50);  // two clips of 1 s at 30 fps, give or take a switch
  g_assert_cmpint(clip_text, ==, clip);
  g_assert_cmpint(slate, >=, 15);
  g_assert_cmpint(slate_text, ==, 0);
}
