// SPDX-License-Identifier: LGPL-2.1-or-later
// One element's generations, GStreamer-free: which one to reuse, resume or
// replay when a request starts, the task runner that makes it, and reads of
// its bytes. Kept across stop()/start() so the same request on one element
// never submits (bills) twice: a finished video replays from its store, a task
// in flight is polled again by its id, a cached video replays from disk.
//
// A front end (klingsrc, klinglivesrc) owns one, calls start()/stop() from its
// state changes and read() from whatever thread wants bytes, and turns the
// events into messages. Events are called with no lock of this class held, so
// they may call back into it (task_id() from a bus sync handler).
#pragma once

#include <gio/gio.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/task/task_runner.h"
#include "core/util/error.h"

namespace kling {

class ElementSession {
 public:
  explicit ElementSession(TaskEvents events);
  // Stops the worker and joins it.
  ~ElementSession();
  ElementSession(const ElementSession&) = delete;
  ElementSession& operator=(const ElementSession&) = delete;

  // Takes the request for the next run, validated here. Cheap and remote-free
  // (GstBaseSrc starts and stops once just to probe random access): the same
  // request as before keeps its store and task, a cached one replays (a
  // `cache` progress says so; its bytes are checked against their SHA-256 by
  // the first read, which a stop() ends, not here), another gets a new store.
  // Nothing is submitted.
  std::optional<Error> start(Request request);
  // Wakes every read, cancels every wait and request of the worker and joins
  // it (see TaskRunner::stop for a call from the worker's own thread). What the task
  // came to stays for a start() of the same request; a failed task is dropped.
  void stop();

  // What read() found.
  struct Read {
    enum class Status { Ok, Eos, Flushing, Error } status = Status::Flushing;
    Error error;  // Status::Error
    uint64_t offset = 0;
    size_t size = 0;                           // Ok: clipped at the end of the video
    std::vector<DownloadStore::Piece> pieces;  // Ok: in order, covering [offset, offset + size)
    bool in_memory = false;                    // every piece is Memory: wrap them, no copy needed
    std::shared_ptr<DownloadStore> store;      // keeps the pieces' file readable
  };
  // The bytes [offset, offset + size) once present: starts the task runner on
  // the first read (never in start()), waits for the bytes, and reads holes
  // (bytes let go) again from the CDN. `random_access` (pull mode) keeps every
  // byte on disk from now on. Blocks until the bytes exist, the end, an error,
  // or set_flushing(true).
  Read read(uint64_t offset, size_t size, bool random_access);
  // Copies a read that is not all in memory into `dest` (read.size bytes).
  static bool copy(const Read& read, uint8_t* dest, Error* error);

  // The size of the video once the download announced it.
  std::optional<uint64_t> size() const;
  // The current task's id ("" before the submit). Any thread.
  std::string task_id() const;
  // The request of the current run (between start() and stop()).
  std::optional<Request> request() const;
  // True wakes every read and refuses new ones (unlock); false lets them wait again.
  // The task goes on either way (a flushing seek must not stop a paid generation).
  void set_flushing(bool flushing);
  // The application ends the wait (an EOS sent to the element): the task goes
  // on; a `poll` CANCELED progress says so once, with the id to resume it.
  void announce_stop();

 private:
  struct State;  // one generation's: fingerprint, task, store, runner
  std::shared_ptr<DownloadStore> ensure_running(Error* error, bool* flushing);
  bool verify_replay(std::unique_lock<std::mutex>& lock, Error* error, bool* flushing);
  Read::Status refetch_hole(DownloadStore& store, const DownloadStore::Piece& hole, Error* error);
  void join_previous();
  void progress(ProgressType type, const char* code, const std::string& text);

  const TaskEvents events_;
  // Cancelled by set_flushing(true): a read of let-go bytes from the CDN ends at once.
  GRef<GCancellable> cancellable_;

  mutable std::mutex mutex_;  // guards everything below; never held while calling out
  std::optional<Request> request_;
  std::unique_ptr<State> state_;
  TaskRunner* stopping_ = nullptr;    // the runner stop() is joining: task_id() asks it
  std::condition_variable stopped_;   // stopping_ went back to null
  std::condition_variable verified_;  // a read's check of a cached video ended
  // A runner stopped from its own thread (a bus sync handler): joined before
  // another starts on the same store, by the next caller on another thread.
  std::unique_ptr<TaskRunner> previous_;
};

}  // namespace kling
