// SPDX-License-Identifier: LGPL-2.1-or-later
// Tags: the title is the prompt and the encoder the model, and they reach the
// sink behind a demuxer in pull mode and in push mode.
#include <gst/gst.h>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_tags(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_nonnull(run->tags);
  gchar* title = nullptr;
  gchar* encoder = nullptr;
  g_assert_true(gst_tag_list_get_string(run->tags, GST_TAG_TITLE, &title));
  g_assert_true(gst_tag_list_get_string(run->tags, GST_TAG_ENCODER, &encoder));
  g_assert_cmpstr(title, ==, kPrompt);
  g_assert_cmpstr(encoder, ==, "kwaivgi/kling-v2.0-t2v-master");
  g_free(title);
  g_free(encoder);
}

void test_tags_reach_the_sink_in_pull_mode(Fixture* f, gconstpointer) {
  for (bool faststart : {true, false}) {
    f->fake->video = make_mp4(faststart);
    auto run = make_run(*f->fake, "klingsrc name=src ! decodebin ! fakesink name=sink");
    g_assert_true(title_reaches_sink(*run, kPrompt, 60));
    g_assert_true(run->eos);
    GstPad* src_pad = gst_element_get_static_pad(run->src, "src");
    g_assert_cmpint(GST_PAD_MODE(src_pad), ==, GST_PAD_MODE_PULL);  // it was pull mode
    gst_object_unref(src_pad);
  }
}

// A queue before the demuxer puts the element in push mode: its one tag event
// reached qtdemux before qtdemux had pads, and went nowhere. Only faststart:
// qtdemux in push mode keeps a small file with its moov at the end whole until
// its last byte, so no read comes after its pads. (A queue of one buffer: GStreamer
// 1.22's queue drops a source's ALLOCATION query without answering it once the
// demuxer downstream has said EOS, and the source waits for ever: a small file all
// queued before qtdemux has pads does that, with filesrc as with klingsrc.)
void test_tags_reach_the_sink_in_push_mode(Fixture* f, gconstpointer) {
  f->fake->video = make_mp4(true);
  auto run = make_run(*f->fake,
                      "klingsrc name=src blocksize=4096 ! queue max-size-buffers=1 ! decodebin ! "
                      "fakesink name=sink");
  g_assert_true(title_reaches_sink(*run, kPrompt, 60));
  g_assert_true(run->eos);
  GstPad* src_pad = gst_element_get_static_pad(run->src, "src");
  g_assert_cmpint(GST_PAD_MODE(src_pad), ==, GST_PAD_MODE_PUSH);  // it was push mode
  gst_object_unref(src_pad);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/tags/title-from-prompt-encoder-from-model", test_tags);
  add_case("/klingsrc/tags/reach-the-sink-in-pull-mode", test_tags_reach_the_sink_in_pull_mode);
  add_case("/klingsrc/tags/reach-the-sink-in-push-mode", test_tags_reach_the_sink_in_push_mode);
  return g_test_run();
}
