// SPDX-License-Identifier: LGPL-2.1-or-later
// The one error type the GStreamer-free core reports. The element maps `kind`
// to a GStreamer error domain and code; `message` is for the user, `debug` for
// the debug string. Neither ever contains the API key.
#pragma once

#include <string>

namespace kling {

enum class ErrorKind {
  Settings,       // bad or missing input, found before any request
  InvalidInput,   // the API refused the input (HTTP 400, task code 14xx/1200)
  NotAuthorized,  // HTTP 401/403
  NotFound,       // unknown task, expired output
  TaskFailed,     // the task ended failed/cancelled/timeout on WaveSpeed's side
  BadReply,       // a reply we cannot read
  Timeout,        // the overall deadline passed
  Network,        // transport failure after retries
  Write,          // local spill file
  TooLarge,       // the video is (or is announced) larger than max-size
};

struct Error {
  ErrorKind kind = ErrorKind::Network;
  std::string message;
  std::string debug;
  unsigned http_status = 0;
  std::string task_id;  // set whenever a task exists
};

// Bad input, found before anything is sent.
inline Error settings_error(std::string message) {
  return Error{ErrorKind::Settings, std::move(message), {}, 0, {}};
}

}  // namespace kling
