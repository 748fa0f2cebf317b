// SPDX-License-Identifier: LGPL-2.1-or-later
// A C++ value given to another thread as a GLib user-data pointer (a
// gst_element_call_async() call, a wrapped memory's owner), deleted by its
// GDestroyNotify. GLib and GStreamer order that handoff with their own locks,
// thread pools and reference counts, which ThreadSanitizer cannot see (they are
// not instrumented). The release when given and the acquire when taken say the
// same order to TSan; on x86 both are plain moves.
#pragma once

#include <glib.h>

#include <atomic>
#include <utility>

namespace kling {

template <typename T>
class Handoff {
 public:
  // The user data: owns `value` until drop().
  static gpointer give(T value) {
    auto* h = new Handoff{std::move(value)};
    h->given_.store(true, std::memory_order_release);
    return h;
  }
  // The value, on the thread that got the user data.
  static T& take(gpointer data) {
    auto* h = static_cast<Handoff*>(data);
    (void)h->given_.load(std::memory_order_acquire);
    return h->value_;
  }
  // The GDestroyNotify.
  static void drop(gpointer data) {
    take(data);
    delete static_cast<Handoff*>(data);
  }

 private:
  explicit Handoff(T value) : value_(std::move(value)) {}
  T value_;
  std::atomic<bool> given_{false};
};

}  // namespace kling
