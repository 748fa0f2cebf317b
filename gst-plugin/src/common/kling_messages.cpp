// SPDX-License-Identifier: LGPL-2.1-or-later
// What every kling element posts, made the same way: errors with their
// details, GstProgress from the core's progress, kling/task and kling/download.
#include "common/kling_messages.h"

#include <memory>
#include <string>

void gst_kling_post_error(GstElement* element, const kling::Error& error, const char* file,
                          const char* function, int line) {
  GstResourceError code;
  switch (error.kind) {
    case kling::ErrorKind::Settings:
    case kling::ErrorKind::InvalidInput:
      code = GST_RESOURCE_ERROR_SETTINGS;
      break;
    case kling::ErrorKind::NotAuthorized:
      code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      break;
    case kling::ErrorKind::NotFound:
      code = GST_RESOURCE_ERROR_NOT_FOUND;
      break;
    case kling::ErrorKind::Write:
      code = GST_RESOURCE_ERROR_WRITE;
      break;
    case kling::ErrorKind::TooLarge:
      code = GST_RESOURCE_ERROR_NO_SPACE_LEFT;
      break;
    case kling::ErrorKind::TaskFailed:
      code = GST_RESOURCE_ERROR_FAILED;
      break;
    case kling::ErrorKind::BadReply:
    case kling::ErrorKind::Timeout:
    case kling::ErrorKind::Network:
    default:
      code = GST_RESOURCE_ERROR_READ;
      break;
  }
  std::string debug = error.debug;
  if (!error.task_id.empty())
    debug = "task id: " + error.task_id + (debug.empty() ? "" : "; " + debug);
  GstStructure* details =
      gst_structure_new("details", "http-status-code", G_TYPE_UINT, error.http_status, "task-id",
                        G_TYPE_STRING, error.task_id.c_str(), nullptr);
  gst_element_message_full_with_details(
      element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, code, g_strdup(error.message.c_str()),
      debug.empty() ? nullptr : g_strdup(debug.c_str()), file, function, line, details);
}

static GstProgressType to_gst(kling::ProgressType type) {
  switch (type) {
    case kling::ProgressType::Start:
      return GST_PROGRESS_TYPE_START;
    case kling::ProgressType::Continue:
      return GST_PROGRESS_TYPE_CONTINUE;
    case kling::ProgressType::Complete:
      return GST_PROGRESS_TYPE_COMPLETE;
    case kling::ProgressType::Canceled:
      return GST_PROGRESS_TYPE_CANCELED;
    default:
      return GST_PROGRESS_TYPE_ERROR;
  }
}

static GstStructure* task_structure(const kling::api::Task& task) {
  GValue outputs = G_VALUE_INIT, nsfw = G_VALUE_INIT, item = G_VALUE_INIT;
  gst_value_array_init(&outputs, task.outputs.size());
  for (const std::string& url : task.outputs) {
    g_value_init(&item, G_TYPE_STRING);
    g_value_set_string(&item, url.c_str());
    gst_value_array_append_and_take_value(&outputs, &item);
  }
  gst_value_array_init(&nsfw, task.has_nsfw_contents.size());
  for (bool flag : task.has_nsfw_contents) {
    g_value_init(&item, G_TYPE_BOOLEAN);
    g_value_set_boolean(&item, flag);
    gst_value_array_append_and_take_value(&nsfw, &item);
  }
  GstStructure* s = gst_structure_new(
      "kling/task", "id", G_TYPE_STRING, task.id.c_str(), "status", G_TYPE_STRING,
      task.status.c_str(), "model", G_TYPE_STRING, task.model.c_str(), "inference-time",
      G_TYPE_INT64, task.inference_ms, "error", G_TYPE_STRING, task.error.c_str(), "code",
      G_TYPE_INT, task.code, "has-audio", G_TYPE_BOOLEAN, task.has_audio, nullptr);
  gst_structure_take_value(s, "outputs", &outputs);
  gst_structure_take_value(s, "has-nsfw-contents", &nsfw);
  return s;
}

// A weak reference: a worker left running (stopped from its own thread) must
// not post on an element that is gone.
namespace {

class ElementRef {
 public:
  explicit ElementRef(GstElement* element) { g_weak_ref_init(&ref_, element); }
  ~ElementRef() { g_weak_ref_clear(&ref_); }
  ElementRef(const ElementRef&) = delete;
  ElementRef& operator=(const ElementRef&) = delete;
  // Calls `f(element)` with a reference held, if the element still exists.
  template <typename F>
  void with(F f) {
    GstElement* element = static_cast<GstElement*>(g_weak_ref_get(&ref_));
    if (!element) return;
    f(element);
    gst_object_unref(element);
  }
  // Posts `make(element)`'s message if the element still exists.
  template <typename Make>
  void post(Make make) {
    with([&](GstElement* element) { gst_element_post_message(element, make(element)); });
  }

 private:
  GWeakRef ref_;
};

}  // namespace

kling::TaskEvents gst_kling_element_events(GstElement* owner, GstDebugCategory* category,
                                           void (*on_task)(GstElement* element)) {
  auto ref = std::make_shared<ElementRef>(owner);
  kling::TaskEvents events;
  events.progress = [ref, category](kling::ProgressType type, const char* code,
                                    const std::string& text) {
    ref->post([&](GstElement* element) {
      GST_CAT_INFO_OBJECT(category, element, "progress (%s): %s", code, text.c_str());
      return gst_message_new_progress(GST_OBJECT(element), to_gst(type), code, text.c_str());
    });
  };
  events.task = [ref, category, on_task](const kling::api::Task& task) {
    ref->with([&](GstElement* element) {
      GST_CAT_INFO_OBJECT(category, element, "task %s: %s", task.id.c_str(), task.status.c_str());
      gst_element_post_message(element,
                               gst_message_new_element(GST_OBJECT(element), task_structure(task)));
      if (on_task) on_task(element);
    });
  };
  events.download = [ref](uint64_t have, std::optional<uint64_t> total) {
    ref->post([&](GstElement* element) {
      GstStructure* s =
          gst_structure_new("kling/download", "bytes", G_TYPE_UINT64, have, "total", G_TYPE_INT64,
                            total ? static_cast<gint64>(*total) : -1, nullptr);
      return gst_message_new_element(GST_OBJECT(element), s);
    });
  };
  return events;
}
