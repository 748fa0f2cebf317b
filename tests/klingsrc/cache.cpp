// SPDX-License-Identifier: LGPL-2.1-or-later
// `cache-dir`: a repeated request replays without a submit, an interrupted run
// leaves nothing, a download resumed after a stop is saved whole.
#include <gst/gst.h>

#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_cache_dir_keeps_nothing_of_an_interrupted_run(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply::hung();
  };
  {
    auto run = make_run(*f->fake);
    g_object_set(run->src, "cache-dir", dir, nullptr);
    play_until(*run, *f->fake, "cdn", "GET", 1);
  }
  g_autoptr(GDir) listing = g_dir_open(dir, 0, nullptr);
  const char* name = g_dir_read_name(listing);
  if (name) g_error("left in the cache folder: %s", name);
}

void test_cache_replays_without_submit(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  auto first = make_run(*f->fake);
  g_object_set(first->src, "cache-dir", dir, nullptr);
  play_to_end(*first);
  g_assert_true(first->eos);
  gst_element_set_state(first->pipeline, GST_STATE_NULL);
  auto second = make_run(*f->fake);
  g_object_set(second->src, "cache-dir", dir, nullptr);
  play_to_end(*second);
  g_assert_true(second->eos);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_true(progress_says(*second, "Replaying the cached video of task "));
  // Another prompt is another entry.
  auto third = make_run(*f->fake);
  g_object_set(third->src, "cache-dir", dir, "prompt", "a blue fox", nullptr);
  play_to_end(*third);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// cache-dir set on an element stopped while polling: the resumed download is
// kept whole and cached, and a new element replays it without a submit.
void test_cache_dir_set_after_a_stop_while_polling(Fixture* f, gconstpointer) {
  auto run = stopped_while_polling(f);
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  g_object_set(run->src, "cache-dir", dir, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(progress_says(*run, "Saved the video of task "));
  auto replay = make_run(*f->fake);
  g_object_set(replay->src, "cache-dir", dir, nullptr);
  play_to_end(*replay);
  g_assert_true(replay->eos);
  g_assert_true(replay->bytes == f->fake->video);
  g_assert_true(progress_says(*replay, "Replaying the cached video of task "));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/cache/interrupted-run-leaves-nothing",
           test_cache_dir_keeps_nothing_of_an_interrupted_run);
  add_case("/klingsrc/cache/repeated-request-replays-without-submit",
           test_cache_replays_without_submit);
  add_case("/klingsrc/cache/set-after-a-stop-while-polling",
           test_cache_dir_set_after_a_stop_while_polling);
  return g_test_run();
}
