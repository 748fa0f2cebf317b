// SPDX-License-Identifier: LGPL-2.1-or-later
// A thread with a name /proc, top, gdb and sanitizer reports show: g_thread_new
// names it. Joined or let go explicitly, as std::thread; one still running when
// dropped is let go (it ends by itself).
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <utility>

namespace kling {

class NamedThread {
 public:
  NamedThread() = default;
  // `name`: at most 15 characters, as the kernel keeps them.
  NamedThread(const char* name, std::function<void()> body)
      : thread_(g_thread_new(name, run, new std::function<void()>(std::move(body)))) {}
  ~NamedThread() { detach(); }
  NamedThread(const NamedThread&) = delete;
  NamedThread& operator=(const NamedThread&) = delete;
  NamedThread(NamedThread&& other) noexcept : thread_(std::exchange(other.thread_, nullptr)) {}
  NamedThread& operator=(NamedThread&& other) noexcept {
    detach();
    thread_ = std::exchange(other.thread_, nullptr);
    return *this;
  }

  bool joinable() const { return thread_ != nullptr; }
  bool is_current() const { return thread_ && thread_ == g_thread_self(); }
  void join() {
    if (thread_) g_thread_join(std::exchange(thread_, nullptr));
  }
  void detach() {
    if (thread_) g_thread_unref(std::exchange(thread_, nullptr));
  }

 private:
  static gpointer run(gpointer data) {
    std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(data));
    (*body)();
    return nullptr;
  }

  GThread* thread_ = nullptr;
};

}  // namespace kling
