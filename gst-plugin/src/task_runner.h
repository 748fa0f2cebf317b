// The life of one generation on a worker thread: submit (once), poll until a
// final status, then download into the DownloadStore. Owns the retry policy
// and the deadline; reports through callbacks and knows nothing of pads.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api_client.h"
#include "download_store.h"
#include "glib_ptr.h"
#include "request.h"
#include "task_journal.h"
#include "video_cache.h"

namespace kling {

class HttpTransport;

enum class ProgressType { Start, Continue, Complete, Canceled, Error };

// Called on the worker thread. They must not throw and must not call back into the runner.
struct TaskEvents {
  std::function<void(ProgressType type, const char* code, const std::string& text)> progress;
  std::function<void(const api::Task& task)> task;  // each time the task's status changes
  std::function<void(uint64_t have, std::optional<uint64_t> total)> download;  // throttled
};

class TaskRunner {
 public:
  // `resume_id`: a task submitted before (request-id, or an earlier run of this element).
  TaskRunner(Request request, std::string resume_id, std::shared_ptr<DownloadStore> store,
             TaskEvents events);
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  void start();
  // Cancels every wait and request and joins. The task keeps running on WaveSpeed.
  void stop();
  // The task id once submitted ("" before). Any thread.
  std::string task_id() const;
  // True once the task reached a final status other than completed: a rerun must submit anew.
  bool task_failed() const { return task_failed_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Outcome { Done, Failed, Cancelled };

  void run() noexcept;
  Outcome execute(HttpTransport& http);
  Outcome submit(HttpTransport& http, api::Task* task);
  Outcome poll_until_final(HttpTransport& http, api::Task* task);
  Outcome download(HttpTransport& http, api::Task task);

  // Sleeps `ms` unless cancelled first; false when cancelled.
  bool sleep_ms(unsigned ms);
  unsigned backoff_ms(unsigned attempt) const;
  std::optional<unsigned> ms_to_deadline() const;
  std::string poll_url_for(const api::Task& task) const;
  Outcome fail(Error error);
  // Publishes a status change (and journals it unless `journal` is false).
  void set_task(const api::Task& task, bool journal = true);
  void journal_status(const std::string& id, const std::string& status,
                      const std::vector<std::string>& outputs, const std::string& detail);
  void journal_failure(const std::string& what, const std::string& error);
  void progress(ProgressType type, const char* code, const std::string& text);

  const Request request_;
  const std::shared_ptr<DownloadStore> store_;
  const TaskEvents events_;
  const TaskJournal journal_;
  const VideoCache cache_;
  std::optional<Clock::time_point> deadline_;

  GRef<GCancellable> cancellable_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool cancelled_ = false;
  std::string task_id_;
  std::string last_status_;
  std::atomic<bool> task_failed_{false};
};

}  // namespace kling
