// SPDX-License-Identifier: LGPL-2.1-or-later
// A model catalogue as WaveSpeed's GET /api/v3/models shapes it, for the tests:
// a model klingsrc has never heard of (fields only the catalogue describes), an
// image-to-video model, and one whose videos have sound.
#pragma once

#include <glib/gstdio.h>

#include <string>

#include "core/storage/cache_paths.h"

// The catalogue file klingsrc keeps on disk for the origin of `api_url` (under XDG_CACHE_HOME).
inline std::string catalogue_file(const std::string& api_url) {
  g_autofree char* path =
      g_build_filename(kling::user_cache_dir().c_str(),
                       ("models-" + kling::origin_key(api_url) + ".json").c_str(), nullptr);
  return path;
}

// A server just started on a loopback port is not the one that listened there before:
// the catalogue that one left on disk (fresh for an hour) must not stand for this one's.
inline void forget_catalogue(const std::string& api_url) {
  g_unlink(catalogue_file(api_url).c_str());
}

inline constexpr const char* kUnknownModel = "kwaivgi/kling-v9-t2v-test";
inline constexpr const char* kAudioModel = "kwaivgi/kling-v9-t2v-audio-test";

inline constexpr const char* kCatalog = R"({"code":200,"message":"success","data":[
 {"model_id":"kwaivgi/kling-v9-t2v-test","name":"Kling v9 test","type":"text-to-video",
  "description":"A model only the catalogue knows, without sound","base_price":0.4,"output":{"video":true,"audio":false},"formula":"base_price * duration / 5",
  "api_schema":{"api_schemas":[{"type":"model_run","request_schema":{"type":"object",
   "properties":{
    "prompt":{"type":"string","minLength":1,"maxLength":2500},
    "duration":{"type":"string","enum":["5","10"],"default":"5"},
    "cfg_scale":{"type":"number","minimum":0,"maximum":1,"default":0.5},
    "camera":{"type":"string","enum":["none","zoom_in","pan_left"]},
    "seed":{"type":"integer","minimum":0,"maximum":2147483647},
    "mode":{"type":"string","enum":["std","pro"]},
    "camera_control":{"type":"object"}},
   "required":["prompt","mode"]}}]}},
 {"model_id":"kwaivgi/kling-v2.0-i2v-master","name":"Kling 2.0 i2v","type":"image-to-video",
  "description":"Image to video","base_price":1.3,
  "api_schema":{"api_schemas":[{"request_schema":{"type":"object",
   "properties":{"prompt":{"type":"string"},"negative_prompt":{"type":"string"},"image":{"type":"string"},
    "duration":{"type":"integer","enum":[5,10],"default":5},
    "guidance_scale":{"type":"number","minimum":0,"maximum":1}},
   "required":["prompt","image"]}}]}},
 {"model_id":"kwaivgi/kling-v9-t2v-audio-test","name":"Kling v9 with sound","type":"text-to-video",
  "description":"Video with native audio","base_price":0.8,"output":{"video":true,"audio":true},
  "api_schema":{"api_schemas":[{"request_schema":{"type":"object",
   "properties":{"prompt":{"type":"string"},"duration":{"type":"integer","enum":[5,10]},
    "sound":{"type":"boolean","default":true}},
   "required":["prompt"]}}]}},
 {"model_id":"someone/no-schema","name":"listed without a schema"}
]})";
