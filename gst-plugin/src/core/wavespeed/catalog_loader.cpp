// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/catalog_loader.h"

#include <glib/gstdio.h>

#include <vector>

#include "core/storage/cache_paths.h"
#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// The cached catalogue when it reads, and its age in seconds.
std::optional<std::vector<ModelSchema>> read_cached(const std::string& path, int64_t* age_s) {
  GStatBuf st;
  if (g_stat(path.c_str(), &st) != 0) return std::nullopt;
  *age_s = g_get_real_time() / G_USEC_PER_SEC - static_cast<int64_t>(st.st_mtime);
  gchar* text = nullptr;
  gsize size = 0;
  if (!g_file_get_contents(path.c_str(), &text, &size, nullptr)) return std::nullopt;
  std::string error;
  auto models = parse_catalog(std::string_view(text, size), &error);
  g_free(text);
  return models;
}

std::string minutes(int64_t seconds) {
  return std::to_string(seconds / 60) + " min";
}

bool fresh(int64_t age_s) {
  return age_s >= 0 && age_s < ModelCatalogue::kMaxAgeSeconds;
}

}  // namespace

ModelCatalogue::ModelCatalogue(std::string api_url, std::string dir)
    : api_url_(std::move(api_url)), path_([&] {
        g_autofree char* p =
            g_build_filename(dir.empty() ? user_cache_dir().c_str() : dir.c_str(),
                             ("models-" + origin_key(api_url_) + ".json").c_str(), nullptr);
        return std::string(p);
      }()) {}

CatalogLookup ModelCatalogue::lookup(HttpTransport& http, const std::string& model,
                                     GCancellable* cancellable) const {
  CatalogLookup out;
  int64_t age = 0;
  auto cached = read_cached(path_, &age);
  std::optional<std::vector<ModelSchema>> models;
  std::string source, why_not;
  if (cached && fresh(age)) {
    models = std::move(cached);
    source = "the model catalogue (fetched " + minutes(age) + " ago)";
  } else {
    HttpResult r = http.api_call("GET", api::v3_url(api_url_, "models"), nullptr, cancellable);
    if (r.cancelled) {
      out.cancelled = true;
      return out;
    }
    if (r.status == 200)
      models = parse_catalog(r.body, &why_not);
    else
      why_not = r.status ? "HTTP " + std::to_string(r.status) : r.transport_error;
    if (models) {
      save_cache_file(path_, r.body);  // when it cannot, the next run fetches it again
      source = "WaveSpeed's model catalogue";
    } else if (cached) {
      models = std::move(cached);  // an old catalogue knows more than the built-in table
      source = "the model catalogue fetched " + minutes(age) + " ago (now: " + why_not + ")";
    }
  }
  if (models)
    if (const ModelSchema* m = find_model(*models, model)) {
      out.model = *m;
      out.source = source;
      return out;
    }
  if (const ModelSchema* m = find_model(builtin_models(), model)) {
    out.model = *m;
    out.source = "the built-in table" + (models ? std::string(" (not in the catalogue)")
                                                : " (no catalogue: " + why_not + ")");
    return out;
  }
  out.source = models ? "nowhere: the catalogue does not list it"
                      : "nowhere (no catalogue: " + why_not + ")";
  return out;
}

std::optional<ModelSchema> ModelCatalogue::offline(const std::string& model) const {
  int64_t age = 0;
  if (auto cached = read_cached(path_, &age))
    if (const ModelSchema* m = find_model(*cached, model)) return *m;
  if (const ModelSchema* m = find_model(builtin_models(), model)) return *m;
  return std::nullopt;
}

}  // namespace kling
