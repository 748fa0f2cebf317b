// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the models it serves, each with its request schema, price and
// output kind; GET /api/v3/models renders this table, submits are checked against it.
#pragma once

#include <json-glib/json-glib.h>

#include <optional>
#include <string>
#include <vector>

namespace emu {

// One request field: a subset of JSON Schema (what WaveSpeed's catalogue uses).
struct FieldSpec {
  std::string name;
  std::string type;  // string, integer, number, boolean
  bool required = false;
  std::vector<std::string> enum_strings;  // for type string
  std::vector<int> enum_ints;             // for type integer
  std::optional<double> minimum, maximum;
  int min_length = 0, max_length = 0;  // for strings; 0 = no limit
  std::string default_json;            // JSON literal, empty: no default
  std::string description;
};

struct ModelSpec {
  std::string id;  // e.g. kwaivgi/kling-v2.0-t2v-master
  std::string name;
  std::string type;  // text-to-video, image-to-video
  std::string description;
  double base_price = 0;  // US dollars for a 5 s clip
  bool audio = false;     // outputs carry a sound track
  std::vector<FieldSpec> fields;
};

const std::vector<ModelSpec>& models();

// nullptr if the emulator does not serve that model.
const ModelSpec* find_model(const std::string& id);

// The price of one run: base (the model's or the override, per 5 s) * duration / 5,
// duration read from inputs (may be null) or the model's default.
double model_price(const ModelSpec& model, std::optional<double> base_override, JsonObject* inputs);

// "2.60": dollars with cents, for messages.
std::string money(double dollars);

// Appends the model as WaveSpeed's catalogue shows it (an object) to b.
void add_model_json(JsonBuilder* b, const ModelSpec& model, std::optional<double> base_override);

}  // namespace emu
