// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/klingsrc_case.h"

#include <glib.h>

namespace {

void setup_case(FakeApiFixture* f, gconstpointer video_size) {
  fake_api_setup(f, GPOINTER_TO_SIZE(video_size), "test-klingsrc-XXXXXX");
}

void teardown_case(FakeApiFixture* f, gconstpointer) {
  fake_api_teardown(f);
}

}  // namespace

void klingsrc_test_init(int* argc, char*** argv) {
  unset_kling_environment();
  gst_init(argc, argv);
  g_test_init(argc, argv, nullptr);
}

void add_case(const char* path, void (*test)(FakeApiFixture*, gconstpointer), size_t video_size) {
  g_test_add(path, FakeApiFixture, GSIZE_TO_POINTER(video_size), setup_case, test, teardown_case);
}

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const std::string& desc, const char* prompt) {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", "", nullptr);
  if (prompt) g_object_set(run->src, "prompt", prompt, nullptr);
  return run;
}

void play_until(Run& run, FakeWaveSpeed& fake, const char* server, const char* method, int n) {
  gst_element_set_state(run.pipeline, GST_STATE_PLAYING);
  g_assert_true(fake.wait_for_count(server, method, n, 10000));
}

std::unique_ptr<Run> stopped_while_polling(FakeApiFixture* f) {
  f->fake->polls_until_done = 6;
  auto run = make_run(*f->fake);
  play_until(*run, *f->fake, "api", "GET", 2);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  return run;
}

std::string path_in(const FakeApiFixture* f, const char* name) {
  g_autofree char* path = g_build_filename(f->dir, name, nullptr);
  return path;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
