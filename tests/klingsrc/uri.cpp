// SPDX-License-Identifier: LGPL-2.1-or-later
// kling:// URIs: one sets the element's properties (never the key), playbin
// plays one, a second replaces what the first set, and get_uri round-trips.
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_uri_handler(Fixture*, gconstpointer) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) src = gst_element_make_from_uri(
      GST_URI_SRC,
      "kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20red%20fox&duration=10&aspect-ratio=1:1",
      nullptr, &error);
  g_assert_no_error(error);
  gchar *model = nullptr, *prompt = nullptr;
  gint duration = 0, ratio = -1;
  g_object_get(src, "model", &model, "prompt", &prompt, "duration", &duration, "aspect-ratio",
               &ratio, nullptr);
  g_assert_cmpstr(model, ==, "kwaivgi/kling-v2.1-t2v-master");
  g_assert_cmpstr(prompt, ==, "a red fox");
  g_assert_cmpint(duration, ==, 10);
  g_assert_cmpint(ratio, ==, 2);
  g_free(model);
  g_free(prompt);
  g_assert_false(gst_uri_handler_set_uri(GST_URI_HANDLER(src), "kling://?api-key=stolen", nullptr));
}

void on_source_setup(GstElement*, GstElement* source, gpointer) {
  g_object_set(source, "journal", "", "poll-interval", 20u, nullptr);
}

void test_playbin_plays_a_kling_uri(Fixture* f, gconstpointer) {
  f->fake->video = make_mp4(true);
  // The key and base URL come from the environment, never from the URI.
  g_setenv("WAVESPEED_API_KEY", f->fake->key.c_str(), TRUE);
  g_setenv("WAVESPEED_BASE_URL", f->fake->api_url().c_str(), TRUE);
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) playbin = gst_parse_launch(
      "playbin uri=kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20red%20fox&duration=10 "
      "video-sink=fakesink audio-sink=fakesink",
      &error);
  g_assert_no_error(error);
  g_signal_connect(playbin, "source-setup", G_CALLBACK(on_source_setup), nullptr);
  gst_element_set_state(playbin, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(playbin);
  GstMessage* msg = gst_bus_timed_pop_filtered(
      bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);
  g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
  gst_message_unref(msg);
  gst_element_set_state(playbin, GST_STATE_NULL);
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  bool posted = false;
  for (const auto& r : f->fake->requests()) {
    if (r.method != "POST") continue;
    posted = true;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.1-t2v-master");
    g_assert_true(contains(r.body, "\"prompt\":\"a red fox\""));
    g_assert_true(contains(r.body, "\"duration\":10"));
  }
  g_assert_true(posted);
}

std::string submit_body(FakeWaveSpeed& fake) {
  for (const auto& r : fake.requests())
    if (r.server == "api" && r.method == "POST") return r.body;
  return {};
}

void test_uri_replaces_what_an_earlier_uri_set(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  GstURIHandler* handler = GST_URI_HANDLER(run->src);
  g_assert_true(gst_uri_handler_set_uri(
      handler, "kling://?prompt=a&negative-prompt=blurry&duration=10&aspect-ratio=1:1", nullptr));
  g_assert_true(gst_uri_handler_set_uri(handler, "kling://?prompt=b", nullptr));
  play_to_end(*run);
  g_assert_true(run->eos);
  const std::string body = submit_body(*f->fake);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_true(json_parser_load_from_data(parser, body.c_str(), body.size(), nullptr));
  JsonObject* o = json_node_get_object(json_parser_get_root(parser));
  g_assert_cmpstr(json_object_get_string_member(o, "prompt"), ==, "b");
  g_assert_false(json_object_has_member(o, "negative_prompt"));
  g_assert_cmpint(json_object_get_int_member(o, "duration"), ==, 5);
  g_assert_cmpstr(json_object_get_string_member(o, "aspect_ratio"), ==, "16:9");
}

std::string get_uri(GstElement* element) {
  g_autofree char* uri = gst_uri_handler_get_uri(GST_URI_HANDLER(element));
  return uri;
}

void test_uri_round_trip(Fixture* f, gconstpointer) {
  const char* uris[] = {
      "kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20fox&negative-prompt=blur&duration=10"
      "&aspect-ratio=1:1&request-id=abc&poll-interval=1234&timeout=99",
      "kling://?prompt=just%20a%20prompt",
  };
  const char* props[] = {"prompt",     "negative-prompt", "duration", "aspect-ratio",
                         "request-id", "poll-interval",   "timeout",  "model"};
  for (const char* text : uris) {
    GstElement* a = gst_element_factory_make("klingsrc", nullptr);
    GstElement* b = gst_element_factory_make("klingsrc", nullptr);
    g_assert_true(gst_uri_handler_set_uri(GST_URI_HANDLER(a), text, nullptr));
    const std::string uri = get_uri(a);
    g_assert_true(gst_uri_handler_set_uri(GST_URI_HANDLER(b), uri.c_str(), nullptr));
    assert_str_eq(get_uri(b), uri);
    for (const char* name : props) {
      GValue va = G_VALUE_INIT, vb = G_VALUE_INIT;
      g_object_get_property(G_OBJECT(a), name, &va);
      g_object_get_property(G_OBJECT(b), name, &vb);
      g_autofree char* sa = gst_value_serialize(&va);
      g_autofree char* sb = gst_value_serialize(&vb);
      if (g_strcmp0(sa, sb) != 0) g_error("%s: %s became %s through %s", name, sa, sb, uri.c_str());
      g_value_unset(&va);
      g_value_unset(&vb);
    }
    gst_object_unref(a);
    gst_object_unref(b);
  }
  // A URI that leaves aspect-ratio to the default does not make it a choice.
  GstElement* c = gst_element_factory_make("klingsrc", nullptr);
  g_assert_true(gst_uri_handler_set_uri(GST_URI_HANDLER(c), uris[1], nullptr));
  g_assert_false(contains(get_uri(c), "aspect-ratio"));
  gst_object_unref(c);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/uri/kling-scheme-sets-properties", test_uri_handler);
  add_case("/klingsrc/uri/playbin-plays-a-kling-uri", test_playbin_plays_a_kling_uri);
  add_case("/klingsrc/uri/replaces-what-an-earlier-uri-set",
           test_uri_replaces_what_an_earlier_uri_set, 1024 * 1024 + 17);
  add_case("/klingsrc/uri/round-trip", test_uri_round_trip, 1024 * 1024 + 17);
  return g_test_run();
}
