// SPDX-License-Identifier: LGPL-2.1-or-later
// The element's threads and the application's: read from the application's
// thread while it submits, polls and streams (the suite where ThreadSanitizer,
// scripts/tsan.sh, sees them meet); task-id read in a bus sync handler on every
// message never deadlocks (no lock held while posting); no thread outlives the
// element, even one waiting for a ledger lock another process holds.
#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/held_ledger.h"
#include "support/klingsrc_case.h"
#include "support/thread_names.h"

namespace {

using Fixture = FakeApiFixture;

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
  f->fake->polls_until_done = 5;  // time to read while it polls
  auto run = make_run(*f->fake, desc);
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

void test_application_reads_while_it_plays(Fixture* f, gconstpointer) {
  play_while_reading(f, "klingsrc name=src ! queue ! fakesink name=sink");
}

struct Reader {
  GstElement* src = nullptr;
  std::atomic<int> reads{0};
  std::atomic<bool> eos{false};
  std::atomic<bool> error{false};
  std::vector<std::string> progress;  // under mutex
  std::mutex mutex;
};

// Reads task-id, as the README invites, on every message of the pipeline, on the posting thread.
GstBusSyncReply read_task_id(GstBus*, GstMessage* msg, gpointer data) {
  auto* reader = static_cast<Reader*>(data);
  gchar* id = nullptr;
  g_object_get(reader->src, "task-id", &id, nullptr);
  g_free(id);
  reader->reads++;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) reader->eos = true;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) reader->error = true;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_PROGRESS) {
    GstProgressType type;
    gchar *code = nullptr, *text = nullptr;
    gst_message_parse_progress(msg, &type, &code, &text);
    std::lock_guard<std::mutex> lock(reader->mutex);
    reader->progress.push_back(std::string(code) + ": " + text);
    g_free(code);
    g_free(text);
  }
  gst_message_unref(msg);  // GST_BUS_DROP: the handler owns the message
  return GST_BUS_DROP;
}

GstElement* make_src(FakeWaveSpeed& fake) {
  GstElement* src = gst_element_factory_make("klingsrc", "src");
  g_assert_nonnull(src);
  g_object_set(src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(), "poll-interval",
               20u, "journal", "", "prompt", kPrompt, nullptr);
  return src;
}

// One pipeline to EOS or an error, with task-id read on every message.
void run_reading_task_id(FakeWaveSpeed& fake, const std::string& cache_dir, Reader* reader) {
  GstElement* pipeline = gst_pipeline_new(nullptr);
  GstElement* src = make_src(fake);
  g_object_set(src, "cache-dir", cache_dir.c_str(), nullptr);
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  gst_bin_add_many(GST_BIN(pipeline), src, sink, nullptr);
  g_assert_true(gst_element_link(src, sink));
  reader->src = src;
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, read_task_id, reader, nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  const auto start = Clock::now();
  while (!reader->eos && !reader->error && seconds_since(start) < 20) g_usleep(10 * 1000);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

void test_sync_handler_reads_task_id_on_every_message(Fixture* f, gconstpointer) {
  const std::string cache = path_in(f, "cache");
  bounded("a run with a sync handler reading task-id", 60, [&] {
    Reader first;  // a whole generation, saved in the cache
    run_reading_task_id(*f->fake, cache, &first);
    g_assert_true(first.eos);
    Reader replay;  // the cache entry replayed: its progress is posted from start()
    run_reading_task_id(*f->fake, cache, &replay);
    g_assert_true(replay.eos);
    bool replayed = false;
    for (const auto& p : replay.progress) replayed |= contains(p, "Replaying the cached video");
    g_assert_true(replayed);
    // The spill file cannot be made (the cache folder is a file): an error from start().
    const std::string not_a_dir = path_in(f, "a-file");
    g_assert_true(g_file_set_contents(not_a_dir.c_str(), "x", 1, nullptr));
    Reader failing;
    run_reading_task_id(*f->fake, not_a_dir + "/sub", &failing);
    g_assert_true(failing.error);
    g_assert_cmpint(first.reads.load(), >, 5);
  });
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// The element's threads still alive: the runner's are named kling-task.
int count_element_threads(std::string* names = nullptr) {
  return count_threads_named("kling-task", names);
}

void test_no_thread_outlives_the_element(Fixture* f, gconstpointer) {
  const std::string ledger = path_in(f, "ledger.db");
  make_ledger(*f->fake, ledger);
  g_assert_cmpint(count_element_threads(), ==, 0);
  HeldLedger held(ledger);
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", ledger.c_str(), nullptr);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  // The worker now waits for the ledger's lock before submitting.
  const auto start = Clock::now();
  while (count_element_threads() == 0 && seconds_since(start) < 10) g_usleep(10 * 1000);
  g_usleep(300 * 1000);
  g_assert_cmpint(count_element_threads(), ==, 1);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  // Cancelled, the worker ends without a word; uncancelled, NULL would wait with it until the
  // ledger's lock wait ran out (10 s), and the worker would then fail and say so (a progress
  // ERROR, recorded as it is posted). An event, not a duration: a busy machine cannot fail it.
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    for (const auto& p : run->progress)
      if (p.type == GST_PROGRESS_TYPE_ERROR) g_error("the worker failed: %s", p.text.c_str());
  }
  run.reset();
  std::string names;
  if (count_element_threads(&names) != 0)
    g_error("a thread outlived the element; threads: %s", names.c_str());
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the other prompt's only
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/threads/application-reads-while-it-plays",
           test_application_reads_while_it_plays, 4 * 1024 * 1024 + 17);
  add_case("/klingsrc/threads/sync-handler-reads-task-id-on-every-message",
           test_sync_handler_reads_task_id_on_every_message, 1024 * 1024 + 17);
  add_case("/klingsrc/threads/no-thread-outlives-the-element", test_no_thread_outlives_the_element,
           1024 * 1024 + 17);
  return g_test_run();
}
