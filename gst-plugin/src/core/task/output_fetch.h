// SPDX-License-Identifier: LGPL-2.1-or-later
// The download loop of a task's output URL, one for the task's download and for
// bytes a store let go of and reads again (range_refetch.h): Range requests
// resumed where the last reply ended, each for the same version of the file
// (If-Range); a URL refused as gone (403/404/410) looked up once in the
// prediction; passing failures tried again after a wait, `retries` in a row.
// What a reply means for the bytes wanted (the end of the range, a changed
// file) is the caller's judgement.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/net/http_transport.h"
#include "core/request/request.h"
#include "core/util/error.h"

namespace kling {

class OutputFetch {
 public:
  // What one reply makes of the bytes wanted.
  enum class Verdict {
    Done,    // every byte wanted is there
    Failed,  // the error is set: asking again cannot help (a changed file, a full disk)
    Again,   // ask from the new offset at once
    Judge,   // the loop's own judgement: a refusal, a failure to retry, or more to ask
  };
  enum class End { Done, Cancelled, Failed };

  // Where the bytes go, and the caller's judgement of each reply.
  class Target {
   public:
    virtual ~Target() = default;
    virtual ByteSink& sink() = 0;
    // Where the next request starts; its end (exclusive), or nothing for the end of the file.
    virtual uint64_t offset() = 0;
    virtual std::optional<uint64_t> end() { return std::nullopt; }
    // Before each request: the URL it goes to.
    virtual void requesting(const std::string& url) {}
    // After each reply from `from` (with *version as the reply named it): the verdict;
    // `r` may be amended (an end the caller knows of) before the loop judges it.
    virtual Verdict judge(DownloadResult& r, uint64_t from, Error* error) = 0;
  };

  struct Options {
    std::string task_id;
    // "Downloading the video of task X": the start of every error message.
    std::string what;
    // Where the prediction is read again for a refused URL; empty: never.
    std::string poll_url;
    std::function<bool(unsigned ms)> sleep;  // false: cancelled during the wait
    unsigned max_wait_ms = 24u * 3600 * 1000;
  };

  OutputFetch(const Request& request, Options options, GCancellable* cancellable)
      : request_(request), options_(std::move(options)), cancellable_(cancellable) {}

  // Reads from `url` into `target` until its verdict is Done, or an error (`*error`).
  // `version`: the file the bytes must be of (learnt from the first reply when unknown).
  End run(HttpTransport& http, std::string url, Target& target, FileVersion* version, Error* error);

  // The URL the bytes came from last (a refused one may have been replaced).
  const std::string& url() const { return url_; }
  // After a refusal: the prediction was read again and is gone too (or has no output).
  bool prediction_gone() const { return prediction_gone_; }
  // The HTTP status of the refusal that ended the download (0: none).
  unsigned refused_status() const { return refused_status_; }

 private:
  enum class Reread { NewUrl, SameUrl, Cancelled, Failed };
  // A refused URL: the prediction read again (once), after a short wait.
  Reread reread(HttpTransport& http, Error* error);
  Error error_for(const DownloadResult& r, ErrorKind kind, const std::string& why) const;

  const Request& request_;
  const Options options_;
  GCancellable* const cancellable_;
  std::string url_;
  bool reread_ = false;
  bool prediction_gone_ = false;
  unsigned refused_status_ = 0;
};

}  // namespace kling
