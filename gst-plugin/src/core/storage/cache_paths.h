// SPDX-License-Identifier: LGPL-2.1-or-later
// Where the core keeps what it learned from an API origin (the model catalogue,
// the uploads it made): $XDG_CACHE_HOME/gst-kling, one name per origin, each
// file written whole or not at all.
#pragma once

#include <glib.h>

#include <string>

#include "core/util/url.h"

namespace kling {

// $XDG_CACHE_HOME/gst-kling (read each time: a test may point it elsewhere).
inline std::string user_cache_dir() {
  const char* xdg = g_getenv("XDG_CACHE_HOME");
  g_autofree char* dir =
      g_build_filename(xdg && *xdg ? xdg : g_get_user_cache_dir(), "gst-kling", nullptr);
  return dir;
}

// A short name for `url`'s origin (origin_of), safe in a file name.
inline std::string origin_key(const std::string& url) {
  const std::string origin = origin_of(url).value_or(url);
  g_autofree char* sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, origin.c_str(), -1);
  return std::string(sum, 16);
}

// `contents` as the file at `path` (its folder made first), renamed into place: a reader
// sees the old file or the new. False when it cannot: a cache only saves work.
inline bool save_cache_file(const std::string& path, const std::string& contents) {
  g_autofree char* dir = g_path_get_dirname(path.c_str());
  return g_mkdir_with_parents(dir, 0700) == 0 &&
         g_file_set_contents_full(path.c_str(), contents.data(),
                                  static_cast<gssize>(contents.size()),
                                  G_FILE_SET_CONTENTS_CONSISTENT, 0600, nullptr);
}

}  // namespace kling
