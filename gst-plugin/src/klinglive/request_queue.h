// SPDX-License-Identifier: LGPL-2.1-or-later
// The requests klinglivesrc has yet to start: those queued by the app (the
// `prompt` property, the `queue` signal) come first, then the lines of the
// playlist file not taken yet. Thread-safe: the app queues, the output takes.
// The playlist is watched with a GFileMonitor on a thread of its own (its own
// GMainContext) while the element runs: the output's streaming thread never
// touches the file system.
#pragma once

#include <glib.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kling::live {

class RequestQueue {
 public:
  RequestQueue();
  ~RequestQueue();
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;

  // A prompt or a kling:// URI; blank text is refused.
  bool push(const std::string& text);
  // Takes the lines of `path` from the first and watches the file: when it changes it is
  // read again, and lines after those already taken are queued (appended lines are what
  // is new). "" drops the playlist.
  void set_playlist(const std::string& path);
  // No more watching (the element stopped); set_playlist() watches again.
  void stop_watching();
  std::optional<std::string> pop();
  // Forgets the app's requests (the playlist stays as set).
  void clear();
  bool empty();

 private:
  class Watch;
  void reread(const std::string& path);

  std::mutex mutex_;
  std::deque<std::string> queued_;
  std::string playlist_;
  std::vector<std::string> lines_;
  size_t taken_ = 0;

  std::mutex watch_mutex_;  // set_playlist/stop_watching, one at a time; never inside mutex_
  std::unique_ptr<Watch> watch_;
};

// Trims a line; "" for a blank line or a comment (#...).
std::string playlist_entry(const std::string& line);

}  // namespace kling::live
