// SPDX-License-Identifier: LGPL-2.1-or-later
// kling::ElementSession, the core every element stands on, without GStreamer:
// start/read/stop against the scriptable fake API and CDN on loopback.
#include <glib.h>
#include <glib/gstdio.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/session/element_session.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"
#include "support/store_helpers.h"

using kling::ElementSession;
using Status = ElementSession::Read::Status;

namespace {

struct Event {
  kling::ProgressType type;
  std::string code;
  std::string text;
};

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  kling::Request request;
  std::mutex mutex;
  std::vector<Event> events;
  std::function<void(const Event&)> on_event;  // called on the thread that reports
  std::unique_ptr<ElementSession> gen;
  char* dir = nullptr;

  kling::TaskEvents make_events() {
    kling::TaskEvents events;
    events.progress = [this](kling::ProgressType type, const char* code, const std::string& text) {
      Event e{type, code, text};
      {
        std::lock_guard<std::mutex> lock(mutex);
        this->events.push_back(e);
      }
      if (on_event) on_event(e);
    };
    return events;
  }
  bool saw(const std::string& code, kling::ProgressType type) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& e : events)
      if (e.code == code && e.type == type) return true;
    return false;
  }
};

// g_test_add() gives zeroed memory: construct the C++ members in it.
void setup(Fixture* f, gconstpointer) {
  new (f) Fixture();
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(1024 * 1024 + 17);
  f->fake->polls_until_done = 1;
  f->dir = g_dir_make_tmp("test-generation-XXXXXX", nullptr);
  f->request.prompt = "a red fox in snow";
  f->request.api_url = f->fake->api_url();
  f->request.api_key = f->fake->key;
  f->request.poll_interval_ms = 20;
  f->request.request_timeout_s = 5;
  f->request.journal_path = "";
  f->gen = std::make_unique<ElementSession>(f->make_events());
}

void teardown(Fixture* f, gconstpointer) {
  f->gen.reset();
  f->fake.reset();
  remove_scratch_dir(f->dir);
  f->~Fixture();
}

// Reads the whole video as a reader asking for 100000 bytes at a time would.
std::string read_all(ElementSession& gen, bool random_access, Status* end = nullptr) {
  std::string out;
  for (;;) {
    ElementSession::Read r = gen.read(out.size(), 100000, random_access);
    if (r.status != Status::Ok) {
      if (end)
        *end = r.status;
      else
        g_assert_cmpint(static_cast<int>(r.status), ==, static_cast<int>(Status::Eos));
      return out;
    }
    g_assert_cmpuint(r.offset, ==, out.size());
    std::string piece(r.size, '\0');
    kling::Error error;
    if (r.in_memory) {
      size_t at = 0;
      for (const auto& p : r.pieces) {
        g_assert_true(p.where == kling::DownloadStore::Piece::Where::Memory);
        memcpy(&piece[at], p.data, p.size);
        at += p.size;
      }
      g_assert_cmpuint(at, ==, r.size);
    } else {
      g_assert_true(ElementSession::copy(r, reinterpret_cast<uint8_t*>(&piece[0]), &error));
    }
    out += piece;
  }
}

void test_reads_the_video_byte_exact(Fixture* f, gconstpointer) {
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);  // start() submits nothing
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_cmpuint(*f->gen->size(), ==, f->fake->video.size());
  assert_str_eq(f->gen->task_id(), f->fake->task_id);
  g_assert_true(f->saw("download", kling::ProgressType::Complete));
  f->gen->stop();
}

void test_start_validates_before_any_request(Fixture* f, gconstpointer) {
  f->request.prompt.clear();
  auto error = f->gen->start(f->request);
  g_assert_true(error.has_value());
  g_assert_cmpint(static_cast<int>(error->kind), ==, static_cast<int>(kling::ErrorKind::Settings));
  g_assert_false(f->gen->request().has_value());
  g_assert_cmpint(static_cast<int>(f->gen->read(0, 10, false).status), ==,
                  static_cast<int>(Status::Flushing));
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_same_request_again_replays_without_a_request(Fixture* f, gconstpointer) {
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(read_all(*f->gen, true) == f->fake->video);
  f->gen->stop();
  const size_t before = f->fake->requests().size();
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(read_all(*f->gen, true) == f->fake->video);
  f->gen->stop();
  g_assert_cmpuint(f->fake->requests().size(), ==, before);  // random access kept every byte
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_stopped_task_is_resumed_not_submitted_again(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1000000;
  g_assert_false(f->gen->start(f->request).has_value());
  std::thread reader([&] {
    Status end;
    read_all(*f->gen, false, &end);
    g_assert_cmpint(static_cast<int>(end), ==, static_cast<int>(Status::Flushing));
  });
  g_assert_true(f->fake->wait_for_count("api", "GET", 1, 5000));
  f->gen->set_flushing(true);
  reader.join();
  f->gen->stop();
  assert_str_eq(f->gen->task_id(), f->fake->task_id);
  f->fake->polls_until_done = 0;
  g_assert_false(f->gen->start(f->request).has_value());
  f->gen->set_flushing(false);
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  f->gen->stop();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_cache_replays_in_a_new_generation(Fixture* f, gconstpointer) {
  f->request.cache_dir = f->dir;
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  f->gen->stop();
  g_assert_true(f->saw("cache", kling::ProgressType::Complete));
  f->gen = std::make_unique<ElementSession>(f->make_events());
  f->events.clear();
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(f->saw("cache", kling::ProgressType::Start));  // found, checked by the first read
  assert_str_eq(f->gen->task_id(), f->fake->task_id);
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  g_assert_true(f->saw("cache", kling::ProgressType::Complete));  // "Replaying the cached video"
  f->gen->stop();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 1);
}

// Events come with no lock of the ElementSession held: a listener may ask it anything.
void test_events_may_call_back(Fixture* f, gconstpointer) {
  f->request.cache_dir = f->dir;
  std::atomic<int> calls{0};
  f->on_event = [&](const Event&) {
    f->gen->task_id();
    f->gen->size();
    f->gen->request();
    calls++;
  };
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  f->gen->stop();
  g_assert_false(f->gen->start(f->request).has_value());  // a new run: from the cache
  f->gen->stop();
  f->gen = std::make_unique<ElementSession>(f->make_events());
  g_assert_false(f->gen->start(f->request).has_value());  // replays the cache entry
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  f->gen->stop();
  g_assert_cmpint(calls.load(), >, 3);
}

// stop() from the worker's own thread (a bus sync handler) cannot join it;
// the next read joins it before a new runner starts on the same store.
void test_stop_from_the_worker_thread(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1000000;
  // The hook stays set: the stopped worker may still be calling it while the
  // test goes on (reassigning it then would race), so it acts once and owns its flag.
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  f->on_event = [f, stopped](const Event& e) {
    if (e.code == "submit" && e.type == kling::ProgressType::Continue && !stopped->exchange(true))
      f->gen->stop();
  };
  g_assert_false(f->gen->start(f->request).has_value());
  Status end;
  read_all(*f->gen, false, &end);
  g_assert_cmpint(static_cast<int>(end), ==, static_cast<int>(Status::Flushing));  // stopped
  g_assert_true(stopped->load());
  f->fake->polls_until_done = 0;
  g_assert_false(f->gen->start(f->request).has_value());
  g_assert_true(read_all(*f->gen, false) == f->fake->video);
  f->gen->stop();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// An EOS from the application: the task goes on, said once with its id.
void test_announce_stop_says_it_once(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1000000;
  g_assert_false(f->gen->start(f->request).has_value());
  std::thread reader([&] {
    Status end;
    read_all(*f->gen, false, &end);
  });
  g_assert_true(f->fake->wait_for_count("api", "GET", 1, 5000));
  f->gen->announce_stop();
  f->gen->set_flushing(true);
  reader.join();
  f->gen->stop();
  int canceled = 0;
  for (const auto& e : f->events)
    if (e.type == kling::ProgressType::Canceled) {
      canceled++;
      g_assert_nonnull(strstr(e.text.c_str(), f->fake->task_id.c_str()));
    }
  g_assert_cmpint(canceled, ==, 1);
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  auto add = [](const char* path, void (*fn)(Fixture*, gconstpointer)) {
    g_test_add(path, Fixture, nullptr, setup, fn, teardown);
  };
  add("/core/session/reads-the-video-byte-exact", test_reads_the_video_byte_exact);
  add("/core/session/start-validates-before-any-request", test_start_validates_before_any_request);
  add("/core/session/same-request-again-replays-without-a-request",
      test_same_request_again_replays_without_a_request);
  add("/core/session/stopped-task-is-resumed-not-submitted-again",
      test_stopped_task_is_resumed_not_submitted_again);
  add("/core/session/cache-replays-in-a-new-generation", test_cache_replays_in_a_new_generation);
  add("/core/session/events-may-call-back", test_events_may_call_back);
  add("/core/session/stop-from-the-worker-thread", test_stop_from_the_worker_thread);
  add("/core/session/announce-stop-says-it-once", test_announce_stop_says_it_once);
  return g_test_run();
}
