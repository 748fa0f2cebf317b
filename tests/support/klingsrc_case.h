// SPDX-License-Identifier: LGPL-2.1-or-later
// What the klingsrc suites against the in-process fake share: a case with a
// fresh fake and a scratch folder, the element pointed at the fake, a bound on
// a body that might deadlock, and the clock a deadline is measured on.
#pragma once

#include <gst/gst.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

inline constexpr const char* kPrompt = "a red fox in snow";
// DownloadStore::kChunkSize: where a cut or a range lands on a chunk's edge.
inline constexpr size_t kChunk = 256 * 1024;
// The video the fake serves unless a case asks for another size (several chunks, not whole ones).
inline constexpr size_t kVideoSize = 3 * 1024 * 1024 + 17;
inline constexpr const char* kFakeSinkPipeline = "klingsrc name=src ! fakesink name=sink";

using Clock = std::chrono::steady_clock;

// gst_init and g_test_init, with no key or API URL taken from the user's environment.
void klingsrc_test_init(int* argc, char*** argv);

// Adds a g_test case run on a fresh FakeApiFixture: a fake serving `video_size`
// random bytes, and a scratch folder removed afterwards.
void add_case(const char* path, void (*test)(FakeApiFixture*, gconstpointer),
              size_t video_size = kVideoSize);

// `desc` (a `klingsrc name=src`, maybe a `fakesink name=sink`) with the element pointed
// at `fake`: its key, test-speed polling, `prompt` unless null, and no journal (a
// journaled unfinished task would be picked up by the next case).
std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const std::string& desc = kFakeSinkPipeline,
                              const char* prompt = kPrompt);

// `run` set PLAYING, returning once the fake has seen `n` `method` requests on `server`
// (failing the case after 10 s).
void play_until(Run& run, FakeWaveSpeed& fake, const char* server, const char* method, int n);

// A run set to NULL while its task is being polled (the task goes on).
std::unique_ptr<Run> stopped_while_polling(FakeApiFixture* f);

// `name` in the case's scratch folder.
std::string path_in(const FakeApiFixture* f, const char* name);

double seconds_since(Clock::time_point start);

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
