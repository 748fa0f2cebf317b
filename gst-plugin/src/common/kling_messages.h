// SPDX-License-Identifier: LGPL-2.1-or-later
// The messages every kling element posts for the core (GStreamer side, shared).
#pragma once

#include <gst/gst.h>

#include "core/task/task_runner.h"
#include "core/util/error.h"

// Posts `error` as a GST_RESOURCE_ERROR (the code from its kind) with the
// task id in the debug string, and `http-status-code` and `task-id` details;
// the message names the caller's file, function and line, as GST_ELEMENT_ERROR does.
#define GST_KLING_ELEMENT_ERROR(element, error) \
  gst_kling_post_error((element), (error), __FILE__, GST_FUNCTION, __LINE__)
void gst_kling_post_error(GstElement* element, const kling::Error& error, const char* file,
                          const char* function, int line);

// Events that post the core's progress as GstProgress, each status change as
// a kling/task element message and download progress as kling/download, on
// `element` while it exists (a weak reference), logging to `category`.
// `on_task` is called after each kling/task message, with a reference held.
kling::TaskEvents gst_kling_element_events(GstElement* element, GstDebugCategory* category,
                                           void (*on_task)(GstElement* element) = nullptr);
