// SPDX-License-Identifier: LGPL-2.1-or-later
// What klinglivesrc posts, as the klinglivesrc suites read it from the bus:
// kling/live events (slate, clip-start, clip-end), warnings and errors, and
// the generations' kling/task messages.
#pragma once

#include <gst/gst.h>

#include <mutex>
#include <string>
#include <vector>

struct LiveEvent {
  std::string event, task_id, prompt;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
};

struct LiveLog {
  std::mutex mutex;  // what follows (and what a suite adds beside it)
  std::vector<LiveEvent> events;
  std::vector<std::string> warnings, errors;  // "message | debug"
  int task_messages = 0;

  std::vector<LiveEvent> of(const char* event) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<LiveEvent> out;
    for (auto& e : events)
      if (e.event == event) out.push_back(e);
    return out;
  }

  // A bus sync handler; `data` is the LiveLog. The message goes on to the bus.
  static GstBusSyncReply on_message(GstBus*, GstMessage* msg, gpointer data) {
    auto* log = static_cast<LiveLog*>(data);
    std::lock_guard<std::mutex> lock(log->mutex);
    const GstMessageType type = GST_MESSAGE_TYPE(msg);
    if (type == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/live")) {
      const GstStructure* s = gst_message_get_structure(msg);
      LiveEvent e{gst_structure_get_string(s, "event"), gst_structure_get_string(s, "task-id"),
                  gst_structure_get_string(s, "prompt")};
      gst_structure_get_uint64(s, "running-time", &e.running_time);
      log->events.push_back(e);
    } else if (type == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/task")) {
      log->task_messages++;
    } else if (type == GST_MESSAGE_WARNING || type == GST_MESSAGE_ERROR) {
      GError* error = nullptr;
      gchar* debug = nullptr;
      if (type == GST_MESSAGE_WARNING)
        gst_message_parse_warning(msg, &error, &debug);
      else
        gst_message_parse_error(msg, &error, &debug);
      std::string text = std::string(error->message) + " | " + (debug ? debug : "");
      (type == GST_MESSAGE_WARNING ? log->warnings : log->errors).push_back(text);
      g_error_free(error);
      g_free(debug);
    }
    return GST_BUS_PASS;
  }
};
