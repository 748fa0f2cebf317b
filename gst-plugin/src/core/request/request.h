// SPDX-License-Identifier: LGPL-2.1-or-later
// One generation request: a plain value snapshotted from the element's
// properties at start(), validated before any byte goes on the network.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/request/named_fields.h"
#include "core/util/error.h"
#include "core/util/gobject_ref.h"

namespace kling {

inline constexpr const char* kDefaultApiUrl = "https://api.wavespeed.ai";
inline constexpr const char* kDefaultModel = "kwaivgi/kling-v2.0-t2v-master";
inline constexpr unsigned kMaxPromptChars = 2500;
inline constexpr uint64_t kMaxImageBytes = 64 * 1024 * 1024;  // a local image uploaded
inline constexpr uint64_t kDefaultCacheMaxSize = uint64_t(2) << 30;

struct Request {
  // What is generated: the body these fields make, api_url and request_id make the fingerprint.
  std::string model = kDefaultModel;
  std::string prompt;
  std::string negative_prompt;
  std::string aspect_ratio = "16:9";
  bool aspect_ratio_set = false;  // set by the user, not the default
  int duration = 5;
  bool duration_set = false;  // set by the user: wins over params' duration
  // Image-to-video models: a URL, or a local file (path or file:// URI) uploaded before the submit.
  std::string image;
  std::string image_file;                // the local file `image` names, absolute ("" for a URL)
  std::string image_sha256;              // its content hash: its identity, not the upload's URL
  std::optional<double> guidance_scale;  // sent only when set
  Params params;                         // fields with no property of their own

  // Where and as whom. The key is never logged, posted or put in a URL.
  std::string api_url = kDefaultApiUrl;
  std::string api_key;
  std::string request_id;  // resume this task instead of submitting

  // Limits and policy.
  unsigned poll_interval_ms = 5000;  // WaveSpeed asks >= 5 s between polls for video
  unsigned timeout_s = 1800;         // submit + generation; 0 = none
  unsigned request_timeout_s = 30;   // per-request inactivity timeout
  unsigned retries = 5;              // consecutive failed polls/downloads tolerated
  uint64_t max_size = 4ull << 30;    // bytes: the largest video taken (bounds the disk used)
  bool ssl_strict = true;
  GRef<GTlsDatabase> tls_database;
  // Non-loopback requests go through this HTTP proxy ("": the environment's, as
  // souphttpsrc does); loopback ones never use a proxy. The password is never logged.
  std::string proxy;
  std::string proxy_id;
  std::string proxy_pw;

  // Where paid tasks are remembered and finished videos kept ("" = off).
  std::string journal_path;
  bool resume_unfinished = true;  // pick up this request's journaled unfinished task
  std::string cache_dir;
  uint64_t cache_max_size = kDefaultCacheMaxSize;  // bytes; 0 = no limit

  // Money: a different variation is a deliberate new paid generation of the same
  // request; a quote above max_cost, or the day's quotes past daily_budget, refuse.
  unsigned variation = 0;
  std::optional<double> max_cost;      // US dollars
  std::optional<double> daily_budget;  // US dollars, since local midnight, this account
  // A limit the environment set but that is no amount: validate() refuses it rather
  // than run without the limit the user meant.
  std::string limit_error;

  // Names the generation: the service, the account (a hash of the key), the model,
  // the fields its submit body will carry (params merged and typed as the submit
  // does, with the model's schema known offline) and the variation. Never the key
  // itself. Reads the origin's catalogue on disk when there are params (fingerprint.h).
  std::string fingerprint() const;
  // A one-way hash of the key: tells accounts apart in the ledger without holding the key.
  std::string account() const;
};

// Checks a request before any network: prompt, key, enum fields, the URL.
// The fields a model takes are checked against its schema before the submit (submit_body.h).
std::optional<Error> validate(const Request& request);

// When `image` names a local file (a path or a file:// URI): checks it can be read and
// sets image_file and image_sha256. Reads the file, nothing remote.
std::optional<Error> resolve_local_image(Request* request);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const char* host);

// The key and the API base URL as every element resolves them: the property
// when set (non-empty), else WAVESPEED_API_KEY / WAVESPEED_BASE_URL, else none / the default.
std::string resolve_api_key(const std::string& property);
std::string resolve_api_url(const std::string& property);
// A limit in US dollars as every front end resolves it: `given` when >= 0, else the
// environment variable `env_name` (KLING_MAX_COST, KLING_DAILY_BUDGET) when set, else none.
// An environment value that is no amount sets `*error` (the first such) and gives none:
// validate() then refuses the request rather than run without the limit the user meant.
std::optional<double> resolve_limit(double given, const char* env_name, std::string* error);
// True when `url` is an absolute http(s) URL with a host.
bool is_http_url(const std::string& url);

}  // namespace kling
