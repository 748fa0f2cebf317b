// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: task bookkeeping and the status state machine.
#include "task_store.h"

#include <algorithm>

namespace emu {

namespace {

std::string now_iso8601() {
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  g_autofree char* base = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  g_autofree char* full =
      g_strdup_printf("%s.%03dZ", base, g_date_time_get_microsecond(now) / 1000);
  return full;
}

std::string random_id() {
  std::string id;
  for (int i = 0; i < 4; i++) {
    char part[9];
    g_snprintf(part, sizeof part, "%08x", g_random_int());
    id += part;
  }
  return id;
}

}  // namespace

std::string TaskStore::create(const TaskRequest& request) {
  auto task = std::make_unique<Task>();
  task->request = request;
  task->created_at = now_iso8601();
  task->submitted_us = g_get_monotonic_time();
  std::lock_guard<std::mutex> lock(mutex_);
  std::string id;
  do id = random_id();
  while (tasks_.count(id));
  tasks_[id] = std::move(task);
  return id;
}

void TaskStore::set_output(const std::string& id, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  it->second->output_path = path;
  it->second->output_ready_us = g_get_monotonic_time();
}

void TaskStore::set_generation_error(const std::string& id, int code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tasks_.find(id);
  // The first failure stands (a media fetch failure, then the render it stopped).
  if (it != tasks_.end() && it->second->generation_error.empty()) {
    it->second->generation_error = message;
    it->second->generation_code = code;
  }
}

bool TaskStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second->deleted) return false;
  it->second->deleted = true;
  return true;
}

double TaskStore::charged() const {
  std::lock_guard<std::mutex> lock(mutex_);
  double total = 0;
  for (const auto& entry : tasks_) {
    TaskView view;
    fill_status(*entry.second, &view);
    if (view.status != "failed") total += entry.second->request.price;
  }
  return total;
}

std::optional<TaskView> TaskStore::view(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return std::nullopt;
  const Task& task = *it->second;

  TaskView view;
  view.id = id;
  view.model = task.request.model;
  view.created_at = task.created_at;

  fill_status(task, &view);
  if (task.deleted) {
    // Deleted: the task is still known (polls say so) but its output is gone.
    view.status = "deleted";
    view.code = 0;
    view.error.clear();
    view.output_path.clear();
  }
  return view;
}

void TaskStore::fill_status(const Task& task, TaskView* view) const {
  const int64_t latency_us = int64_t(config_.latency_ms) * 1000;
  const int64_t elapsed_us = g_get_monotonic_time() - task.submitted_us;
  const bool latency_over = elapsed_us >= latency_us;

  if (latency_over && config_.fail_task) {
    view->status = "failed";
    view->code = config_.fail_task_code;
    view->error = config_.fail_task_message;
  } else if (latency_over && !task.generation_error.empty()) {
    view->status = "failed";
    view->code = task.generation_code;
    view->error = task.generation_error;
  } else if (latency_over && !task.output_path.empty()) {
    view->status = "completed";
    view->output_path = task.output_path;
    view->inference_ms = std::max(latency_us, task.output_ready_us - task.submitted_us) / 1000;
  } else {
    // "created" for the first quarter of the latency, then "processing".
    view->status = elapsed_us < latency_us / 4 ? "created" : "processing";
    if (view->status == "processing" && config_.processing_5004) view->code = 5004;
  }
}

}  // namespace emu
