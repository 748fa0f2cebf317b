#include "model_catalog.h"

namespace kling {

const std::vector<ModelInfo>& known_models() {
  // From WaveSpeed's model pages (shared/wavespeed-api.md); all share the v3 contract.
  static const std::vector<ModelInfo> models = {
      {"kwaivgi/kling-v2.0-t2v-master", false, true},
      {"kwaivgi/kling-v2.1-t2v-master", false, true},
      {"kwaivgi/kling-v2.0-i2v-master", true, true},
      {"kwaivgi/kling-v2.1-i2v-master", true, true},
  };
  return models;
}

const ModelInfo* find_model(const std::string& name) {
  for (const ModelInfo& m : known_models())
    if (name == m.name)
      return &m;
  return nullptr;
}

}  // namespace kling
