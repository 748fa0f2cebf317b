// Makes GLib's locks visible to ThreadSanitizer in the TSan build's tests
// (scripts/tsan.sh), linked into every test program there and nowhere else.
//
// GLib and GStreamer are not built with TSan, and GMutex, GRecMutex, GRWLock
// and GCond are futexes TSan cannot see: every object GStreamer hands from one
// thread to another under them (a buffer through a queue, an element to a
// streaming thread whose task starts under the task's lock) looks unordered,
// and TSan reports races that cannot happen. This program defines those lock
// functions itself: GStreamer's libraries and our plugin call them through the
// PLT and get these, which call GLib's and tell TSan the order they give (a
// release before unlocking, an acquire after locking). Only the order: not a
// lock TSan checks for deadlocks, as GStreamer's own lock order is not ours to
// judge. GLib's calls inside GLib itself do not come here (it binds them
// directly); tests/tsan.supp covers what they leave.
#include <dlfcn.h>
#include <glib.h>
#include <sanitizer/tsan_interface.h>

namespace {

// GLib's own function of that name.
template <typename Fn>
Fn glib(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (!fn)
    g_error("tsan_glib_locks: GLib has no %s", name);
  return reinterpret_cast<Fn>(fn);
}

}  // namespace

// Exported from the test program (the project builds with hidden visibility).
#define KLING_EXPORT __attribute__((visibility("default")))
#define KLING_REAL(name) static const auto real = glib<decltype(&name)>(#name)

extern "C" {

KLING_EXPORT void g_mutex_lock(GMutex* mutex) {
  KLING_REAL(g_mutex_lock);
  real(mutex);
  __tsan_acquire(mutex);
}

KLING_EXPORT gboolean g_mutex_trylock(GMutex* mutex) {
  KLING_REAL(g_mutex_trylock);
  gboolean locked = real(mutex);
  if (locked)
    __tsan_acquire(mutex);
  return locked;
}

KLING_EXPORT void g_mutex_unlock(GMutex* mutex) {
  KLING_REAL(g_mutex_unlock);
  __tsan_release(mutex);
  real(mutex);
}

KLING_EXPORT void g_rec_mutex_lock(GRecMutex* mutex) {
  KLING_REAL(g_rec_mutex_lock);
  real(mutex);
  __tsan_acquire(mutex);
}

KLING_EXPORT gboolean g_rec_mutex_trylock(GRecMutex* mutex) {
  KLING_REAL(g_rec_mutex_trylock);
  gboolean locked = real(mutex);
  if (locked)
    __tsan_acquire(mutex);
  return locked;
}

KLING_EXPORT void g_rec_mutex_unlock(GRecMutex* mutex) {
  KLING_REAL(g_rec_mutex_unlock);
  __tsan_release(mutex);
  real(mutex);
}

KLING_EXPORT void g_rw_lock_writer_lock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_writer_lock);
  real(lock);
  __tsan_acquire(lock);
}

KLING_EXPORT gboolean g_rw_lock_writer_trylock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_writer_trylock);
  gboolean locked = real(lock);
  if (locked)
    __tsan_acquire(lock);
  return locked;
}

KLING_EXPORT void g_rw_lock_writer_unlock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_writer_unlock);
  __tsan_release(lock);
  real(lock);
}

KLING_EXPORT void g_rw_lock_reader_lock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_reader_lock);
  real(lock);
  __tsan_acquire(lock);
}

KLING_EXPORT gboolean g_rw_lock_reader_trylock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_reader_trylock);
  gboolean locked = real(lock);
  if (locked)
    __tsan_acquire(lock);
  return locked;
}

// A reader's release too: a writer after it must see the reads done.
KLING_EXPORT void g_rw_lock_reader_unlock(GRWLock* lock) {
  KLING_REAL(g_rw_lock_reader_unlock);
  __tsan_release(lock);
  real(lock);
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
