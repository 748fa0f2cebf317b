// SPDX-License-Identifier: LGPL-2.1-or-later
// Request fields given by name with no property of their own (the element's
// `params` GstStructure, a kling:// URI's unknown query keys), as plain values:
// the core stays GStreamer-free. They are typed for the submit by the model's
// schema (submit_body.h), so a string "5" for an integer field is sent as 5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kling {

struct ParamValue {
  enum class Kind { String, Integer, Number, Boolean };
  Kind kind = Kind::String;
  std::string text;  // Kind::String
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;

  static ParamValue of(std::string s) {
    ParamValue v;
    v.text = std::move(s);
    return v;
  }
  static ParamValue of(int64_t i) {
    ParamValue v;
    v.kind = Kind::Integer;
    v.integer = i;
    return v;
  }
  static ParamValue of(double d) {
    ParamValue v;
    v.kind = Kind::Number;
    v.number = d;
    return v;
  }
  static ParamValue of_bool(bool b) {
    ParamValue v;
    v.kind = Kind::Boolean;
    v.boolean = b;
    return v;
  }

  // As it would read in JSON, untyped by any schema ("\"zoom_in\"", "0.7", "true").
  std::string json() const;
};

struct Param {
  std::string name;
  ParamValue value;
};
using Params = std::vector<Param>;

// A field name a request may carry: letters, digits and '_' (what JSON Schemas use).
bool is_param_name(const std::string& name);

}  // namespace kling
