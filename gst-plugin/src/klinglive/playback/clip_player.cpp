// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/clip_player.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

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
  // Made by build(), off the output's thread; under `mutex` once published.
  GstElement* pipeline = nullptr;
  GstElement* filter = nullptr;
  GstAppSink* sink = nullptr;
  GstAppSink* audio_sink = nullptr;
  GstCaps* caps = nullptr;  // the output's, the latest set

  explicit Shared(GstElement* o) { g_weak_ref_init(&owner, o); }
  ~Shared() {
    g_weak_ref_clear(&owner);
    gst_clear_caps(&caps);
  }
  void fail(const std::string& why) {  // under mutex
    failed = true;
    status.state = "failed";
    if (status.error.empty()) status.error = why;
  }
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

ClipPlayer::ClipPlayer(GstElement* owner, std::shared_ptr<const PropertyValues> defaults,
                       const std::string& request, GstCaps* caps, GstCaps* audio_caps,
                       const Extras& extras)
    : shared_(std::make_shared<Shared>(owner)),
      defaults_(std::move(defaults)),
      request_(request),
      audio_caps_(audio_caps ? gst_caps_ref(audio_caps) : nullptr),
      disclosure_(extras.disclosure) {
  // Known from the start: story mode waits on it (it is watched once the pipeline is made).
  if (!extras.frames_dir.empty()) last_frame_ = std::make_shared<LastFrame>(extras.frames_dir);
  shared_->status.prompt = request;
  shared_->status.started_us = g_get_monotonic_time();
  shared_->caps = gst_caps_ref(caps);
}

// The clip's pipeline, made and set PLAYING on GStreamer's thread pool (start()): making
// klingsrc and decodebin with their properties took the live output's thread 100-200 ms
// at each switch, on a busy machine. Returns the pipeline (a ref), or nullptr on failure.
GstElement* ClipPlayer::build(const std::shared_ptr<Shared>& shared, const PropertyValues& defaults,
                              const std::string& request, GstCaps* audio_caps,
                              const std::string& disclosure,
                              const std::shared_ptr<LastFrame>& last_frame) {
  g_autoptr(GstCaps) caps = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared->mutex);
    caps = gst_caps_ref(shared->caps);
  }
  GstElement* pipeline = gst_pipeline_new(nullptr);
  GstElement* src = gst_element_factory_make("klingsrc", nullptr);
  GstElement* decode = gst_element_factory_make("decodebin", nullptr);
  FramesChain chain;
  if (!src || !decode || !add_frames_chain(GST_BIN(pipeline), caps, true, &chain)) {
    for (GstElement* e : {src, decode, pipeline})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    std::lock_guard<std::mutex> lock(shared->mutex);
    shared->fail("klingsrc, decodebin or a video element is missing");
    return nullptr;
  }
  // A few frames decoded ahead, no clock: the live output sets the pace. Enough
  // that a clip's EOS is known frames before its last frame is due, on a busy machine.
  g_object_set(chain.sink, "sync", FALSE, "max-buffers", 6u, "drop", FALSE, "enable-last-sample",
               FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), src, decode, nullptr);
  gst_element_link(src, decode);
  add_extras(pipeline, chain.rate, chain.filter, chain.convert, disclosure, last_frame);
  GstElement* aconv = nullptr;
  GstAppSink* audio_sink = audio_caps ? add_audio_chain(pipeline, audio_caps, &aconv) : nullptr;
  // The video decoder decodes on the clip's streaming thread, with no workers of its own.
  // libav's frame threads (one a core) were made and ended with every clip, each with its
  // copy of the decoder's state and frames allocated in its own glibc arena, which keeps
  // the pages freed: 380-470 MiB over 100 720p clips, against 240-290 MiB single-threaded
  // (bench/results/live.md). A clip is decoded ahead, at the output's rate: one core is
  // plenty, and no thread is started or ended on the output's account.
  g_signal_connect(decode, "deep-element-added", G_CALLBACK(on_element_added), nullptr);
  g_signal_connect_data(
      decode, "pad-added", G_CALLBACK(on_pad_added), new std::shared_ptr<Shared>(shared),
      [](gpointer d, GClosure*) { delete static_cast<std::shared_ptr<Shared>*>(d); },
      GConnectFlags(0));
  std::string error, prompt, model;
  set_request(src, defaults, request, &error, &prompt, &model);

  g_autoptr(GstBus) bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline));
  gst_bus_set_sync_handler(bus, on_message, new std::shared_ptr<Shared>(shared),
                           [](gpointer d) { delete static_cast<std::shared_ptr<Shared>*>(d); });

  // Published: the output sees the appsink from here on, with the latest caps.
  std::lock_guard<std::mutex> lock(shared->mutex);
  if (!gst_caps_is_equal(caps, shared->caps))
    g_object_set(chain.filter, "caps", shared->caps, nullptr);
  shared->status.prompt = prompt;
  shared->status.model = model;
  shared->convert = chain.convert;
  shared->audio_convert = aconv;
  shared->pipeline = GST_ELEMENT(gst_object_ref(pipeline));
  shared->filter = chain.filter;
  shared->sink = chain.sink;
  shared->audio_sink = audio_sink;
  if (!error.empty()) {
    shared->fail(error);
    gst_object_unref(pipeline);
    return nullptr;
  }
  return pipeline;
}

// audioconvert ! audioresample ! the audio pad's caps ! appsink. Not in preroll
// (async=false): a clip without sound must not hold its video back. Its appsink, or nullptr.
GstAppSink* ClipPlayer::add_audio_chain(GstElement* pipeline, GstCaps* audio_caps,
                                        GstElement** head) {
  GstElement* aconv = gst_element_factory_make("audioconvert", nullptr);
  GstElement* resample = gst_element_factory_make("audioresample", nullptr);
  GstElement* afilter = gst_element_factory_make("capsfilter", nullptr);
  GstElement* asink = gst_element_factory_make("appsink", nullptr);
  if (!aconv || !resample || !afilter || !asink) {
    for (GstElement* e : {aconv, resample, afilter, asink})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    return nullptr;
  }
  g_object_set(afilter, "caps", audio_caps, nullptr);
  g_object_set(asink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), aconv, resample, afilter, asink, nullptr);
  gst_element_link_many(aconv, resample, afilter, asink, nullptr);
  *head = aconv;
  return GST_APP_SINK(asink);
}

// The live element's defaults on klingsrc, then the request: a prompt, or a kling:// URI.
void ClipPlayer::set_request(GstElement* src, const PropertyValues& defaults,
                             const std::string& request, std::string* error, std::string* prompt,
                             std::string* model) {
  for (const auto& [name, value] : defaults)
    g_object_set_property(G_OBJECT(src), name.c_str(), value.get());
  if (g_str_has_prefix(request.c_str(), "kling://")) {
    g_autoptr(GError) e = nullptr;
    if (!gst_uri_handler_set_uri(GST_URI_HANDLER(src), request.c_str(), &e)) *error = e->message;
  } else {
    g_object_set(src, "prompt", request.c_str(), nullptr);
  }
  g_autofree char* p = nullptr;
  g_autofree char* m = nullptr;
  g_object_get(src, "prompt", &p, "model", &m, nullptr);
  *prompt = p ? p : "";
  *model = m ? m : "";
}

ClipPlayer::~ClipPlayer() {
  GST_DEBUG("clip player of \"%s\" destroyed", request_.c_str());
  stop();
  if (last_frame_) last_frame_->abandon();  // no frame now, if none came
  if (peeked_) gst_sample_unref(peeked_);
  gst_clear_caps(&audio_caps_);
  // The pipeline's bus handler and decodebin's pad-added hold `shared_`: they go with it.
  GstElement* pipeline = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    pipeline = std::exchange(shared_->pipeline, nullptr);
    shared_->sink = shared_->audio_sink = nullptr;
    shared_->filter = nullptr;
  }
  if (pipeline) gst_object_unref(pipeline);
}

// Whether a thread of this process may take its nice value back down after raising it
// (root, CAP_SYS_NICE or a high enough RLIMIT_NICE): tried once, on a thread of its own.
static bool can_renice() {
  static const bool can = [] {
    bool ok = false;
    std::thread probe([&ok] {
      const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
      errno = 0;
      const int base = getpriority(PRIO_PROCESS, tid);
      ok = errno == 0 && setpriority(PRIO_PROCESS, tid, std::min(base + 1, 19)) == 0 &&
           setpriority(PRIO_PROCESS, tid, base) == 0;
    });
    probe.join();
    return ok;
  }();
  return can;
}

// A clip is decoded ahead: its streaming threads (demuxing, decoding, scaling) give way to
// the live output's and the sinks' downstream, which must run when a frame is due. On a
// busy machine frames were late while clips played (100-210 ms, 1-4 in 10 s) as the
// clips' decoders held the cores when the output woke. A thread is niced when it enters a
// task's loop and given its priority back when it leaves: GStreamer's task pool reuses
// threads, and the next task one runs may be the output's. Where a thread may not lower
// its nice value again, none is raised. STREAM_STATUS is posted from the thread itself.
void ClipPlayer::lower_priority_of_streaming_thread(GstMessage* msg) {
  constexpr int kClipNice = 10;
  GstStreamStatusType status;
  gst_message_parse_stream_status(msg, &status, nullptr);
  if (status != GST_STREAM_STATUS_TYPE_ENTER && status != GST_STREAM_STATUS_TYPE_LEAVE) return;
  if (!can_renice()) return;
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  static thread_local int base = INT_MIN;
  if (status == GST_STREAM_STATUS_TYPE_ENTER) {
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid);
    if (errno || now >= kClipNice) return;
    base = now;
    setpriority(PRIO_PROCESS, tid, kClipNice);
  } else if (base != INT_MIN) {
    setpriority(PRIO_PROCESS, tid, base);
    base = INT_MIN;
  }
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
void ClipPlayer::add_extras(GstElement* pipeline, GstElement* rate, GstElement* filter,
                            GstElement* convert, const std::string& disclosure,
                            const std::shared_ptr<LastFrame>& last_frame) {
  if (GstElement* overlay = make_disclosure_overlay(disclosure)) {
    gst_bin_add(GST_BIN(pipeline), overlay);
    gst_element_unlink(rate, filter);
    gst_element_link_many(rate, overlay, filter, nullptr);
  } else if (!disclosure.empty()) {
    GST_WARNING(
        "textoverlay (gstreamer1.0-plugins-base, pango) is missing: the disclosure "
        "\"%s\" cannot be drawn",
        disclosure.c_str());
  }
  if (last_frame) {
    g_autoptr(GstPad) decoded = gst_element_get_static_pad(convert, "sink");
    last_frame->watch(decoded);
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
  if (type == GST_MESSAGE_STREAM_STATUS) {
    lower_priority_of_streaming_thread(msg);
    return GST_BUS_DROP;
  }
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

// Off the caller's thread (the live output's): making the pipeline and its state change
// can take a while under load.
void ClipPlayer::start() {
  if (failed()) return;
  GstElement* owner = owner_element();
  if (!owner) return;
  g_autoptr(GstElement) held = owner;
  call_async(owner, [shared = shared_, defaults = defaults_, request = request_,
                     disclosure = disclosure_, last_frame = last_frame_,
                     audio_caps = audio_caps_ ? gst_caps_ref(audio_caps_) : nullptr](GstElement*) {
    g_autoptr(GstCaps) audio = audio_caps;
    // Serialised with stop(): a pipeline stopped must not start after.
    std::lock_guard<std::mutex> state_lock(shared->state_mutex);
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      if (shared->stopping) return;
    }
    g_autoptr(GstElement) pipeline =
        build(shared, *defaults, request, audio, disclosure, last_frame);
    if (pipeline &&
        gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->fail("the clip's pipeline did not start");
    }
  });
}

GstElement* ClipPlayer::owner_element() {
  return static_cast<GstElement*>(g_weak_ref_get(&shared_->owner));
}

GstAppSink* ClipPlayer::sink() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->sink;  // the pipeline's until the player goes
}

GstAppSink* ClipPlayer::audio_sink() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->audio_sink;
}

bool ClipPlayer::ready() {
  if (!peeked_)
    if (GstAppSink* s = sink()) peeked_ = gst_app_sink_try_pull_sample(s, 0);
  if (peeked_) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->status.state = "ready";
  }
  return peeked_ != nullptr;
}

GstSample* ClipPlayer::pull() {
  if (peeked_) return std::exchange(peeked_, nullptr);
  GstAppSink* s = sink();
  return s ? gst_app_sink_try_pull_sample(s, 0) : nullptr;
}

bool ClipPlayer::ended() {
  if (peeked_) return false;
  if (failed()) return true;
  GstAppSink* s = sink();
  return s && gst_app_sink_is_eos(s);
}

bool ClipPlayer::failed() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->failed;
}

void ClipPlayer::restart() {
  GstElement* pipeline = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->pipeline) pipeline = GST_ELEMENT(gst_object_ref(shared_->pipeline));
  }
  if (!pipeline) return;
  g_autoptr(GstElement) held = pipeline;
  call_async(pipeline, [](GstElement* pipeline) {
    gst_element_seek_simple(pipeline, GST_FORMAT_TIME,
                            GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
  });
}

void ClipPlayer::set_caps(GstCaps* caps) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  gst_caps_replace(&shared_->caps, caps);
  if (shared_->filter) g_object_set(shared_->filter, "caps", caps, nullptr);
}

void ClipPlayer::stop() {
  std::lock_guard<std::mutex> state_lock(shared_->state_mutex);
  GstElement* pipeline = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    if (shared_->pipeline) pipeline = GST_ELEMENT(gst_object_ref(shared_->pipeline));
  }
  if (!pipeline) return;  // never made (start's call sees `stopping` and makes nothing)
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

ClipPlayer::Status ClipPlayer::status() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->status;
}

}  // namespace kling::live
