// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/request/request.h"

#include <glib.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace kling {

namespace {

// What the properties alone can tell; the model's own fields are checked against
// its schema before the submit (submit_body.h).
std::optional<Error> validate_fields(const Request& r) {
  if (r.guidance_scale && (*r.guidance_scale < 0.0 || *r.guidance_scale > 1.0))
    return settings_error("guidance-scale must be between 0 and 1");
  if (!r.image.empty() && r.image_file.empty() && !is_http_url(r.image))
    return settings_error("\"image\" must be an http(s) URL the API can fetch, or a local file");
  for (const Param& p : r.params) {
    if (!is_param_name(p.name))
      return settings_error("Invalid field name \"" + p.name +
                            "\" in params: letters, digits and '_' only");
    // Only the image property uploads a local file: here a path would go to WaveSpeed as the URL.
    if (p.name == "image" && r.image.empty() &&
        (p.value.kind != ParamValue::Kind::String || !is_http_url(p.value.text)))
      return settings_error("\"image\" in params or a kling:// URI must be an http(s) URL, not " +
                            p.value.json() + ": a local file goes in the image property");
  }
  return std::nullopt;
}

}  // namespace

std::string resolve_api_key(const std::string& property) {
  if (!property.empty()) return property;
  const char* env = g_getenv("WAVESPEED_API_KEY");
  return env ? env : "";
}

std::string resolve_api_url(const std::string& property) {
  if (!property.empty()) return property;
  const char* env = g_getenv("WAVESPEED_BASE_URL");
  return env && *env ? env : kDefaultApiUrl;
}

std::optional<double> resolve_limit(double given, const char* env_name, std::string* error) {
  if (given >= 0.0) return given;
  const char* env = g_getenv(env_name);
  if (!env || !*env) return std::nullopt;
  char* end = nullptr;
  double v = g_ascii_strtod(env, &end);
  if (end == env || *end != '\0' || !(v >= 0.0) || !std::isfinite(v)) {
    if (error->empty())
      *error = std::string(env_name) + " is \"" + env +
               "\", not an amount in US dollars (such as 2.50): nothing submitted";
    return std::nullopt;
  }
  return v;
}

bool is_loopback_host(const char* host) {
  if (!host) return false;
  if (g_ascii_strcasecmp(host, "localhost") == 0) return true;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(host);
  return addr && g_inet_address_get_is_loopback(addr);
}

bool is_http_url(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri)) return false;
  const char* scheme = g_uri_get_scheme(uri);
  return g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0;
}

std::string Request::account() const {
  // Salted and cut short: names the account, and the key cannot be had back from it.
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  static const char kSalt[] = "gst-kling account v1:";
  g_checksum_update(sum, reinterpret_cast<const guchar*>(kSalt), sizeof kSalt - 1);
  g_checksum_update(sum, reinterpret_cast<const guchar*>(api_key.data()), api_key.size());
  return std::string(g_checksum_get_string(sum)).substr(0, 16);
}

std::optional<Error> validate(const Request& r) {
  if (!r.limit_error.empty()) return settings_error(r.limit_error);
  if (r.request_id.empty()) {
    if (r.prompt.empty()) return settings_error("No prompt given: set the \"prompt\" property");
    if (!g_utf8_validate(r.prompt.data(), r.prompt.size(), nullptr))
      return settings_error("The prompt is not valid UTF-8");
    if (g_utf8_strlen(r.prompt.data(), r.prompt.size()) > kMaxPromptChars)
      return settings_error("The prompt is longer than " + std::to_string(kMaxPromptChars) +
                            " characters");
    if (!g_utf8_validate(r.negative_prompt.data(), r.negative_prompt.size(), nullptr))
      return settings_error("The negative prompt is not valid UTF-8");
    if (r.duration != 5 && r.duration != 10)
      return settings_error("Duration must be 5 or 10 seconds, not " + std::to_string(r.duration));
    static const char* const kRatios[] = {"16:9", "9:16", "1:1"};
    if (std::none_of(std::begin(kRatios), std::end(kRatios),
                     [&](const char* a) { return r.aspect_ratio == a; }))
      return settings_error("Aspect ratio must be 16:9, 9:16 or 1:1");
    if (auto error = validate_fields(r)) return error;
  } else if (!g_regex_match_simple("^[A-Za-z0-9_.-]+$", r.request_id.c_str(), G_REGEX_DEFAULT,
                                   G_REGEX_MATCH_DEFAULT)) {
    return settings_error("request-id may hold only letters, digits, '-', '_' and '.'");
  }
  if (r.model.empty() || r.model.find("..") != std::string::npos ||
      !g_regex_match_simple("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", r.model.c_str(),
                            G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT))
    return settings_error("Invalid model \"" + r.model + "\": expected a path such as " +
                          kDefaultModel);
  if (r.api_key.empty())
    return settings_error(
        "An API key is required: set the \"api-key\" property or WAVESPEED_API_KEY");

  if (!r.proxy.empty() && !is_http_url(r.proxy))
    return settings_error("Invalid proxy \"" + r.proxy + "\": expected an http(s) URL");
  if (!is_http_url(r.api_url))
    return settings_error("Invalid api-url \"" + r.api_url + "\": expected an http(s) URL");
  // A bearer key over plain http can be read by anyone on the path.
  g_autoptr(GUri) uri = g_uri_parse(r.api_url.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") == 0 &&
      !is_loopback_host(g_uri_get_host(uri)))
    return settings_error("Refusing to send the API key over plain http to " +
                          std::string(g_uri_get_host(uri)) + ": use https");
  return std::nullopt;
}

std::optional<Error> resolve_local_image(Request* r) {
  r->image_file.clear();
  r->image_sha256.clear();
  if (r->image.empty() || is_http_url(r->image)) return std::nullopt;
  std::string path = r->image;
  if (g_str_has_prefix(path.c_str(), "file:")) {
    g_autofree char* file = g_filename_from_uri(path.c_str(), nullptr, nullptr);
    if (!file) return settings_error("\"image\" is not a valid file:// URI: " + path);
    path = file;
  } else if (path.find("://") != std::string::npos) {
    return settings_error("\"image\" must be an http(s) URL, a file:// URI or a local path, not " +
                          path);
  }
  g_autofree char* absolute = g_canonicalize_filename(path.c_str(), nullptr);
  GStatBuf st;
  if (g_stat(absolute, &st) != 0)
    return settings_error("Cannot read the image file " + std::string(absolute) + ": " +
                          g_strerror(errno));
  if (!S_ISREG(st.st_mode) || st.st_size <= 0)
    return settings_error("The image " + std::string(absolute) +
                          " is not a non-empty regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxImageBytes)
    return settings_error("The image " + std::string(absolute) + " is larger than " +
                          std::to_string(kMaxImageBytes / (1024 * 1024)) + " MiB");
  FILE* f = g_fopen(absolute, "rb");
  if (!f)
    return settings_error("Cannot read the image file " + std::string(absolute) + ": " +
                          g_strerror(errno));
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  std::vector<guchar> buf(64 * 1024);
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) g_checksum_update(sum, buf.data(), n);
  const bool failed = ferror(f);
  fclose(f);
  if (failed) return settings_error("Cannot read the image file " + std::string(absolute));
  r->image_file = absolute;
  r->image_sha256 = g_checksum_get_string(sum);
  return std::nullopt;
}

}  // namespace kling
