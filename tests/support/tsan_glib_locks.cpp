// SPDX-License-Identifier: LGPL-2.1-or-later
// Makes GLib's locks visible to ThreadSanitizer in the TSan build's tests
// (scripts/tsan.sh), linked into every test program there and nowhere else.
//
// GLib and GStreamer are not built with TSan. GLib 2.74's GMutex and GCond are
// futexes TSan cannot see: every object GStreamer hands from one thread to
// another under them (a buffer through a queue, an element to a streaming
// thread whose task starts under the task's lock) looks unordered, and TSan
// reports races that cannot happen. This program defines those functions
// itself: GStreamer's libraries and our plugin call them through the PLT and get
// these, which call GLib's and tell TSan the order they give (a release before
// unlocking, an acquire after locking). Only the order: not a lock TSan checks
// for deadlocks, as GStreamer's own lock order is not ours to judge. GLib's
// calls inside GLib itself do not come here (it binds them directly).
//
// GRecMutex and GRWLock are not wrapped: GLib builds them on pthread_mutex_t
// and pthread_rwlock_t, whose calls TSan intercepts itself and models exactly
// (a wrapper here would make two readers of a GRWLock ordered, hiding a write
// made under a read lock).
#include <dlfcn.h>
#include <glib.h>
#include <sanitizer/tsan_interface.h>

namespace {

// GLib's own function of that name.
template <typename Fn>
Fn glib(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (!fn) g_error("tsan_glib_locks: GLib has no %s", name);
  return reinterpret_cast<Fn>(fn);
}

}  // namespace

// Exported from the test program (the project builds with hidden visibility).
#define KLING_EXPORT __attribute__((visibility("default")))
#define KLING_REAL(name) static const auto real = glib<decltype(&name)>(#name)

extern "C" {

// An acquire after the mutex is taken (not after a failed trylock), a release
// before it is given back.
KLING_EXPORT void g_mutex_lock(GMutex* mutex) {
  KLING_REAL(g_mutex_lock);
  real(mutex);
  __tsan_acquire(mutex);
}

KLING_EXPORT gboolean g_mutex_trylock(GMutex* mutex) {
  KLING_REAL(g_mutex_trylock);
  gboolean locked = real(mutex);
  if (locked) __tsan_acquire(mutex);
  return locked;
}

KLING_EXPORT void g_mutex_unlock(GMutex* mutex) {
  KLING_REAL(g_mutex_unlock);
  __tsan_release(mutex);
  real(mutex);
}

// A wait unlocks the mutex and locks it again before returning.
KLING_EXPORT void g_cond_wait(GCond* cond, GMutex* mutex) {
  KLING_REAL(g_cond_wait);
  __tsan_release(mutex);
  real(cond, mutex);
  __tsan_acquire(mutex);
}

KLING_EXPORT gboolean g_cond_wait_until(GCond* cond, GMutex* mutex, gint64 end_time) {
  KLING_REAL(g_cond_wait_until);
  __tsan_release(mutex);
  gboolean signalled = real(cond, mutex, end_time);
  __tsan_acquire(mutex);
  return signalled;
}

}  // extern "C"
