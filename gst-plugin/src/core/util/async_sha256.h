// SPDX-License-Identifier: LGPL-2.1-or-later
// The SHA-256 of a stream of bytes, hashed on a thread of its own while the
// stream goes on: the download thread keeps reading the socket and writing the
// file meanwhile (on 2 cores the hash alone is 145 ms of a 256 MiB video, as
// long as the rest of the download). The thread starts with the first bytes and
// ends at pause() (the download stopped), when the hash is asked for, or with
// the object. At most kMaxQueued
// pieces wait for it: a writer that gets ahead waits, so memory stays flat.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "core/util/named_thread.h"
#include "core/util/sha256.h"

namespace kling {

class AsyncSha256 {
 public:
  AsyncSha256() = default;
  ~AsyncSha256();  // drops what is queued and joins
  AsyncSha256(const AsyncSha256&) = delete;
  AsyncSha256& operator=(const AsyncSha256&) = delete;

  // Hashes [data, data + size) after everything given before; `owner` keeps
  // those bytes valid (and unchanged) until then. Blocks while the queue is full.
  void update(std::shared_ptr<const void> owner, const char* data, size_t size);
  // Hashes what is queued, then ends the thread (the writer stops for now: no
  // idle thread stays behind); the next update() starts another. The thread
  // that calls update().
  void pause();
  // pause(), then the SHA-256 (hex) of every byte given. More bytes may follow.
  std::string hex();

  static constexpr size_t kMaxQueued = 8;
  static constexpr const char* kThreadName = "kling-hash";

 private:
  void run();

  struct Piece {
    std::shared_ptr<const void> owner;
    const char* data;
    size_t size;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Piece> queue_;
  bool quit_ = false;  // the thread ends once the queue is empty
  Sha256 sum_;         // the thread's while it runs; read after the join
  NamedThread thread_;
};

}  // namespace kling
