// SPDX-License-Identifier: LGPL-2.1-or-later
// RAII owner for GObjects held as C++ members. (Locals use g_autoptr/g_autofree,
// a thread's own main context g_main_context_pusher_new.)
#pragma once

#include <glib-object.h>

#include <utility>

namespace kling {

// A strong GObject reference: copying refs, destruction unrefs.
template <typename T>
class GRef {
 public:
  GRef() = default;
  // Takes ownership of a reference the caller already holds.
  static GRef adopt(T* obj) {
    GRef r;
    r.obj_ = obj;
    return r;
  }
  // Adds a reference of its own.
  static GRef share(T* obj) { return adopt(obj ? static_cast<T*>(g_object_ref(obj)) : nullptr); }

  GRef(const GRef& o) : obj_(o.obj_ ? static_cast<T*>(g_object_ref(o.obj_)) : nullptr) {}
  GRef(GRef&& o) noexcept : obj_(std::exchange(o.obj_, nullptr)) {}
  GRef& operator=(GRef o) noexcept {
    std::swap(obj_, o.obj_);
    return *this;
  }
  ~GRef() {
    if (obj_) g_object_unref(obj_);
  }

  T* get() const { return obj_; }
  explicit operator bool() const { return obj_ != nullptr; }

 private:
  T* obj_ = nullptr;
};

}  // namespace kling
