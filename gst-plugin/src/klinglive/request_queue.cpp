// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/request_queue.h"

#include <glib/gstdio.h>

namespace kling::live {

std::string playlist_entry(const std::string& line) {
  g_autofree char* copy = g_strstrip(g_strdup(line.c_str()));
  if (copy[0] == '#') return "";
  return copy;
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
  std::lock_guard<std::mutex> lock(mutex_);
  playlist_ = path;
  lines_.clear();
  taken_ = 0;
  stamp_ = -1;
  read_locked();
}

void RequestQueue::reread_if_changed() {
  std::lock_guard<std::mutex> lock(mutex_);
  read_locked();
}

void RequestQueue::read_locked() {
  if (playlist_.empty()) return;
  GStatBuf st;
  if (g_stat(playlist_.c_str(), &st) != 0) return;
  gint64 stamp = static_cast<gint64>(st.st_mtime) * 1000003 + static_cast<gint64>(st.st_size);
  if (stamp == stamp_) return;
  stamp_ = stamp;
  g_autofree char* data = nullptr;
  if (!g_file_get_contents(playlist_.c_str(), &data, nullptr, nullptr)) return;
  lines_.clear();
  g_auto(GStrv) split = g_strsplit(data, "\n", -1);
  for (char** l = split; *l; l++) {
    std::string entry = playlist_entry(*l);
    if (!entry.empty()) lines_.push_back(entry);
  }
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
