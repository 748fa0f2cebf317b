// Where the core keeps what it learned from an API origin (the model catalogue,
// the uploads it made): $XDG_CACHE_HOME/gst-kling, one name per origin.
#pragma once

#include <glib.h>

#include <string>

namespace kling {

// $XDG_CACHE_HOME/gst-kling (read each time: a test may point it elsewhere).
inline std::string user_cache_dir() {
  const char* xdg = g_getenv("XDG_CACHE_HOME");
  g_autofree char* dir = g_build_filename(xdg && *xdg ? xdg : g_get_user_cache_dir(), "gst-kling", nullptr);
  return dir;
}

// A short name for `url`'s origin (scheme, host, port), safe in a file name.
inline std::string origin_key(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  std::string origin = url;
  if (uri && g_uri_get_host(uri)) {
    g_autofree char* host = g_ascii_strdown(g_uri_get_host(uri), -1);
    g_autofree char* scheme = g_ascii_strdown(g_uri_get_scheme(uri), -1);
    origin = std::string(scheme) + "://" + host + ":" + std::to_string(g_uri_get_port(uri));
  }
  g_autofree char* sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, origin.c_str(), -1);
  return std::string(sum, 16);
}

}  // namespace kling
