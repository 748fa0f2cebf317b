// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the tasks submitted so far and the status each one shows.
//
// The status is derived from clocks at read time (created -> processing ->
// completed/failed), so no timer has to run on the server loop. Generation
// threads report into the store; both servers read from it. Thread-safe.
#pragma once

#include "config.h"

#include <glib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace emu {

struct TaskRequest {
  std::string model;
  std::string prompt;
  std::string aspect_ratio;  // 16:9, 9:16 or 1:1
  int duration = 5;          // seconds
  std::string image;         // image-to-video: the first frame's URL
  bool audio = false;        // the model's videos have a sound track
  bool sync = false;         // enable_sync_mode: the submit reply waits
  double price = 0;          // charged at submit, refunded if the task fails
};

// What a poll (or the CDN) sees of a task at a given moment.
struct TaskView {
  std::string id;
  std::string model;
  std::string created_at;    // ISO 8601 UTC with milliseconds
  std::string status;        // created, processing, completed, failed, deleted
  int code = 0;              // task error code; 0 = none to report
  std::string error;         // failure message, empty otherwise
  int64_t inference_ms = 0;  // set once completed
  std::string output_path;   // local file, set once completed
};

class TaskStore {
 public:
  explicit TaskStore(const Config& config) : config_(config) {}

  // Registers a task and returns its id (32 lowercase hex digits).
  std::string create(const TaskRequest& request);

  // Generation threads report here.
  void set_output(const std::string& id, const std::string& path);
  // A failure shown once the latency has passed: data.code = code, data.error = message.
  void set_generation_error(const std::string& id, int code, const std::string& message);

  // Marks the task deleted (polls then show "deleted", its output is gone);
  // false if unknown or already deleted.
  bool remove(const std::string& id);

  // The task as seen now; nullopt if unknown.
  std::optional<TaskView> view(const std::string& id) const;

  // What the tasks cost so far: the prices of every task not failed (deleted ones included).
  double charged() const;

 private:
  struct Task {
    TaskRequest request;
    std::string created_at;
    int64_t submitted_us = 0;  // g_get_monotonic_time()
    std::string output_path;   // set when the file exists
    int64_t output_ready_us = 0;
    std::string generation_error;
    int generation_code = 0;
    bool deleted = false;
  };

  // The status part of a view (status, code, error, inference, output), now.
  void fill_status(const Task& task, TaskView* view) const;

  const Config& config_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Task>> tasks_;
};

}  // namespace emu
