// SPDX-License-Identifier: LGPL-2.1-or-later
// The model catalogue of an API origin: GET /api/v3/models, kept on disk for an
// hour ($XDG_CACHE_HOME/gst-kling/models-<origin>.json, renamed into place) and
// the built-in table when it cannot be had. Runs on the task runner's thread.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/net/http_transport.h"
#include "core/wavespeed/model_catalog.h"

namespace kling {

struct CatalogLookup {
  std::optional<ModelSchema> model;  // nullopt: neither the catalogue nor the table knows it
  std::string source;                // where its fields come from, for progress texts
  bool cancelled = false;
};

class ModelCatalogue {
 public:
  static constexpr int64_t kMaxAgeSeconds = 3600;

  // `dir` "": user_cache_dir().
  ModelCatalogue(std::string api_url, std::string dir = {});

  // `model`'s schema: from the cached catalogue when under an hour old, else fetched
  // (and cached), else an older cached copy, else the built-in table.
  CatalogLookup lookup(HttpTransport& http, const std::string& model,
                       GCancellable* cancellable) const;
  // `model`'s schema without any network: the cached catalogue whatever its age, else
  // the built-in table; nullopt when neither knows it. It names requests at start: the
  // last catalogue seen is the one that named the request last time (a week-old task's
  // cache entry is found), and lookup() renames the request if a fresh one differs.
  std::optional<ModelSchema> offline(const std::string& model) const;

  const std::string& path() const { return path_; }

 private:
  const std::string api_url_;
  const std::string path_;
};

}  // namespace kling
