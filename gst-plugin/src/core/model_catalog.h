// The Kling models klingsrc knows and the request fields each one takes, so a
// field a model does not take is refused before anything is sent.
#pragma once

#include <string>
#include <vector>

namespace kling {

struct ModelInfo {
  const char* name;       // path after /api/v3/
  bool image_to_video;    // needs `image`; the image sets the shape (no aspect_ratio)
  bool guidance_scale;    // takes guidance_scale (0..1)
};

// nullptr for a model not in the table: it gets the text-to-video fields.
const ModelInfo* find_model(const std::string& name);
const std::vector<ModelInfo>& known_models();

}  // namespace kling
