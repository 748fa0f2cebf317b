// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/task/retry_policy.h"

#include <glib.h>

#include <algorithm>
#include <cstdint>

namespace kling {

unsigned backoff_ms(unsigned poll_interval_ms, unsigned attempt) {
  const unsigned base = std::max(10u, std::min(1000u, poll_interval_ms));
  uint64_t ms = static_cast<uint64_t>(base) << std::min(attempt - 1, 12u);
  ms = std::min<uint64_t>(ms, 30000);
  return static_cast<unsigned>(ms / 2 + static_cast<uint64_t>(g_random_double() * (ms / 2)));
}

unsigned retry_wait_ms(unsigned poll_interval_ms, const std::optional<unsigned>& retry_after,
                       unsigned attempt) {
  uint64_t asked = retry_after ? static_cast<uint64_t>(*retry_after) * 1000 : 0;
  return static_cast<unsigned>(std::min<uint64_t>(
      std::max<uint64_t>(asked, backoff_ms(poll_interval_ms, attempt)), 24ull * 3600 * 1000));
}

}  // namespace kling
