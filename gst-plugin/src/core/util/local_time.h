// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <glib.h>

#include <cstdint>
#include <string>

namespace kling {

// A moment as the messages show it: "2026-12-07 21:57:12", in local time.
inline std::string local_time(int64_t unix_time) {
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(unix_time);
  g_autofree char* text = when ? g_date_time_format(when, "%F %T") : g_strdup("an unknown time");
  return text;
}

}  // namespace kling
