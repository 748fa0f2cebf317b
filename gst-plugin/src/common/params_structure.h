// SPDX-License-Identifier: LGPL-2.1-or-later
// The `params` property (a GstStructure of request fields with no property of
// their own) as the GStreamer-free core takes them.
#pragma once

#include <gst/gst.h>

#include "core/request/request.h"

// The structure's fields as plain values (nullptr: none); strings stay text,
// typed later by the model's schema.
kling::Params gst_kling_params_from_structure(const GstStructure* structure);
