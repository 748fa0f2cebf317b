// SPDX-License-Identifier: LGPL-2.1-or-later
// The life of one generation on a worker thread: submit (once), poll until a
// final status, then download into the DownloadStore. Owns the retry policy
// and the deadline; reports through callbacks and knows nothing of pads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/util/named_thread.h"
#include "core/wavespeed/api_client.h"

namespace kling {

enum class ProgressType { Start, Continue, Complete, Canceled, Error };

// Called on the worker thread. They must not throw and must not call back into the runner.
struct TaskEvents {
  std::function<void(ProgressType type, const char* code, const std::string& text)> progress;
  std::function<void(const api::Task& task)> task;  // each time the task's status changes
  std::function<void(uint64_t have, std::optional<uint64_t> total)> download;  // throttled
};

class TaskRunner {
 public:
  // `fingerprint`: the request's, as start() named it (Request::fingerprint()); the
  // worker names it again by its typed body once it has the model's schema.
  // `resume_id`: a task submitted before (request-id, or an earlier run of this element).
  TaskRunner(Request request, std::string fingerprint, std::string resume_id,
             std::shared_ptr<DownloadStore> store, TaskEvents events);
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // The worker thread's name, as /proc shows it.
  static constexpr const char* kThreadName = "kling-task";

  void start();
  // Cancels every wait and request and joins the worker (it ends promptly once
  // cancelled). False when called on the worker's own thread (a bus sync
  // handler): then join() must be called later from another thread.
  // The task keeps running on WaveSpeed.
  bool stop();
  // Joins a worker already stopped; false on its own thread.
  bool join();
  // The element told the user it stopped waiting (an EOS): do not say it again at stop().
  void mark_stop_announced();
  // The task id once submitted ("" before). Any thread.
  std::string task_id() const;
  // True once the task reached a final status other than completed: a rerun must submit anew.
  bool task_failed() const;
  // True when a submit may have reached WaveSpeed without its reply arriving:
  // submitting again could bill twice.
  bool submit_uncertain() const;

 private:
  // Everything the worker thread touches, shared with it: a runner dropped on
  // its own thread (a bus sync handler) leaves the worker alive until it returns.
  class Worker;
  std::shared_ptr<Worker> worker_;
  NamedThread thread_;
};

}  // namespace kling
