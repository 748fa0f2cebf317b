// SPDX-License-Identifier: LGPL-2.1-or-later
// The defects an outside review found in klingsrc (issue #13), each shown
// against the fake API and CDN on loopback: a bus sync handler reading
// task-id never deadlocks, no thread outlives the element, a held ledger lock
// or an API that never answers is bounded by `timeout`, a URI replaces what an
// earlier one set, tags reach the sink in pull mode, task-id notifies.
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"
#include "support/thread_names.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";
using Clock = std::chrono::steady_clock;

using Fixture = FakeApiFixture;

void setup(Fixture* f, gconstpointer) {
  fake_api_setup(f, 1024 * 1024 + 17, "test-review-XXXXXX");
}
void teardown(Fixture* f, gconstpointer) {
  fake_api_teardown(f);
}

std::string path_in(Fixture* f, const char* name) {
  g_autofree char* path = g_build_filename(f->dir, name, nullptr);
  return path;
}

GstElement* make_src(FakeWaveSpeed& fake) {
  GstElement* src = gst_element_factory_make("klingsrc", "src");
  g_assert_nonnull(src);
  g_object_set(src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(), "poll-interval",
               20u, "journal", "", "prompt", kPrompt, nullptr);
  return src;
}

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake,
                              const std::string& desc = "klingsrc name=src ! fakesink name=sink") {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", "", "prompt", kPrompt, nullptr);
  return run;
}

// Runs `body` on a thread of its own and fails the test (ending the process)
// when it has not returned within `limit_s`: a deadlock is reported, not waited on.
template <typename Body>
void bounded(const char* what, unsigned limit_s, Body body) {
  struct Done {
    std::mutex mutex;
    std::condition_variable cond;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  std::thread thread([&body, done] {
    body();
    std::lock_guard<std::mutex> lock(done->mutex);
    done->done = true;
    done->cond.notify_all();
  });
  std::unique_lock<std::mutex> lock(done->mutex);
  if (!done->cond.wait_for(lock, std::chrono::seconds(limit_s), [&] { return done->done; }))
    g_error("%s did not finish within %u s: a deadlock", what, limit_s);
  lock.unlock();
  thread.join();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ------------------------------------------------------------------ 1: no lock held while posting

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

// ------------------------------------------------------------------ 2: the worker is joined

// The element's threads still alive: the runner's are named kling-task.
int count_element_threads(std::string* names = nullptr) {
  return count_threads_named("kling-task", names);
}

// Holds the ledger's write lock as another process would (another connection).
struct HeldLedger {
  explicit HeldLedger(const std::string& path) {
    g_assert_cmpint(sqlite3_open(path.c_str(), &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), ==, SQLITE_OK);
  }
  ~HeldLedger() {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  sqlite3* db = nullptr;
};

// A run with another prompt makes the ledger (its tables) at `path`.
void make_ledger(FakeWaveSpeed& fake, const std::string& path) {
  auto run = make_run(fake);
  g_object_set(run->src, "journal", path.c_str(), "prompt", "another prompt", nullptr);
  play_to_end(*run);
  g_assert_true(run->eos);
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
  const auto stop = Clock::now();
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  const double took = seconds_since(stop);
  g_assert_cmpfloat(took, <, 0.2);  // cancelled, the worker ends at once
  run.reset();
  std::string names;
  if (count_element_threads(&names) != 0)
    g_error("a thread outlived the element; threads: %s", names.c_str());
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the other prompt's only
}

void test_held_ledger_lock_ends_at_the_deadline(Fixture* f, gconstpointer) {
  const std::string ledger = path_in(f, "ledger.db");
  make_ledger(*f->fake, ledger);
  HeldLedger held(ledger);
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", ledger.c_str(), "timeout", 2u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run, 10);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=2");
  g_assert_cmpfloat(took, >=, 1.5);
  g_assert_cmpfloat(took, <, 5.0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the other prompt's: nothing paid here
}

// ------------------------------------------------------------------ 3: the deadline covers the
// submit

void test_deadline_covers_an_unanswered_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    FakeReply r;
    r.hang = true;
    return r;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 3u, nullptr);  // request-timeout stays 30
  const auto start = Clock::now();
  play_to_end(*run, 12);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=3");
  g_assert_true(contains(run->error->message, "dashboard"));  // it may have made a task
  g_assert_cmpfloat(took, >=, 2.5);
  g_assert_cmpfloat(took, <, 6.0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_deadline_caps_an_unanswered_poll(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r;
    r.hang = true;
    return r;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 2u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run, 12);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, f->fake->task_id.c_str());
  g_assert_true(contains(run->error->message, "did not finish within 2 s"));
  g_assert_cmpfloat(took, <, 5.0);
}

// ------------------------------------------------------------------ 5: a URI replaces

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

// ------------------------------------------------------------------ 9: tags, notify, metadata

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

struct Notified {
  std::mutex mutex;
  std::vector<std::string> ids;  // task-id read in each notify::task-id
};

void on_task_id(GObject* object, GParamSpec*, gpointer data) {
  auto* notified = static_cast<Notified*>(data);
  gchar* id = nullptr;
  g_object_get(object, "task-id", &id, nullptr);  // no lock of the element is held here
  std::lock_guard<std::mutex> lock(notified->mutex);
  notified->ids.push_back(id ? id : "");
  g_free(id);
}

void test_task_id_notifies_when_it_changes(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  Notified notified;
  g_signal_connect(run->src, "notify::task-id", G_CALLBACK(on_task_id), &notified);
  bounded("a run with notify::task-id", 30, [&] { play_to_end(*run); });
  g_assert_true(run->eos);
  std::lock_guard<std::mutex> lock(notified.mutex);
  g_assert_cmpuint(notified.ids.size(), ==, 1);  // once: "" -> the id, not on every status
  assert_str_eq(notified.ids[0], f->fake->task_id);
}

void test_factory_description_is_one_sentence(Fixture*, gconstpointer) {
  GstElementFactory* factory = gst_element_factory_find("klingsrc");
  g_assert_nonnull(factory);
  const char* description =
      gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_DESCRIPTION);
  g_assert_cmpuint(strlen(description), <, 120);
  g_assert_null(strstr(description, ". "));
  gst_object_unref(factory);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  auto add = [](const char* path, void (*fn)(Fixture*, gconstpointer)) {
    g_test_add(path, Fixture, nullptr, setup, fn, teardown);
  };
  add("/review/deadlock/sync-handler-reads-task-id-on-every-message",
      test_sync_handler_reads_task_id_on_every_message);
  add("/review/worker/no-thread-outlives-the-element", test_no_thread_outlives_the_element);
  add("/review/worker/held-ledger-lock-ends-at-the-deadline",
      test_held_ledger_lock_ends_at_the_deadline);
  add("/review/deadline/covers-an-unanswered-submit", test_deadline_covers_an_unanswered_submit);
  add("/review/deadline/caps-an-unanswered-poll", test_deadline_caps_an_unanswered_poll);
  add("/review/uri/replaces-what-an-earlier-uri-set", test_uri_replaces_what_an_earlier_uri_set);
  add("/review/uri/round-trip", test_uri_round_trip);
  add("/review/tags/reach-the-sink-in-pull-mode", test_tags_reach_the_sink_in_pull_mode);
  add("/review/notify/task-id-when-it-changes", test_task_id_notifies_when_it_changes);
  add("/review/metadata/description-is-one-sentence", test_factory_description_is_one_sentence);
  return g_test_run();
}
