// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/util/async_sha256.h"

namespace kling {

AsyncSha256::~AsyncSha256() {
  std::deque<Piece> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(queue_);  // nobody will ask for the hash: not worth finishing
  }
  pause();
}

void AsyncSha256::update(std::shared_ptr<const void> owner, const char* data, size_t size) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return queue_.size() < kMaxQueued; });
  queue_.push_back({std::move(owner), data, size});
  changed_.notify_all();
  if (!thread_.joinable()) {
    quit_ = false;
    thread_ = NamedThread(kThreadName, [this] { run(); });
  }
}

std::string AsyncSha256::hex() {
  pause();
  return sum_.hex();
}

void AsyncSha256::pause() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void AsyncSha256::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return !queue_.empty() || quit_; });
    if (queue_.empty()) return;
    Piece piece = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();  // room for the writer
    lock.unlock();
    sum_.update(piece.data, piece.size);
    piece.owner.reset();  // its chunk may go back to the pool: not under our lock
    lock.lock();
  }
}

}  // namespace kling
