// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-klingsrc
 * @title: klingsrc
 *
 * Generates a video from a text prompt (and, for image-to-video models, an
 * image) with WaveSpeed's Kling API and streams the MP4 it returns, seekable
 * and in BYTES format.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 klingsrc prompt="a red fox in snow" duration=10 aspect-ratio=9:16 ! \
 *     decodebin ! videoconvert ! autovideosink
 * gst-launch-1.0 klingsrc model=kwaivgi/kling-v2.1-i2v-master image=fox.png prompt="the fox runs" !
 * \ decodebin ! videoconvert ! autovideosink
 * ]|
 *
 * Any WaveSpeed video model is usable: its fields are read from WaveSpeed's
 * model catalogue (cached for an hour) and the request is checked against
 * them before anything is sent; `params` carries fields with no property.
 *
 * Nothing is submitted before the first buffer is asked for, and never twice
 * for the same request. It posts GstProgress (codes `submit`, `poll`,
 * `download`, `cache`, `journal`, `upload`; `poll` COMPLETE before the first
 * byte), `kling/task` (id, status, model, outputs, inference-time,
 * has-nsfw-contents, error, code, has-audio) and `kling/download` (bytes, total) element messages,
 * and tags (title and description: the prompt; encoder: the model; comment: the task). Nothing is
 * posted under a lock: a bus sync handler may read `task-id`, which notifies when it changes. URI:
 * `kling://MODEL?prompt=...&duration=10`.
 */
#include "klingsrc/gstklingsrc.h"
#include "klingsrc/gstklingsrc_private.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/handoff.h"
#include "common/kling_enums.h"
#include "common/kling_messages.h"
#include "core/session/element_session.h"

GST_DEBUG_CATEGORY_STATIC(gst_kling_src_debug);
#define GST_CAT_DEFAULT gst_kling_src_debug

namespace {

// One in-memory chunk per buffer: create() can then hand it on without a copy.
constexpr guint kDefaultBlocksize = kling::DownloadStore::kChunkSize;

}  // namespace

#define gst_kling_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstKlingSrc, gst_kling_src, GST_TYPE_BASE_SRC,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, gst_kling_src_uri_handler_init);
                        GST_DEBUG_CATEGORY_INIT(gst_kling_src_debug, "klingsrc", 0,
                                                "Kling text-to-video source"));
GST_ELEMENT_REGISTER_DEFINE(klingsrc, "klingsrc", GST_RANK_NONE, GST_TYPE_KLING_SRC);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static std::string current_task_id(GstKlingSrc* self) {
  return self->priv->generation->task_id();
}

// notify::task-id when it changed since the last one; called with no lock held.
static void notify_task_id(GstElement* element) {
  GstKlingSrc* self = GST_KLING_SRC(element);
  std::string id = current_task_id(self);
  {
    std::lock_guard<std::mutex> lock(self->priv->notify_lock);
    if (id == self->priv->notified_task_id) return;
    self->priv->notified_task_id = std::move(id);
  }
  g_object_notify_by_pspec(G_OBJECT(self), gst_kling_src_task_id_pspec);
}

// ---------------------------------------------------------------- GstBaseSrc

static gboolean gst_kling_src_start(GstBaseSrc* base) {
  GstKlingSrc* self = GST_KLING_SRC(base);
  auto error = self->priv->generation->start(gst_kling_src_snapshot_request(self));
  notify_task_id(GST_ELEMENT(self));  // another request, another task (or none yet)
  if (error) {
    GST_KLING_ELEMENT_ERROR(GST_ELEMENT(self), *error);
    return FALSE;
  }
  self->priv->duration_posted = false;
  self->priv->tags_sent = false;
  self->priv->reads = 0;
  return TRUE;
}

static gboolean gst_kling_src_stop(GstBaseSrc* base) {
  GST_KLING_SRC(base)->priv->generation->stop();
  notify_task_id(GST_ELEMENT(base));  // a failed task is let go
  return TRUE;
}

// Lets basesrc and downstream know the size once the download announced it.
static void update_duration(GstKlingSrc* self) {
  if (self->priv->duration_posted) return;
  auto total = self->priv->generation->size();
  if (!total) return;
  self->priv->duration_posted = true;
  GST_OBJECT_LOCK(self);
  GST_BASE_SRC(self)->segment.duration = static_cast<gint64>(*total);
  GST_OBJECT_UNLOCK(self);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_duration_changed(GST_OBJECT(self)));
}

// Tags on the bus (once) and downstream. A demuxer has no pads while it reads
// its header (pull mode, or push mode behind a queue) and nothing tells a source
// when it has them: a tag event before that goes nowhere. So the event goes again
// on reads 1, 2, 4, 8... and the sink sees it soon after the pads appear.
static void send_tags(GstKlingSrc* self) {
  GstPad* pad = GST_BASE_SRC_PAD(self);
  const bool pull = GST_PAD_MODE(pad) == GST_PAD_MODE_PULL;
  const guint64 n = ++self->priv->reads;
  if (self->priv->tags_sent && (n & (n - 1)) != 0) return;
  std::optional<kling::Request> request = self->priv->generation->request();
  if (!request) return;
  GstTagList* tags = gst_tag_list_new_empty();
  gst_tag_list_set_scope(tags, GST_TAG_SCOPE_GLOBAL);
  if (!request->prompt.empty())
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, request->prompt.c_str(),
                     GST_TAG_DESCRIPTION, request->prompt.c_str(), nullptr);
  std::string comment = "WaveSpeed task " + current_task_id(self);
  gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_ENCODER, request->model.c_str(),
                   GST_TAG_APPLICATION_NAME, "gst-kling", GST_TAG_COMMENT, comment.c_str(),
                   nullptr);
  if (!self->priv->tags_sent)
    gst_element_post_message(GST_ELEMENT(self),
                             gst_message_new_tag(GST_OBJECT(self), gst_tag_list_copy(tags)));
  self->priv->tags_sent = true;
  if (pull) {
    // Only to a peer that is pulling: a refused sticky event would fail the next read.
    GstPad* peer = gst_pad_get_peer(pad);
    if (peer && GST_PAD_MODE(peer) == GST_PAD_MODE_PULL && GST_PAD_IS_ACTIVE(peer))
      gst_pad_push_event(pad, gst_event_new_tag(tags));
    else
      gst_tag_list_unref(tags);
    if (peer) gst_object_unref(peer);
  } else
    gst_element_send_event(GST_ELEMENT(self), gst_event_new_tag(tags));
}

// Bytes still in memory go downstream as they are: the buffer shares their
// chunk, let go by whichever thread drops the last reference.
static GstMemory* wrap_piece(const kling::DownloadStore::Piece& piece) {
  using Hold = kling::Handoff<std::shared_ptr<kling::Chunk>>;
  return gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, const_cast<char*>(piece.data), piece.size,
                                0, piece.size, Hold::give(piece.chunk), Hold::drop);
}

// The buffer of a read: without a copy when memory holds every piece.
static GstBuffer* make_buffer(const kling::ElementSession::Read& read, kling::Error* error) {
  if (read.in_memory) {
    GstBuffer* buffer = gst_buffer_new();
    for (const auto& piece : read.pieces) gst_buffer_append_memory(buffer, wrap_piece(piece));
    return buffer;
  }
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, read.size, nullptr);
  GstMapInfo map;
  if (!buffer || !gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
    if (buffer) gst_buffer_unref(buffer);
    *error = {kling::ErrorKind::Write, "Cannot allocate a buffer", {}, 0, {}};
    return nullptr;
  }
  bool ok = kling::ElementSession::copy(read, map.data, error);
  gst_buffer_unmap(buffer, &map);
  if (!ok) {
    gst_buffer_unref(buffer);
    return nullptr;
  }
  return buffer;
}

static GstFlowReturn gst_kling_src_create(GstBaseSrc* base, guint64 offset, guint size,
                                          GstBuffer** buf) {
  GstKlingSrc* self = GST_KLING_SRC(base);
  // Pull mode (typefind, qtdemux) reads anywhere at any time.
  const bool random_access = GST_PAD_MODE(GST_BASE_SRC_PAD(base)) == GST_PAD_MODE_PULL;
  kling::ElementSession::Read read = self->priv->generation->read(offset, size, random_access);
  switch (read.status) {
    case kling::ElementSession::Read::Status::Flushing:
      return GST_FLOW_FLUSHING;
    case kling::ElementSession::Read::Status::Eos:
      return GST_FLOW_EOS;
    case kling::ElementSession::Read::Status::Error:
      GST_KLING_ELEMENT_ERROR(GST_ELEMENT(self), read.error);
      return GST_FLOW_ERROR;
    case kling::ElementSession::Read::Status::Ok:
      break;
  }
  update_duration(self);
  send_tags(self);
  kling::Error error;
  GstBuffer* buffer = make_buffer(read, &error);
  if (!buffer) {
    error.task_id = current_task_id(self);
    GST_KLING_ELEMENT_ERROR(GST_ELEMENT(self), error);
    return GST_FLOW_ERROR;
  }
  GST_BUFFER_OFFSET(buffer) = offset;
  GST_BUFFER_OFFSET_END(buffer) = offset + read.size;
  *buf = buffer;
  return GST_FLOW_OK;
}

static gboolean gst_kling_src_get_size(GstBaseSrc* base, guint64* size) {
  auto total = GST_KLING_SRC(base)->priv->generation->size();
  if (!total) return FALSE;
  *size = *total;
  return TRUE;
}

static gboolean gst_kling_src_is_seekable(GstBaseSrc*) {
  return TRUE;
}

// unlock() only wakes the streaming thread: a flushing seek must not stop the task.
static gboolean gst_kling_src_unlock(GstBaseSrc* base) {
  GST_KLING_SRC(base)->priv->generation->set_flushing(true);
  return TRUE;
}

static gboolean gst_kling_src_unlock_stop(GstBaseSrc* base) {
  GST_KLING_SRC(base)->priv->generation->set_flushing(false);
  return TRUE;
}

// An EOS sent to the element (gst-launch -e on Ctrl-C) ends the wait for the
// task: say so, with the id, so nobody waits on a progress that will not finish.
static gboolean gst_kling_src_send_event(GstElement* element, GstEvent* event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS)
    GST_KLING_SRC(element)->priv->generation->announce_stop();
  return GST_ELEMENT_CLASS(parent_class)->send_event(element, event);
}

// ---------------------------------------------------------------- GObject

static void gst_kling_src_init(GstKlingSrc* self) {
  // GObject runs no C++ constructors: the private part is a C++ object of its own.
  self->priv = new GstKlingSrcPrivate();
  self->priv->generation = std::make_unique<kling::ElementSession>(
      gst_kling_element_events(GST_ELEMENT(self), GST_CAT_DEFAULT, notify_task_id));
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_BYTES);
  gst_base_src_set_blocksize(GST_BASE_SRC(self), kDefaultBlocksize);
}

static void gst_kling_src_finalize(GObject* object) {
  GstKlingSrc* self = GST_KLING_SRC(object);
  delete self->priv;  // stops a runner still alive (a NULL state skipped stop())
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_kling_src_class_init(GstKlingSrcClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSrcClass* basesrc_class = GST_BASE_SRC_CLASS(klass);

  gobject_class->finalize = gst_kling_src_finalize;

  gst_kling_src_install_properties(gobject_class);

  gst_element_class_set_static_metadata(
      element_class, "Kling text-to-video source", "Source/Network",
      "Generates a video from a text prompt with WaveSpeed's Kling API", "gst-kling developers");
  gst_element_class_add_static_pad_template(element_class, &src_template);

  element_class->send_event = GST_DEBUG_FUNCPTR(gst_kling_src_send_event);
  basesrc_class->start = GST_DEBUG_FUNCPTR(gst_kling_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR(gst_kling_src_stop);
  basesrc_class->create = GST_DEBUG_FUNCPTR(gst_kling_src_create);
  basesrc_class->get_size = GST_DEBUG_FUNCPTR(gst_kling_src_get_size);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR(gst_kling_src_is_seekable);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR(gst_kling_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR(gst_kling_src_unlock_stop);

  gst_type_mark_as_plugin_api(GST_TYPE_KLING_DURATION, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_KLING_ASPECT_RATIO, static_cast<GstPluginAPIFlags>(0));
}
