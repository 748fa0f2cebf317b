// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/task/output_fetch.h"

#include <algorithm>

#include "core/task/retry_policy.h"
#include "core/task/task_worker.h"
#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// What an output URL that expired or was replaced answers.
bool is_gone(unsigned status) {
  return status == 403 || status == 404 || status == 410;
}

}  // namespace

OutputFetch::End OutputFetch::run(HttpTransport& http, std::string url, Target& target,
                                  FileVersion* version, Error* error) {
  url_ = std::move(url);
  for (unsigned failures = 0;;) {
    const uint64_t from = target.offset();
    target.requesting(url_);
    DownloadResult r =
        http.download(url_, from, target.sink(), cancellable_, target.end(), version);
    if (r.cancelled) return End::Cancelled;
    switch (target.judge(r, from, error)) {
      case Verdict::Done:
        return End::Done;
      case Verdict::Failed:
        error->task_id = options_.task_id;
        return End::Failed;
      case Verdict::Again:
        continue;
      case Verdict::Judge:
        break;
    }
    if (g_cancellable_is_cancelled(cancellable_)) return End::Cancelled;
    if (r.received > 0) failures = 0;  // progress was made: only consecutive failures count
    if (r.range_done)
      continue;  // a CDN that serves a file in ranges of its own size: ask for the next at once
    if (is_gone(r.status) && !reread_ && !options_.poll_url.empty()) {
      switch (reread(http, error)) {
        case Reread::NewUrl:
          continue;
        case Reread::SameUrl:
          break;  // asking it again gets the same
        case Reread::Cancelled:
          return End::Cancelled;
        case Reread::Failed:
          return End::Failed;
      }
    }
    if (is_final_download_status(r.status)) {
      refused_status_ = r.status;
      *error = error_for(r, download_refusal_kind(r.status),
                         ": HTTP " + std::to_string(r.status) + " (outputs are kept for 7 days)");
      return End::Failed;
    }
    if (++failures > request_.retries) {
      *error = error_for(r, ErrorKind::Network,
                         " " + std::to_string(failures) + " times: " +
                             (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error));
      return End::Failed;
    }
    const unsigned wait = retry_wait_ms(request_.poll_interval_ms, r.retry_after, failures);
    if (!options_.sleep(std::min(options_.max_wait_ms, wait))) return End::Cancelled;
  }
}

// An output URL that fails may have been replaced (or the prediction not name it yet):
// wait a little, then read the prediction again. The key goes to the API's origin only.
OutputFetch::Reread OutputFetch::reread(HttpTransport& http, Error* error) {
  reread_ = true;
  if (!options_.sleep(backoff_ms(request_.poll_interval_ms, 1))) return Reread::Cancelled;
  HttpResult pr = http.api_call("GET", options_.poll_url, nullptr, cancellable_);
  if (pr.cancelled || g_cancellable_is_cancelled(cancellable_)) return Reread::Cancelled;
  if (!pr.redirect_to.empty()) {
    *error = redirect_error(pr, "GET", options_.poll_url, options_.task_id);
    return Reread::Failed;
  }
  const api::Reply reply = api::parse_reply(pr.status, pr.body);
  const unsigned status = runner::effective_status(pr, reply);
  prediction_gone_ = status == 404 || status == 410 ||
                     (reply.kind == api::ReplyKind::Task && reply.task.outputs.empty());
  const auto fresh = api::http_output(reply);
  if (!fresh || *fresh == url_) return Reread::SameUrl;
  url_ = *fresh;
  return Reread::NewUrl;
}

Error OutputFetch::error_for(const DownloadResult& r, ErrorKind kind,
                             const std::string& why) const {
  return {kind, options_.what + " failed" + why, "GET " + url_, r.status, options_.task_id};
}

}  // namespace kling
