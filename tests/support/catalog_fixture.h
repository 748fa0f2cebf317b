// SPDX-License-Identifier: LGPL-2.1-or-later
// A model catalogue as WaveSpeed's GET /api/v3/models shapes it, for the tests:
// a model klingsrc has never heard of (fields only the catalogue describes), an
// image-to-video model, and one whose videos have sound.
#pragma once

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
