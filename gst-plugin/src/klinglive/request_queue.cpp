// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/request_queue.h"

#include <gio/gio.h>

#include <functional>
#include <utility>

#include "core/util/context_thread.h"

namespace kling::live {

// A GFileMonitor on `path`, its signals on a thread ("kling-playlist") that runs its
// own main context; `changed` runs there. Ready when constructed; joined when destroyed.
class RequestQueue::Watch {
 public:
  Watch(const std::string& path, std::function<void()> changed)
      : changed_(std::move(changed)),
        thread_(
            "kling-playlist", [this, path] { start(path); }, [this] { stop(); }) {}
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

 private:
  void start(const std::string& path) {
    g_autoptr(GFile) file = g_file_new_for_path(path.c_str());
    // WATCH_MOVES: an editor's save (a new file renamed over the old) is one event.
    monitor_ = g_file_monitor_file(file, G_FILE_MONITOR_WATCH_MOVES, nullptr, nullptr);
    if (monitor_)
      g_signal_connect(
          monitor_, "changed",
          G_CALLBACK(+[](GFileMonitor*, GFile*, GFile*, GFileMonitorEvent event, gpointer self) {
            if (event != G_FILE_MONITOR_EVENT_DELETED &&
                event != G_FILE_MONITOR_EVENT_PRE_UNMOUNT &&
                event != G_FILE_MONITOR_EVENT_UNMOUNTED)
              static_cast<Watch*>(self)->changed_();
          }),
          this);
  }
  // On the watch's thread: the monitor is cancelled where it runs.
  void stop() {
    if (!monitor_) return;
    g_signal_handlers_disconnect_by_data(monitor_, this);
    g_file_monitor_cancel(monitor_);
    g_clear_object(&monitor_);
  }

  std::function<void()> changed_;
  GFileMonitor* monitor_ = nullptr;  // the watch's thread only
  ContextThread thread_;             // last: started once the rest is set, joined first
};

std::string playlist_entry(const std::string& line) {
  g_autofree char* copy = g_strstrip(g_strdup(line.c_str()));
  if (copy[0] == '#') return "";
  return copy;
}

RequestQueue::RequestQueue() = default;

RequestQueue::~RequestQueue() {
  stop_watching();
}

bool RequestQueue::push(const std::string& text) {
  g_autofree char* stripped = g_strstrip(g_strdup(text.c_str()));
  std::string entry = stripped;
  if (entry.empty()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  queued_.push_back(entry);
  return true;
}

void RequestQueue::set_playlist(const std::string& path) {
  std::lock_guard<std::mutex> watch_lock(watch_mutex_);
  watch_.reset();  // joined: no read of the old file after this
  {
    std::lock_guard<std::mutex> lock(mutex_);
    playlist_ = path;
    lines_.clear();
    taken_ = 0;
  }
  if (path.empty()) return;
  // Watched from here on; a change between the read below and the watch is read again.
  reread(path);
  watch_ = std::make_unique<Watch>(path, [this, path] { reread(path); });
  reread(path);
}

void RequestQueue::stop_watching() {
  std::lock_guard<std::mutex> watch_lock(watch_mutex_);
  watch_.reset();
}

// Read without the lock (pop() never waits for the file system), then swapped in.
void RequestQueue::reread(const std::string& path) {
  g_autofree char* data = nullptr;
  if (!g_file_get_contents(path.c_str(), &data, nullptr, nullptr)) return;
  std::vector<std::string> lines;
  g_auto(GStrv) split = g_strsplit(data, "\n", -1);
  for (char** l = split; *l; l++) {
    std::string entry = playlist_entry(*l);
    if (!entry.empty()) lines.push_back(entry);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (playlist_ == path) lines_ = std::move(lines);
}

std::optional<std::string> RequestQueue::pop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!queued_.empty()) {
    std::string front = queued_.front();
    queued_.pop_front();
    return front;
  }
  if (taken_ < lines_.size()) return lines_[taken_++];
  return std::nullopt;
}

void RequestQueue::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  queued_.clear();
}

bool RequestQueue::empty() {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_.empty() && taken_ >= lines_.size();
}

}  // namespace kling::live
