// SPDX-License-Identifier: LGPL-2.1-or-later
// The whole way from a prompt to the bytes at the sink: the exact request body,
// the exact bytes (fakesink, filesink), the forms of reply the API may use, the
// key and URL from the environment.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <memory>
#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_bytes_identical_and_body(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  const std::string prompt = "a \"red\" fox\\ in\nsnow \xF0\x9F\xA6\x8A, \xE9\x9B\xAA";
  gst_util_set_object_arg(G_OBJECT(run->src), "duration", "10");
  gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio", "9:16");
  g_object_set(run->src, "prompt", prompt.c_str(), nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpuint(run->bytes.size(), ==, f->fake->video.size());
  g_assert_true(run->bytes == f->fake->video);

  auto reqs = f->fake->requests();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  for (const auto& r : reqs) {
    if (r.server != "api" || r.method != "POST") continue;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.0-t2v-master");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, r.body.c_str(), r.body.size(), nullptr));
    JsonObject* o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "prompt"), ==, prompt.c_str());
    JsonNode* d = json_object_get_member(o, "duration");
    g_assert_cmpint(json_node_get_value_type(d), ==, G_TYPE_INT64);
    g_assert_cmpint(json_node_get_int(d), ==, 10);
    g_assert_cmpstr(json_object_get_string_member(o, "aspect_ratio"), ==, "9:16");
    g_assert_false(json_object_has_member(o, "negative_prompt"));
  }
  // The key goes to the API (its predictions and its catalogue) and nowhere else.
  for (const auto& r : reqs) {
    if (r.server == "cdn")
      assert_str_eq(r.authorization, "");
    else
      assert_str_eq(r.authorization, "Bearer test-key");
  }
  g_assert_cmpint(f->fake->count("api", "GET"), ==, f->fake->polls_until_done + 1);
}

void test_filesink_saves_exact_file(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("klingsrc-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, "out.mp4", nullptr);
  auto run = make_run(*f->fake, std::string("klingsrc name=src ! filesink location=") + path);
  play_to_end(*run);
  g_assert_true(run->eos);
  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &data, &size, nullptr));
  g_assert_true(std::string(data, size) == f->fake->video);
  g_free(data);
  g_unlink(path);
  g_rmdir(dir);
}

void test_poll_url_bare_form(Fixture* f, gconstpointer) {
  f->fake->get_url_is_bare = true;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_true(run->bytes == f->fake->video);
}

void test_env_defaults(Fixture* f, gconstpointer) {
  g_setenv("WAVESPEED_API_KEY", f->fake->key.c_str(), TRUE);
  g_setenv("WAVESPEED_BASE_URL", f->fake->api_url().c_str(), TRUE);
  g_autoptr(GError) error = nullptr;
  auto run = std::make_unique<Run>();
  run->pipeline = gst_parse_launch(
      "klingsrc name=src prompt=\"a red fox\" poll-interval=20 ! fakesink name=sink", &error);
  g_assert_no_error(error);
  run->src = gst_bin_get_by_name(GST_BIN(run->pipeline), "src");
  play_to_end(*run);
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_uppercase_status(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int) -> std::optional<FakeReply> {
    std::string json = fake->task_json("completed");
    json.replace(json.find("\"completed\""), 11, "\"COMPLETED\"");
    return FakeReply{200, json};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

// A submit answered already completed (a synchronous mode): straight to the download.
void test_submit_answered_completed(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_submit = [fake](int) -> std::optional<FakeReply> {
    return FakeReply{200, fake->task_json("completed")};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 0);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/delivery/bytes-identical-and-exact-request-body",
           test_bytes_identical_and_body);
  add_case("/klingsrc/delivery/filesink-saves-the-exact-file", test_filesink_saves_exact_file);
  add_case("/klingsrc/delivery/poll-url-bare-form", test_poll_url_bare_form);
  add_case("/klingsrc/delivery/key-and-url-from-environment", test_env_defaults);
  add_case("/klingsrc/delivery/uppercase-status", test_uppercase_status);
  add_case("/klingsrc/delivery/submit-answered-completed-needs-no-poll",
           test_submit_answered_completed);
  return g_test_run();
}
