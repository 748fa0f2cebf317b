// SPDX-License-Identifier: LGPL-2.1-or-later
// An API URL's base and origin, each spelled one way for every use: where the key
// may go (api::same_origin), the request's name (the fingerprint), the files kept
// per origin (cache_paths.h).
#pragma once

#include <glib.h>

#include <cstring>
#include <optional>
#include <string>

namespace kling {

// `url` without its trailing slashes: the base the API's paths are appended to.
inline std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// scheme://host[:port] of a parsed URL: scheme and host in lower case, an IPv6 host
// in brackets, the scheme's default port (80 for http, 443 for https) left out;
// nothing without a host.
inline std::optional<std::string> origin_of(GUri* uri) {
  if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri)) return std::nullopt;
  g_autofree char* scheme = g_ascii_strdown(g_uri_get_scheme(uri), -1);
  g_autofree char* host = g_ascii_strdown(g_uri_get_host(uri), -1);
  int port = g_uri_get_port(uri);
  if ((port == 80 && g_str_equal(scheme, "http")) || (port == 443 && g_str_equal(scheme, "https")))
    port = -1;
  return std::string(scheme) + "://" + (strchr(host, ':') ? "[" + std::string(host) + "]" : host) +
         (port > 0 ? ":" + std::to_string(port) : "");
}

inline std::optional<std::string> origin_of(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  return origin_of(uri);
}

}  // namespace kling
