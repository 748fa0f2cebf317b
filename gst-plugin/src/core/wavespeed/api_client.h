// SPDX-License-Identifier: LGPL-2.1-or-later
// The WaveSpeed v3 prediction API as pure functions: URLs and request bodies
// out, every reply shape in. No network, no GStreamer: unit-tested on strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/request/request.h"
#include "core/util/error.h"

namespace kling::api {

// A prediction as the API describes it (the `data` object).
struct Task {
  std::string id;
  std::string model;
  std::string status;   // created, processing, completed, failed, cancelled, timeout, ...
  std::string get_url;  // data.urls.get
  std::vector<std::string> outputs;
  std::vector<bool> has_nsfw_contents;
  bool has_audio =
      false;          // not from the reply: the model's catalogue entry says its videos have sound
  std::string error;  // data.error
  int code = 0;       // data.code (task error code, 5004 while a sync wait timed out)
  int64_t inference_ms = -1;
  std::string created_at;
};

enum class ReplyKind {
  Task,       // a readable prediction envelope
  ApiError,   // an error the API stated (envelope, bare {"error"}, or an error code inside a 200)
  Gateway,    // a non-JSON body on a non-2xx reply: a proxy's page, worth retrying
  Malformed,  // a 2xx reply we cannot read
};

struct Reply {
  ReplyKind kind = ReplyKind::Malformed;
  unsigned http_status = 0;
  int api_code = 0;     // top-level `code`
  std::string message;  // the API's own text (or a short excerpt of a gateway page)
  Task task;            // when kind == Task
};

// api-url + /api/v3/ + path (models, media/uploads, ...).
std::string v3_url(const std::string& api_url, const std::string& path);
std::string submit_url(const std::string& api_url, const std::string& model);
// The documented fallback poll URL when a reply carries no urls.get.
std::string result_url(const std::string& api_url, const std::string& task_id);
// The JSON body of a submit to a model of the built-in table (kling::build_submit_body
// checks a request against any model's schema): the prompt exactly as given, duration an integer.
std::string build_submit_body(const Request& request);

Reply parse_reply(unsigned http_status, std::string_view body);

// The first output of a readable task reply, when it is an http(s) URL (the only kind downloaded).
std::optional<std::string> http_output(const Reply& reply);

// Final statuses end polling; `completed` is the only good one.
bool is_final_status(const std::string& status);
// 1xxx task codes: the input must change. 5xxx: transient on WaveSpeed's side.
bool is_input_fault(int task_code);

// Retry-After as delta-seconds or an HTTP-date, relative to `now_unix`.
std::optional<unsigned> parse_retry_after(const char* value, int64_t now_unix);

// True when both URLs name the same scheme, host and port: the only host the key goes to.
bool same_origin(const std::string& a, const std::string& b);

}  // namespace kling::api
