// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/story.h"

#include <algorithm>

#include "core/storage/cache_paths.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

namespace {

Value string_value(const std::string& s) {
  GValue v = G_VALUE_INIT;
  g_value_init(&v, G_TYPE_STRING);
  g_value_set_string(&v, s.c_str());
  Value out(&v);
  g_value_unset(&v);
  return out;
}

}  // namespace

std::string Story::frames_dir() {
  g_autofree char* dir = g_build_filename(user_cache_dir().c_str(), "story", nullptr);
  return dir;
}

bool Story::may_start() {
  return !previous_ || previous_->known();
}

PropertyValues Story::next(const PropertyValues& defaults, const std::string& request,
                           const std::string& model) {
  PropertyValues out = defaults;
  if (!previous_ || g_str_has_prefix(request.c_str(), "kling://")) return out;
  const std::string image = previous_->path();
  if (image.empty()) {
    GST_WARNING("story: no last frame to continue from (%s): \"%s\" starts a new story",
                previous_->error().c_str(), request.c_str());
    return out;
  }
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](const auto& p) {
                             return p.first == "model" || p.first == "image" ||
                                    p.first == "aspect-ratio";
                           }),
            out.end());
  out.emplace_back("model", string_value(model));
  out.emplace_back("image", string_value(image));
  GST_INFO("story: \"%s\" continues from %s with %s", request.c_str(), image.c_str(),
           model.c_str());
  return out;
}

}  // namespace kling::live
