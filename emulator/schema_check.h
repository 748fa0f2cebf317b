// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: checks a submit body against its model's request schema, as
// WaveSpeed does before it makes (and bills) a task.
#pragma once

#include "catalog.h"
#include "task_store.h"

#include <json-glib/json-glib.h>

#include <string>

namespace emu {

// Fields any model takes beside its schema (the API's own switches).
bool is_control_field(const std::string& name);

// "" if body is acceptable for model, else the message of the 400 reply
// ("Missing required parameter: image", "Invalid parameter: duration must be an
// integer, one of 5, 10", "Invalid parameter: foo is not a parameter of ...").
// On success fills request (prompt, aspect ratio, duration, image, audio).
std::string check_request(const ModelSpec& model, JsonObject* body, TaskRequest* request);

}  // namespace emu
