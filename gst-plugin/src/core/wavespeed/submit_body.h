// SPDX-License-Identifier: LGPL-2.1-or-later
// The submit body of a request, checked against the model's schema: the named
// properties and `params` merged (a property the user set wins over the same
// field in params), each value typed as the schema says, enums, ranges and
// required fields checked, and a field the model does not take refused. A
// refusal is a Settings error naming the field and what it accepts. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/request/request.h"
#include "core/util/error.h"
#include "core/wavespeed/model_catalog.h"

namespace kling {

struct SubmitBody {
  std::string json;
  bool has_audio =
      false;  // the model's videos carry sound (its schema, or a sound field sent true)
  std::string
      summary;  // the fields besides the texts and the image, for progress: "duration=10, seed=42"
};

// `schema` nullptr: the model is unknown and no catalogue was had: the text-to-video
// fields and the params go as given. `image_url`: what to send as `image` (the
// upload's URL for a local file; "" = request.image as it is).
std::optional<Error> build_submit_body(const Request& request, const ModelSchema* schema,
                                       const std::string& image_url, SubmitBody* out);

// The fields that body carries, merged and typed by the same code, without the checks:
// name -> compact JSON. A field the schema does not know, or a value it cannot type, is
// as given (a catalogue read later may know it). What the request's identity is made of
// (fingerprint.h): two requests whose bodies are the same have the same fields here.
std::map<std::string, std::string> body_fields(const Request& request, const ModelSchema* schema,
                                               const std::string& image_url);

}  // namespace kling
