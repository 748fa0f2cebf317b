// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc read by the application while it works: one thread runs the
// pipeline and its bus, the test's thread reads every readable property and
// asks for the duration and position without pause, from before the submit to
// the EOS. The other suites read the element only when it is idle or on the
// thread that posts, so only here does ThreadSanitizer (scripts/tsan.sh) see the
// application's thread meet the worker's and the streaming thread's writes.
#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(4 * 1024 * 1024 + 17);
  f->fake->polls_until_done = 5;
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
}

// Every readable property of `element`, once; returns task-id's value.
std::string read_every_property(GstElement* element) {
  guint n = 0;
  GParamSpec** specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(element), &n);
  std::string task_id;
  for (guint i = 0; i < n; i++) {
    if (!(specs[i]->flags & G_PARAM_READABLE)) continue;
    GValue value = G_VALUE_INIT;
    g_value_init(&value, specs[i]->value_type);
    g_object_get_property(G_OBJECT(element), specs[i]->name, &value);
    if (!g_strcmp0(specs[i]->name, "task-id") && g_value_get_string(&value))
      task_id = g_value_get_string(&value);
    g_value_unset(&value);
  }
  g_free(specs);
  return task_id;
}

// Reads `run->src` on this thread while another plays it to its end; the ids
// read are only ever none or the task's.
void play_while_reading(Fixture* f, const char* desc) {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", f->fake->api_url().c_str(), "api-key", f->fake->key.c_str(),
               "poll-interval", 20u, "journal", "", "prompt", "a red fox in snow", nullptr);
  std::atomic<bool> done{false};
  std::thread player([&] {
    play_to_end(*run, 60);
    done = true;
  });
  std::vector<std::string> ids;
  int reads = 0;
  while (!done) {
    std::string id = read_every_property(run->src);
    if (ids.empty() || ids.back() != id) ids.push_back(id);
    gint64 value;
    gst_element_query_duration(run->src, GST_FORMAT_BYTES, &value);
    gst_element_query_position(run->src, GST_FORMAT_BYTES, &value);
    reads++;
  }
  player.join();
  g_assert_true(run->eos);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(reads, >, 1);
  for (const auto& id : ids) g_assert_true(id.empty() || id == f->fake->task_id);
  assert_str_eq(read_every_property(run->src), f->fake->task_id);
}

void test_push_mode(Fixture* f, gconstpointer) {
  play_while_reading(f, "klingsrc name=src ! queue ! fakesink name=sink");
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  unset_kling_environment();
  g_test_add("/app-thread/push-mode", Fixture, nullptr, setup, test_push_mode, teardown);
  return g_test_run();
}
