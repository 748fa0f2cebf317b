// SPDX-License-Identifier: LGPL-2.1-or-later
// What each model takes: its request fields with their types, enums, ranges,
// defaults and which are required, as WaveSpeed's catalogue (GET /api/v3/models)
// describes them, and a built-in table of the models klingsrc knows for when
// the catalogue cannot be had. Pure: parsing and lookups, no network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kling {

// One request field, from the model's JSON Schema.
struct FieldSpec {
  std::string name;
  std::string type;                    // string, integer, number, boolean, array, object; "" = any
  std::vector<std::string> enum_json;  // allowed values as compact JSON ("\"16:9\"", "5")
  std::optional<double> minimum, maximum;
  std::optional<int64_t> min_length, max_length;  // strings, in characters
  std::string default_json;                       // "" = no default
  bool required = false;
};

struct ModelSchema {
  std::string id;    // the path after /api/v3/
  std::string type;  // text-to-video, image-to-video, ...
  std::string description;
  std::optional<double> base_price;
  bool has_audio = false;  // its videos carry a sound track
  std::vector<FieldSpec> fields;

  const FieldSpec* field(const std::string& name) const;
  // "prompt, duration (5, 10), ..." for error texts.
  std::string describe_fields() const;
};

// What a field accepts, for error texts: "one of 5, 10", "a number from 0 to 1", "a string".
std::string describe_accepts(const FieldSpec& field);

// A number written as JSON ("5", "0.5") or as a JSON string of one ("\"5\""), as some
// catalogues write enums and ranges; nullopt when it is neither.
std::optional<double> number_text_value(const std::string& text);

// The models of a GET /api/v3/models reply (`data` an array, or a bare array).
// Entries without a model_id are skipped; nullopt and `error` when it is not a catalogue.
std::optional<std::vector<ModelSchema>> parse_catalog(std::string_view body, std::string* error);

// The models klingsrc knows without a catalogue (from WaveSpeed's model pages).
const std::vector<ModelSchema>& builtin_models();
const ModelSchema* find_model(const std::vector<ModelSchema>& models, const std::string& id);

}  // namespace kling
