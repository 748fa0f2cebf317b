// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the model table and its catalogue JSON.
#include "catalog.h"

#include <cmath>

namespace emu {

namespace {

FieldSpec prompt_field() {
  FieldSpec f{"prompt", "string", true};
  f.min_length = 1;
  f.max_length = 2500;
  f.description = "The text describing the video to generate.";
  return f;
}

FieldSpec negative_prompt_field() {
  FieldSpec f{"negative_prompt", "string"};
  f.max_length = 2500;
  f.description = "What the video should not show.";
  return f;
}

FieldSpec aspect_ratio_field() {
  FieldSpec f{"aspect_ratio", "string"};
  f.enum_strings = {"16:9", "9:16", "1:1"};
  f.default_json = "\"16:9\"";
  f.description = "The aspect ratio of the video.";
  return f;
}

FieldSpec duration_field() {
  FieldSpec f{"duration", "integer"};
  f.enum_ints = {5, 10};
  f.default_json = "5";
  f.description = "The length of the video in seconds.";
  return f;
}

FieldSpec unit_number_field(const char* name, const char* description) {
  FieldSpec f{name, "number"};
  f.minimum = 0.0;
  f.maximum = 1.0;
  f.default_json = "0.5";
  f.description = description;
  return f;
}

FieldSpec guidance_field() {
  return unit_number_field("guidance_scale", "How closely the video follows the prompt.");
}

FieldSpec image_field() {
  FieldSpec f{"image", "string", true};
  f.min_length = 1;
  f.description =
      "URL of the image the video starts from (upload a local file with /api/v3/media/uploads).";
  return f;
}

ModelSpec text_to_video(const char* id, const char* name, double price) {
  return {id,
          name,
          "text-to-video",
          std::string(name) + " turns a text prompt into a 5 or 10 second video.",
          price,
          false,
          {prompt_field(), negative_prompt_field(), aspect_ratio_field(), duration_field(),
           guidance_field()}};
}

ModelSpec image_to_video(const char* id, const char* name, double price) {
  return {
      id,
      name,
      "image-to-video",
      std::string(name) + " animates an image into a 5 or 10 second video guided by a prompt.",
      price,
      false,
      {image_field(), prompt_field(), negative_prompt_field(), duration_field(), guidance_field()}};
}

std::vector<ModelSpec> build_models() {
  std::vector<ModelSpec> list = {
      text_to_video("kwaivgi/kling-v2.0-t2v-master", "Kling v2.0 Text-to-Video Master", 1.30),
      text_to_video("kwaivgi/kling-v2.1-t2v-master", "Kling v2.1 Text-to-Video Master", 1.30),
      image_to_video("kwaivgi/kling-v2.0-i2v-master", "Kling v2.0 Image-to-Video Master", 1.30),
      image_to_video("kwaivgi/kling-v2.1-i2v-master", "Kling v2.1 Image-to-Video Master", 1.30),
      text_to_video("kwaivgi/kling-v1.6-t2v-standard", "Kling v1.6 Text-to-Video Standard", 0.25),
      image_to_video("kwaivgi/kling-v1.6-i2v-standard", "Kling v1.6 Image-to-Video Standard", 0.25),
  };

  // A model no client knows by heart: only the catalogue describes cfg_scale and camera.
  ModelSpec test = {
      "kwaivgi/kling-v9-t2v-test",
      "Kling v9 Text-to-Video Test",
      "text-to-video",
      "An emulator-only model with fields no built-in table knows.",
      0.50,
      false,
      {prompt_field(), negative_prompt_field(), aspect_ratio_field(), duration_field(),
       unit_number_field("cfg_scale", "Classifier-free guidance strength.")}};
  FieldSpec camera{"camera", "string"};
  camera.enum_strings = {"none", "zoom_in", "zoom_out", "pan_left", "pan_right"};
  camera.default_json = "\"none\"";
  camera.description = "A camera movement.";
  test.fields.push_back(camera);
  list.push_back(test);

  // A model whose videos have a sound track.
  ModelSpec audio =
      text_to_video("kwaivgi/kling-v2.6-t2v-audio", "Kling v2.6 Text-to-Video with Audio", 0.70);
  audio.description =
      "Kling v2.6 turns a text prompt into a 5 or 10 second video with a matching sound track.";
  audio.audio = true;
  FieldSpec sound{"sound", "boolean"};
  sound.default_json = "true";
  sound.description = "Generate the sound track.";
  audio.fields.push_back(sound);
  list.push_back(audio);
  return list;
}

void add_default(JsonBuilder* b, const std::string& literal) {
  g_autoptr(JsonNode) node = json_from_string(literal.c_str(), nullptr);
  json_builder_add_value(b, json_node_copy(node));
}

}  // namespace

const std::vector<ModelSpec>& models() {
  static const std::vector<ModelSpec> list = build_models();
  return list;
}

const ModelSpec* find_model(const std::string& id) {
  for (const ModelSpec& m : models())
    if (m.id == id) return &m;
  return nullptr;
}

double model_price(const ModelSpec& model, std::optional<double> base_override,
                   JsonObject* inputs) {
  double duration = 5;
  for (const FieldSpec& f : model.fields)
    if (f.name == "duration" && !f.default_json.empty())
      duration = g_ascii_strtod(f.default_json.c_str(), nullptr);
  JsonNode* node = inputs ? json_object_get_member(inputs, "duration") : nullptr;
  if (node && JSON_NODE_HOLDS_VALUE(node)) {
    const GType type = json_node_get_value_type(node);
    if (type == G_TYPE_INT64 || type == G_TYPE_DOUBLE) duration = json_node_get_double(node);
  }
  const double base = base_override ? *base_override : model.base_price;
  // Cents, as a price list would show it.
  return std::round(base * duration / 5.0 * 100.0) / 100.0;
}

std::string money(double dollars) {
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(text, sizeof text, "%.2f", dollars);
  return text;
}

// One field of a model's request schema, as `name: {type, enum, minimum, ...}`.
void add_field_json(JsonBuilder* b, const FieldSpec& f) {
  json_builder_set_member_name(b, f.name.c_str());
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, f.type.c_str());
  if (!f.enum_strings.empty() || !f.enum_ints.empty()) {
    json_builder_set_member_name(b, "enum");
    json_builder_begin_array(b);
    for (const std::string& s : f.enum_strings) json_builder_add_string_value(b, s.c_str());
    for (int i : f.enum_ints) json_builder_add_int_value(b, i);
    json_builder_end_array(b);
  }
  if (f.minimum) {
    json_builder_set_member_name(b, "minimum");
    json_builder_add_double_value(b, *f.minimum);
  }
  if (f.maximum) {
    json_builder_set_member_name(b, "maximum");
    json_builder_add_double_value(b, *f.maximum);
  }
  if (f.min_length > 0) {
    json_builder_set_member_name(b, "minLength");
    json_builder_add_int_value(b, f.min_length);
  }
  if (f.max_length > 0) {
    json_builder_set_member_name(b, "maxLength");
    json_builder_add_int_value(b, f.max_length);
  }
  if (!f.default_json.empty()) {
    json_builder_set_member_name(b, "default");
    add_default(b, f.default_json);
  }
  json_builder_set_member_name(b, "description");
  json_builder_add_string_value(b, f.description.c_str());
  json_builder_end_object(b);
}

void add_model_json(JsonBuilder* b, const ModelSpec& model, std::optional<double> base_override) {
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "model_id");
  json_builder_add_string_value(b, model.id.c_str());
  json_builder_set_member_name(b, "name");
  json_builder_add_string_value(b, model.name.c_str());
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, model.type.c_str());
  json_builder_set_member_name(b, "description");
  json_builder_add_string_value(b, model.description.c_str());
  json_builder_set_member_name(b, "base_price");
  json_builder_add_double_value(b, base_override ? *base_override : model.base_price);
  json_builder_set_member_name(b, "formula");
  json_builder_add_string_value(b, "base_price * duration / 5");
  json_builder_set_member_name(b, "output");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "video");
  json_builder_add_boolean_value(b, TRUE);
  json_builder_set_member_name(b, "audio");
  json_builder_add_boolean_value(b, model.audio);
  json_builder_end_object(b);

  json_builder_set_member_name(b, "api_schema");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "api_schemas");
  json_builder_begin_array(b);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, "model_run");
  json_builder_set_member_name(b, "method");
  json_builder_add_string_value(b, "POST");
  json_builder_set_member_name(b, "api_path");
  json_builder_add_string_value(b, ("/api/v3/" + model.id).c_str());
  json_builder_set_member_name(b, "request_schema");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, "object");
  json_builder_set_member_name(b, "properties");
  json_builder_begin_object(b);
  for (const FieldSpec& f : model.fields) add_field_json(b, f);
  json_builder_end_object(b);
  json_builder_set_member_name(b, "required");
  json_builder_begin_array(b);
  for (const FieldSpec& f : model.fields)
    if (f.required) json_builder_add_string_value(b, f.name.c_str());
  json_builder_end_array(b);
  json_builder_set_member_name(b, "x-order-properties");
  json_builder_begin_array(b);
  for (const FieldSpec& f : model.fields) json_builder_add_string_value(b, f.name.c_str());
  json_builder_end_array(b);
  json_builder_end_object(b);  // request_schema
  json_builder_end_object(b);  // api_schemas[0]
  json_builder_end_array(b);
  json_builder_end_object(b);  // api_schema
  json_builder_end_object(b);
}

}  // namespace emu
