// SPDX-License-Identifier: LGPL-2.1-or-later
// The requests klinglivesrc has yet to start: those queued by the app (the
// `prompt` property, the `queue` signal) come first, then the lines of the
// playlist file not taken yet. Thread-safe: the app queues, the output takes.
#pragma once

#include <glib.h>

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kling::live {

class RequestQueue {
 public:
  // A prompt or a kling:// URI; blank text is refused.
  bool push(const std::string& text);
  // Takes the lines of `path` from the first; "" drops the playlist.
  void set_playlist(const std::string& path);
  // Reads the playlist again if its size or time changed since the last read.
  // Lines already taken are not taken again: appended lines are what is new.
  void reread_if_changed();
  std::optional<std::string> pop();
  // Forgets the app's requests (the playlist stays as set).
  void clear();
  bool empty();

 private:
  void read_locked();

  std::mutex mutex_;
  std::deque<std::string> queued_;
  std::string playlist_;
  std::vector<std::string> lines_;
  size_t taken_ = 0;
  gint64 stamp_ = -1;  // size and mtime of the last read, folded
};

// Trims a line; "" for a blank line or a comment (#...).
std::string playlist_entry(const std::string& line);

}  // namespace kling::live
