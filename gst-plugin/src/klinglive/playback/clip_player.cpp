// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/clip_player.h"

#include <cstring>

#include "klinglive/playback/call_async.h"
#include "klinglive/playback/disclosure.h"
#include "klinglive/playback/frames_chain.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

// What the child's bus handler (any of its threads) and this player share.
struct ClipPlayer::Shared {
  std::mutex mutex;        // what follows
  std::mutex state_mutex;  // start and stop of the pipeline, one at a time
  Status status;
  bool failed = false;
  bool stopping = false;
  GWeakRef owner;
  GstElement* convert = nullptr;        // the video chain's head, linked on pad-added
  GstElement* audio_convert = nullptr;  // the sound's, when asked for

  explicit Shared(GstElement* o) { g_weak_ref_init(&owner, o); }
  ~Shared() { g_weak_ref_clear(&owner); }
};

namespace {

const char* state_of_task(const char* status) {
  if (!status) return nullptr;
  if (!strcmp(status, "created")) return "queued";
  if (!strcmp(status, "processing")) return "processing";
  if (!strcmp(status, "completed")) return "downloading";
  if (!strcmp(status, "failed")) return "failed";
  return nullptr;
}

}  // namespace

ClipPlayer::ClipPlayer(GstElement* owner, const PropertyValues& defaults,
                       const std::string& request, GstCaps* caps, GstCaps* audio_caps,
                       const Extras& extras)
    : shared_(std::make_shared<Shared>(owner)) {
  shared_->status.prompt = request;
  shared_->status.started_us = g_get_monotonic_time();
  pipeline_ = gst_pipeline_new(nullptr);
  src_ = gst_element_factory_make("klingsrc", nullptr);
  GstElement* decode = gst_element_factory_make("decodebin", nullptr);
  FramesChain chain;
  if (!src_ || !decode || !add_frames_chain(GST_BIN(pipeline_), caps, true, &chain)) {
    for (GstElement* e : {src_, decode})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    src_ = nullptr;
    shared_->failed = true;
    shared_->status.state = "failed";
    shared_->status.error = "klingsrc, decodebin or a video element is missing";
    return;
  }
  filter_ = chain.filter;
  sink_ = chain.sink;
  // A few frames decoded ahead, no clock: the live output sets the pace. Enough
  // that a clip's EOS is known frames before its last frame is due, on a busy machine.
  g_object_set(sink_, "sync", FALSE, "max-buffers", 6u, "drop", FALSE, "enable-last-sample", FALSE,
               nullptr);
  gst_bin_add_many(GST_BIN(pipeline_), src_, decode, nullptr);
  gst_element_link(src_, decode);
  shared_->convert = chain.convert;
  add_extras(chain.rate, extras);
  if (audio_caps) add_audio_chain(audio_caps);
  // The video decoder decodes on the clip's streaming thread, with no workers of its own.
  // libav's frame threads (one a core) were made and ended with every clip, each with its
  // copy of the decoder's state and frames allocated in its own glibc arena, which keeps
  // the pages freed: 380-470 MiB over 100 720p clips, against 240-290 MiB single-threaded
  // (bench/results/live.md). A clip is decoded ahead, at the output's rate: one core is
  // plenty, and no thread is started or ended on the output's account.
  g_signal_connect(decode, "deep-element-added", G_CALLBACK(on_element_added), nullptr);
  g_signal_connect_data(
      decode, "pad-added", G_CALLBACK(on_pad_added), new std::shared_ptr<Shared>(shared_),
      [](gpointer d, GClosure*) { delete static_cast<std::shared_ptr<Shared>*>(d); },
      GConnectFlags(0));
  set_request(defaults, request);

  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline_));
  gst_bus_set_sync_handler(bus, on_message, new std::shared_ptr<Shared>(shared_),
                           [](gpointer d) { delete static_cast<std::shared_ptr<Shared>*>(d); });
}

// audioconvert ! audioresample ! the audio pad's caps ! appsink. Not in preroll
// (async=false): a clip without sound must not hold its video back.
void ClipPlayer::add_audio_chain(GstCaps* audio_caps) {
  GstElement* aconv = gst_element_factory_make("audioconvert", nullptr);
  GstElement* resample = gst_element_factory_make("audioresample", nullptr);
  GstElement* afilter = gst_element_factory_make("capsfilter", nullptr);
  GstElement* asink = gst_element_factory_make("appsink", nullptr);
  if (!aconv || !resample || !afilter || !asink) {
    for (GstElement* e : {aconv, resample, afilter, asink})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    return;
  }
  g_object_set(afilter, "caps", audio_caps, nullptr);
  g_object_set(asink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline_), aconv, resample, afilter, asink, nullptr);
  gst_element_link_many(aconv, resample, afilter, asink, nullptr);
  shared_->audio_convert = aconv;
  audio_sink_ = GST_APP_SINK(asink);
}

// The live element's defaults on klingsrc, then the request: a prompt, or a kling:// URI.
void ClipPlayer::set_request(const PropertyValues& defaults, const std::string& request) {
  for (const auto& [name, value] : defaults)
    g_object_set_property(G_OBJECT(src_), name.c_str(), value.get());
  if (g_str_has_prefix(request.c_str(), "kling://")) {
    g_autoptr(GError) error = nullptr;
    if (!gst_uri_handler_set_uri(GST_URI_HANDLER(src_), request.c_str(), &error)) {
      shared_->failed = true;
      shared_->status.state = "failed";
      shared_->status.error = error->message;
    }
  } else {
    g_object_set(src_, "prompt", request.c_str(), nullptr);
  }
  g_autofree char* prompt = nullptr;
  g_autofree char* model = nullptr;
  g_object_get(src_, "prompt", &prompt, "model", &model, nullptr);
  shared_->status.prompt = prompt ? prompt : "";
  shared_->status.model = model ? model : "";
}

ClipPlayer::~ClipPlayer() {
  GST_DEBUG("clip player of \"%s\" destroyed", shared_->status.prompt.c_str());
  stop();
  if (last_frame_) last_frame_->abandon();  // no frame now, if none came
  if (peeked_) gst_sample_unref(peeked_);
  gst_object_unref(pipeline_);
}

void ClipPlayer::on_element_added(GstBin*, GstBin*, GstElement* element, gpointer) {
  GstElementFactory* factory = gst_element_get_factory(element);
  if (factory && g_str_has_prefix(GST_OBJECT_NAME(factory), "avdec_") &&
      g_object_class_find_property(G_OBJECT_GET_CLASS(element), "max-threads"))
    g_object_set(element, "max-threads", 1, nullptr);
}

// The disclosure drawn between videorate and the output caps (textoverlay blends
// in each of them), and the last frame watched where it leaves the decoder,
// before the overlay and the scaling: the next clip of a story starts from the picture.
void ClipPlayer::add_extras(GstElement* rate, const Extras& extras) {
  if (GstElement* overlay = make_disclosure_overlay(extras.disclosure)) {
    gst_bin_add(GST_BIN(pipeline_), overlay);
    gst_element_unlink(rate, filter_);
    gst_element_link_many(rate, overlay, filter_, nullptr);
  } else if (!extras.disclosure.empty()) {
    GST_WARNING(
        "textoverlay (gstreamer1.0-plugins-base, pango) is missing: the disclosure "
        "\"%s\" cannot be drawn",
        extras.disclosure.c_str());
  }
  if (!extras.frames_dir.empty()) {
    last_frame_ = std::make_shared<LastFrame>(extras.frames_dir);
    g_autoptr(GstPad) decoded = gst_element_get_static_pad(shared_->convert, "sink");
    last_frame_->watch(decoded);
  }
}

void ClipPlayer::on_pad_added(GstElement*, GstPad* pad, gpointer data) {
  auto& shared = *static_cast<std::shared_ptr<Shared>*>(data);
  GstElement* head = pad_carries(pad, "video/")   ? shared->convert
                     : pad_carries(pad, "audio/") ? shared->audio_convert
                                                  : nullptr;
  if (head) link_once(pad, head);  // sound nobody asked for: its stream just goes unlinked
}

GstBusSyncReply ClipPlayer::on_message(GstBus*, GstMessage* msg, gpointer data) {
  // A sync handler that returns GST_BUS_DROP owns the message: without this unref
  // every message (each holding its source element) kept the whole clip pipeline,
  // its decoder's frame pool included, alive for ever (issue 11).
  g_autoptr(GstMessage) owned = msg;
  auto& shared = *static_cast<std::shared_ptr<Shared>*>(data);
  GstMessageType type = GST_MESSAGE_TYPE(msg);
  if (type != GST_MESSAGE_ERROR && type != GST_MESSAGE_WARNING && type != GST_MESSAGE_INFO &&
      type != GST_MESSAGE_PROGRESS && type != GST_MESSAGE_ELEMENT)
    return GST_BUS_DROP;
  GstMessage* post = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared->mutex);
    if (shared->stopping) return GST_BUS_DROP;
    Status& st = shared->status;
    if (type == GST_MESSAGE_PROGRESS) {
      GstProgressType ptype;
      gchar *code = nullptr, *text = nullptr;
      gst_message_parse_progress(msg, &ptype, &code, &text);
      if (code && !strcmp(code, "submit") && st.task_id.empty())
        st.state = "submitting";
      else if (code && (!strcmp(code, "download") || !strcmp(code, "cache")))
        st.state = "downloading";
      g_free(code);
      g_free(text);
    } else if (type == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/task")) {
      const GstStructure* s = gst_message_get_structure(msg);
      if (const char* id = gst_structure_get_string(s, "id")) st.task_id = id;
      if (const char* state = state_of_task(gst_structure_get_string(s, "status")))
        if (st.state != "downloading" || !strcmp(state, "failed")) st.state = state;
    }
    if (type == GST_MESSAGE_ERROR && shared->failed) {
      return GST_BUS_DROP;  // the first error said why (the rest follow from it)
    } else if (type == GST_MESSAGE_ERROR) {
      // This clip fails; the live stream goes on: a WARNING on the live element.
      GError* error = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &error, &debug);
      shared->failed = true;
      st.state = "failed";
      st.error = error->message;
      g_autofree char* text = g_strdup_printf(
          "generation of \"%s\" failed (task id: %s); the live stream goes on. %s",
          st.prompt.c_str(), st.task_id.empty() ? "none" : st.task_id.c_str(), debug ? debug : "");
      if (auto* owner = static_cast<GstElement*>(g_weak_ref_get(&shared->owner))) {
        post = gst_message_new_warning(GST_OBJECT(owner), error, text);
        gst_object_unref(owner);
      }
      g_error_free(error);
      g_free(debug);
    } else {
      post = gst_message_ref(msg);
    }
  }
  if (auto* owner = static_cast<GstElement*>(g_weak_ref_get(&shared->owner))) {
    if (post) gst_element_post_message(owner, post);
    gst_object_unref(owner);
  } else if (post) {
    gst_message_unref(post);
  }
  return GST_BUS_DROP;
}

// Off the caller's thread (the live output's): a state change can take a while under load.
void ClipPlayer::start() {
  if (failed() || !src_) return;
  call_async(pipeline_, [shared = shared_](GstElement* pipeline) {
    // Serialised with stop(): a pipeline stopped must not start after.
    std::lock_guard<std::mutex> state_lock(shared->state_mutex);
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      if (shared->stopping) return;
    }
    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->failed = true;
      shared->status.state = "failed";
      if (shared->status.error.empty()) shared->status.error = "the clip's pipeline did not start";
    }
  });
}

bool ClipPlayer::ready() {
  if (!peeked_ && sink_) peeked_ = gst_app_sink_try_pull_sample(sink_, 0);
  if (peeked_) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->status.state = "ready";
  }
  return peeked_ != nullptr;
}

GstSample* ClipPlayer::pull() {
  if (peeked_) return std::exchange(peeked_, nullptr);
  return sink_ ? gst_app_sink_try_pull_sample(sink_, 0) : nullptr;
}

bool ClipPlayer::ended() {
  if (peeked_) return false;
  return failed() || !sink_ || gst_app_sink_is_eos(sink_);
}

bool ClipPlayer::failed() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->failed;
}

void ClipPlayer::restart() {
  call_async(pipeline_, [](GstElement* pipeline) {
    gst_element_seek_simple(pipeline, GST_FORMAT_TIME,
                            GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
  });
}

void ClipPlayer::set_caps(GstCaps* caps) {
  if (filter_) g_object_set(filter_, "caps", caps, nullptr);
}

void ClipPlayer::stop() {
  std::lock_guard<std::mutex> state_lock(shared_->state_mutex);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
  }
  gst_element_set_state(pipeline_, GST_STATE_NULL);
}

ClipPlayer::Status ClipPlayer::status() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->status;
}

}  // namespace kling::live
