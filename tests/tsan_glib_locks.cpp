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

// lock, trylock and unlock of one kind of lock: an acquire after it is taken,
// a release before it is given back (a reader's too: a writer after it must
// see the reads done).
#define KLING_LOCK_FUNCTIONS(Lock, lock, trylock, unlock) \
  KLING_EXPORT void lock(Lock* l) {                       \
    KLING_REAL(lock);                                     \
    real(l);                                              \
    __tsan_acquire(l);                                    \
  }                                                       \
  KLING_EXPORT gboolean trylock(Lock* l) {                \
    KLING_REAL(trylock);                                  \
    gboolean locked = real(l);                            \
    if (locked)                                           \
      __tsan_acquire(l);                                  \
    return locked;                                        \
  }                                                       \
  KLING_EXPORT void unlock(Lock* l) {                     \
    KLING_REAL(unlock);                                   \
    __tsan_release(l);                                    \
    real(l);                                              \
  }

extern "C" {

KLING_LOCK_FUNCTIONS(GMutex, g_mutex_lock, g_mutex_trylock, g_mutex_unlock)
KLING_LOCK_FUNCTIONS(GRecMutex, g_rec_mutex_lock, g_rec_mutex_trylock, g_rec_mutex_unlock)
KLING_LOCK_FUNCTIONS(GRWLock, g_rw_lock_writer_lock, g_rw_lock_writer_trylock, g_rw_lock_writer_unlock)
KLING_LOCK_FUNCTIONS(GRWLock, g_rw_lock_reader_lock, g_rw_lock_reader_trylock, g_rw_lock_reader_unlock)

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
