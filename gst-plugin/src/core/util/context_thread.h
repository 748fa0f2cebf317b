// SPDX-License-Identifier: LGPL-2.1-or-later
// A named thread running a GMainContext of its own (its thread default), for
// sources that must be served while the creating thread blocks: a GFileMonitor,
// a SoupServer. `setup` runs first on the thread, and the constructor returns
// once it has; the destructor quits the loop from inside it (what `setup` made
// is stopped on its own thread), runs `teardown` there, lets what closing queued
// run (closed sockets finish closing) and joins.
#pragma once

#include <glib.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>

#include "core/util/named_thread.h"

namespace kling {

class ContextThread {
 public:
  // `name`: at most 15 characters (NamedThread).
  ContextThread(const char* name, std::function<void()> setup, std::function<void()> teardown)
      : context_(g_main_context_new()), loop_(g_main_loop_new(context_, FALSE)) {
    std::mutex mutex;
    std::condition_variable cv;
    bool ready = false;
    thread_ = NamedThread(name, [&, teardown = std::move(teardown)] {
      g_main_context_push_thread_default(context_);
      setup();
      {
        // Notified under the lock: the constructor returns (and `cv` goes) as soon as it
        // sees `ready`.
        std::lock_guard<std::mutex> lock(mutex);
        ready = true;
        cv.notify_all();
      }
      g_main_loop_run(loop_);
      teardown();
      while (g_main_context_iteration(context_, FALSE)) {
      }
      g_main_context_pop_thread_default(context_);
    });
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return ready; });
  }
  ~ContextThread() {
    GSource* idle = g_idle_source_new();
    g_source_set_callback(
        idle,
        [](gpointer loop) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop*>(loop));
          return G_SOURCE_REMOVE;
        },
        loop_, nullptr);
    g_source_attach(idle, context_);
    g_source_unref(idle);
    thread_.join();
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
  }
  ContextThread(const ContextThread&) = delete;
  ContextThread& operator=(const ContextThread&) = delete;

 private:
  GMainContext* context_;
  GMainLoop* loop_;
  NamedThread thread_;
};

}  // namespace kling
