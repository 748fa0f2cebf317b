// SPDX-License-Identifier: LGPL-2.1-or-later
// A local image for an image-to-video model, put on WaveSpeed's storage with the
// upload ticket flow: POST /api/v3/media/uploads {filename, size, content_type}
// with the key, then one PUT of the bytes to the ticket's URL with exactly the
// ticket's headers and never the key (that host is not the API). The ticket's
// download_url is what the submit sends as `image`. The same bytes (by hash) are
// not uploaded twice within a day to one API origin.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/http_transport.h"
#include "core/request/request.h"
#include "core/util/error.h"

namespace kling {

struct UploadTicket {
  std::string download_url;
  std::string upload_url;
  std::string method;
  std::vector<HttpTransport::Header> headers;
};

// The ticket in a reply to POST /api/v3/media/uploads; nullopt and `error` otherwise.
std::optional<UploadTicket> parse_upload_ticket(std::string_view body, std::string* error);

class ImageUploader {
 public:
  static constexpr int64_t kReuseSeconds = 24 * 3600;
  enum class Outcome { Done, Failed, Cancelled };
  // Called with done=false when an upload starts, done=true when the URL is had.
  using Progress = std::function<void(bool done, const std::string& text)>;
  // Sleeps `ms` unless cancelled first; false when cancelled.
  using Sleep = std::function<bool(unsigned ms)>;

  // `request.image_file` and `image_sha256` set (resolve_local_image). `dir` "": user_cache_dir().
  explicit ImageUploader(const Request& request, std::string dir = {});

  // `url` gets the download URL to send as `image`.
  Outcome upload(HttpTransport& http, GCancellable* cancellable, const Progress& progress,
                 const Sleep& sleep, std::string* url, Error* error) const;

  // Where the upload of these bytes to this origin is remembered.
  const std::string& record_path() const { return record_; }
  // The download URL of an upload of these bytes to this origin under a day old, read from
  // record_path(); nullopt when there is none or the record does not read.
  std::optional<std::string> remembered(int64_t* age_s) const;

 private:
  void remember(const std::string& url) const;
  GBytes* read_checked(Error* error) const;

  const Request& request_;
  const std::string record_;
};

}  // namespace kling
