// SPDX-License-Identifier: LGPL-2.1-or-later
// A cache of finished videos shared by every process of the machine. An entry
// is one file, <fingerprint>.kling: the video's bytes, then a JSON trailer that
// names the request, the task and the SHA-256 of those bytes, then the trailer's
// length and a magic word. It is written to a temporary name, fsync'd and
// renamed, so two processes saving one entry each leave a whole one, and it is
// read through one file descriptor and verified against its hash: a torn,
// truncated or mismatched entry is a miss, never another task's video. The
// folder is kept under a size (least recently used entries go first).
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/request/request.h"
#include "core/storage/download_store.h"

namespace kling {

class VideoCache {
 public:
  explicit VideoCache(std::string dir, uint64_t max_size = 0)
      : dir_(std::move(dir)), max_size_(max_size) {}
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // The verified video of `fingerprint`, or nullptr. `task_id` gets the task that made it.
  std::unique_ptr<DownloadStore> open(const std::string& fingerprint, std::string* task_id) const;
  // The same without reading the video: the entry whose trailer names `fingerprint`
  // (and its size), or nullptr. Nothing of it may be served before verify() says
  // Same; `sha256` gets the hash its bytes must have.
  std::unique_ptr<DownloadStore> open_unverified(const std::string& fingerprint,
                                                 std::string* task_id, std::string* sha256) const;
  enum class Check { Same, Differs, Stopped };
  // Hashes the bytes of `store` against `sha256`, a megabyte at a time; Stopped
  // once `stop` says so (asked before each megabyte).
  static Check verify(const DownloadStore& store, const std::string& sha256,
                      const std::function<bool()>& stop = {});
  // Makes `store` (complete) the entry of `request`, named `fingerprint` (the
  // request as asked for): renamed into place, with the hash it made as the
  // bytes arrived, when it was created in the cache folder; hashed and copied
  // otherwise. Then evicts down to max_size. `cancellable` stops that hash and
  // that copy (a megabyte at a time).
  bool save(const Request& request, const std::string& fingerprint, const std::string& task_id,
            DownloadStore& store, std::string* error, GCancellable* cancellable = nullptr) const;
  // Removes least recently used entries until the folder holds at most `max_size_`
  // bytes of entries, never `keep`; removes temporaries a dead writer left (kOrphanSeconds).
  void evict(const std::string& keep) const;

  static constexpr const char* kExtension = ".kling";
  // A temporary entry untouched this long was left by a writer that died: removed.
  static constexpr int64_t kOrphanSeconds = 3600;

 private:
  std::string entry(const std::string& fingerprint) const;
  // `store`'s own file, its `trailer` after the video, fsync'd and linked or renamed
  // to `path`, when the store was made in this folder; false otherwise (`error` set
  // when it was, but cannot be).
  static bool adopt(DownloadStore& store, const std::string& trailer, const std::string& path,
                    std::string* error);
  // A copy of `store` and its `trailer` at `path`; false and `error` when it cannot be made.
  static bool copy(DownloadStore& store, const std::string& trailer, std::string* path,
                   std::string* error, GCancellable* cancellable);
  std::string dir_;
  uint64_t max_size_;
};

}  // namespace kling
