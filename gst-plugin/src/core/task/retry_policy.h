// SPDX-License-Identifier: LGPL-2.1-or-later
// How long to wait before trying again, and which download replies retrying
// cannot help: one policy for the task runner and for bytes read again.
#pragma once

#include <optional>

#include "core/util/error.h"

namespace kling {

// Exponential from min(1 s, poll-interval), capped at 30 s, with full jitter above half.
unsigned backoff_ms(unsigned poll_interval_ms, unsigned attempt);

// At least what the server asks (Retry-After, in seconds), never less than our own
// backoff (Retry-After: 0 must not become a busy loop), and at most a day.
unsigned retry_wait_ms(unsigned poll_interval_ms, const std::optional<unsigned>& retry_after,
                       unsigned attempt);

// A refusal of an output URL (4xx other than 408 and 429): asking again gets the same.
inline bool is_final_download_status(unsigned status) {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

// What such a refusal is reported as.
inline ErrorKind download_refusal_kind(unsigned status) {
  return status == 403 ? ErrorKind::NotAuthorized : ErrorKind::NotFound;
}

}  // namespace kling
