// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: JSON text as every server writes it (compact, tidy numbers) and
// WaveSpeed's envelope.
#pragma once

#include <json-glib/json-glib.h>

#include <string>

namespace emu {

// The builder's root as compact JSON; doubles as short as they round-trip
// ("2.6", not json-glib's "2.6000000000000001"); every control character escaped.
std::string to_json(JsonBuilder* b);

// {"code":200,"message":"success","data":{ ... left open for the data's members;
// two json_builder_end_object() close it. With array, data is an array ("data":[),
// closed by json_builder_end_array() then json_builder_end_object().
void begin_success_envelope(JsonBuilder* b, bool array = false);

// {"code":CODE,"message":MESSAGE} plus "error_code" when not empty.
std::string envelope_error(int code, const std::string& message,
                           const std::string& error_code = {});

// The root object of a JSON text, nullptr if the text is not a JSON object; the
// parser owns it. error (optional) says why.
JsonObject* parse_object(JsonParser* parser, const char* data, size_t size,
                         std::string* error = nullptr);

}  // namespace emu
