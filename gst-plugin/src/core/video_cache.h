// A content-addressed cache of finished videos: <fingerprint>.mp4 beside
// <fingerprint>.json, each written to a temporary name, fsync'd and renamed,
// so a crash leaves either a whole entry or none. A repeated request replays
// from disk without submitting (no second bill).
#pragma once

#include <gio/gio.h>

#include <memory>
#include <string>

#include "download_store.h"
#include "request.h"

namespace kling {

class VideoCache {
 public:
  explicit VideoCache(std::string dir) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // The cached video of `fingerprint`, or nullptr. `task_id` gets the task that made it.
  std::unique_ptr<DownloadStore> open(const std::string& fingerprint, std::string* task_id) const;
  // Makes `store` (complete) the entry of `request`: renamed into place when it
  // was created in the cache folder, copied otherwise (a copy `cancellable` ends).
  bool save(const Request& request, const std::string& task_id, DownloadStore& store,
            std::string* error, GCancellable* cancellable = nullptr) const;

 private:
  std::string entry(const std::string& fingerprint, const char* ext) const;
  std::string dir_;
};

}  // namespace kling
