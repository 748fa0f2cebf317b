// An append-only JSON-lines journal of every submitted task, so that a crash,
// a kill -9 or a Ctrl-C never loses a task that was paid for. One line when a
// task is submitted (with its parameters, never the key), one per status change.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "request.h"

namespace kling {

// How long a journal write waits for another process's lock on the file, and what ends the wait.
struct JournalLockWait {
  GCancellable* cancellable = nullptr;
  std::function<unsigned()> max_ms;  // asked at each write; unset: 10 s
};

class TaskJournal {
 public:
  using LockWait = JournalLockWait;
  static constexpr unsigned kDefaultLockWaitMs = 10000;

  // The journal of one request (named by its fingerprint). `path` empty: off.
  TaskJournal(std::string path, std::string fingerprint, LockWait wait = {})
      : path_(std::move(path)), fingerprint_(std::move(fingerprint)), wait_(std::move(wait)) {}
  // $XDG_STATE_HOME/gst-kling/journal.jsonl
  static std::string default_path();

  bool enabled() const { return !path_.empty(); }

  // Each appends one fsync'd line; false and `error` when it cannot (the lock
  // not had within the wait, or a cancel, among the reasons).
  bool record_submitted(const Request& request, const std::string& task_id,
                        const std::string& status, std::string* error) const;
  enum class Write { Ok, Failed, Busy, Cancelled };  // Busy: another process held the lock
  // Before each submit (`outcome` null), and after one proven to have made no
  // task (`outcome` says why): a submit whose reply never came stays on record.
  Write record_submitting(const char* outcome, std::string* error) const;
  bool record_status(const std::string& task_id, const std::string& status,
                     const std::vector<std::string>& outputs, const std::string& detail,
                     std::string* error) const;

  struct Entry {
    std::string task_id;
    std::string status;       // last status seen
    int64_t submitted_unix = 0;
  };
  struct Lookup {
    // The newest task of this request that is neither delivered nor ended, and
    // still within WaveSpeed's 7-day retention.
    std::optional<Entry> unfinished;
    // When the last submit of this request never got its reply, its time.
    std::optional<int64_t> uncertain_submit;
  };
  // One read of the file.
  Lookup lookup(int64_t now_unix) const;

  // The status written once the video was delivered whole.
  static constexpr const char* kDelivered = "delivered";
  // The status written when the task or its output is gone (404/410): nothing to resume.
  static constexpr const char* kGone = "gone";

 private:
  Write append(const std::string& line, std::string* error) const;
  // Takes the file's lock, waiting at most the LockWait's time, woken by its cancel.
  Write lock(int fd, std::string* error) const;
  // Calls `each` with every readable line's object, oldest first.
  template <typename Each>
  void for_each_line(Each each) const;
  std::string path_;
  std::string fingerprint_;
  LockWait wait_;
};

}  // namespace kling
