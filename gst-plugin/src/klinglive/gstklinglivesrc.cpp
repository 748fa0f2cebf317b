// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-klinglivesrc
 * @title: klinglivesrc
 *
 * A live source of raw video for broadcasting: prompts (the `prompt`
 * property, the `queue` action signal, a `playlist` file) are generated ahead
 * with klingsrc — its journal, one submit per request and its price guards
 * apply unchanged — and played back to back on the pipeline clock. While no
 * clip is ready a slate shows the prompt being made, its status and the time
 * spent, so the first frame leaves at once and the output never stalls.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 klinglivesrc playlist=prompts.txt ! videoconvert ! x264enc tune=zerolatency ! \
 *     flvmux streamable=true ! rtmpsink location=rtmp://example/live/key
 * ]|
 *
 * Posts a `kling/live` element message at every switch (`event`: `slate`,
 * `clip-start`, `clip-end`; `task-id`, `prompt`, `running-time`), and the
 * progress and `kling/task` messages of each generation. A failed generation
 * is a WARNING (with the task id and the API's reason); the stream goes on.
 */
#include "klinglive/gstklinglivesrc.h"

#include <gst/video/video.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/request/request.h"
#include "klinglive/forwarded_properties.h"
#include "klinglive/live_schedule.h"
#include "klinglive/output/audio_output.h"
#include "klinglive/output/video_output.h"
#include "klinglive/request_queue.h"
#include "klingsrc/gstklingsrc.h"

GST_DEBUG_CATEGORY(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

using kling::live::WhenIdle;

namespace {

constexpr const char* kDefaultContinueModel = "kwaivgi/kling-v2.1-i2v-master";

enum {
  PROP_0,
  PROP_PROMPT,
  PROP_PLAYLIST,
  PROP_AHEAD,
  PROP_WHEN_IDLE,
  PROP_SLATE_LOCATION,
  PROP_DISCLOSURE,
  PROP_CONTINUE,
  PROP_CONTINUE_MODEL,
  PROP_FIRST_FORWARDED,
};

enum { SIGNAL_QUEUE, N_SIGNALS };
guint signals[N_SIGNALS];

struct Settings {
  std::string prompt;
  std::string playlist;
  guint ahead = 2;
  WhenIdle when_idle = WhenIdle::Loop;
  std::string slate_location;
  std::string disclosure;
  bool story = false;
  std::string continue_model = kDefaultContinueModel;
};

// The properties, shared with the schedule (which a child output keeps alive): the
// schedule reads them through this, never through the element.
struct Config {
  std::mutex lock;  // settings, and the element's `running`
  Settings settings;
  kling::live::ForwardedSettings forwarded;
};

// This file's own (an anonymous namespace: no other translation unit's Private clashes).
struct GstKlingLiveSrcPrivate {
  std::shared_ptr<Config> config = std::make_shared<Config>();
  std::shared_ptr<kling::live::RequestQueue> queue = std::make_shared<kling::live::RequestQueue>();
  // Made once in _init, shared with the outputs (they may outlive the element).
  std::shared_ptr<kling::live::LiveSchedule> schedule;
  bool running = false;  // under config->lock
};

}  // namespace

struct _GstKlingLiveSrc {
  GstBin parent;
  GstElement* output;
  // Under the object lock: the request pad's source (nullptr before it is made), and
  // whether a request holds the one audio pad (set before it is made, so two requests
  // racing cannot both make one).
  GstElement* audio;
  gboolean audio_taken;
  GstKlingLiveSrcPrivate* priv;
};

G_DEFINE_TYPE(GstKlingLiveSrc, gst_kling_live_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(
    klinglivesrc, "klinglivesrc", GST_RANK_NONE, GST_TYPE_KLING_LIVE_SRC,
    GST_DEBUG_CATEGORY_INIT(gst_kling_live_src_debug, "klinglivesrc", 0, "Kling live source"));

namespace {
// Values as G_DEFINE_ENUM_VALUE writes them, named for gst-inspect.
G_DEFINE_ENUM_TYPE(GstKlingLiveWhenIdle, when_idle,
                   {static_cast<gint>(WhenIdle::Loop), "Play the last clip again", "loop"},
                   {static_cast<gint>(WhenIdle::Hold), "Hold the last frame", "hold"},
                   {static_cast<gint>(WhenIdle::Slate), "Show the slate", "slate"})
}  // namespace

static void gst_kling_live_src_set_property(GObject* object, guint prop_id, const GValue* value,
                                            GParamSpec* pspec) {
  auto* self = GST_KLING_LIVE_SRC(object);
  GstKlingLiveSrcPrivate* p = self->priv;
  if (prop_id >= PROP_FIRST_FORWARDED) {
    p->config->forwarded.set(pspec, value);
    return;
  }
  const char* str = G_VALUE_HOLDS_STRING(value) ? g_value_get_string(value) : nullptr;
  bool queue_prompt = false, reread = false;
  {
    std::lock_guard<std::mutex> lock(p->config->lock);
    Settings& s = p->config->settings;
    switch (prop_id) {
      case PROP_PROMPT:
        s.prompt = str ? str : "";
        queue_prompt = p->running;
        break;
      case PROP_PLAYLIST:
        s.playlist = str ? str : "";
        reread = p->running;
        break;
      case PROP_AHEAD:
        s.ahead = g_value_get_uint(value);
        break;
      case PROP_WHEN_IDLE:
        s.when_idle = static_cast<WhenIdle>(g_value_get_enum(value));
        break;
      case PROP_SLATE_LOCATION:
        s.slate_location = str ? str : "";
        break;
      case PROP_DISCLOSURE:
        s.disclosure = str ? str : "";
        break;
      case PROP_CONTINUE:
        s.story = g_value_get_boolean(value);
        break;
      case PROP_CONTINUE_MODEL:
        s.continue_model = str && *str ? str : kDefaultContinueModel;
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
  }
  // While playing, a prompt is the next request; a playlist starts from its top.
  if (queue_prompt) p->queue->push(str ? str : "");
  if (reread) p->queue->set_playlist(str ? str : "");
}

static void gst_kling_live_src_get_property(GObject* object, guint prop_id, GValue* value,
                                            GParamSpec* pspec) {
  auto* self = GST_KLING_LIVE_SRC(object);
  GstKlingLiveSrcPrivate* p = self->priv;
  if (prop_id >= PROP_FIRST_FORWARDED) {
    p->config->forwarded.get(pspec, value);
    return;
  }
  std::lock_guard<std::mutex> lock(p->config->lock);
  const Settings& s = p->config->settings;
  switch (prop_id) {
    case PROP_PROMPT:
      g_value_set_string(value, s.prompt.c_str());
      break;
    case PROP_PLAYLIST:
      g_value_set_string(value, s.playlist.c_str());
      break;
    case PROP_AHEAD:
      g_value_set_uint(value, s.ahead);
      break;
    case PROP_WHEN_IDLE:
      g_value_set_enum(value, static_cast<gint>(s.when_idle));
      break;
    case PROP_SLATE_LOCATION:
      g_value_set_string(value, s.slate_location.c_str());
      break;
    case PROP_DISCLOSURE:
      g_value_set_string(value, s.disclosure.c_str());
      break;
    case PROP_CONTINUE:
      g_value_set_boolean(value, s.story);
      break;
    case PROP_CONTINUE_MODEL:
      g_value_set_string(value, s.continue_model.c_str());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static gboolean gst_kling_live_src_queue(GstKlingLiveSrc* self, const gchar* request) {
  if (!request) return FALSE;
  return self->priv->queue->push(request);
}

// What would fail every request (no key, a bad api-url) is an error at start;
// the rest is each request's own (a WARNING, the stream goes on).
static bool check_defaults(GstKlingLiveSrc* self) {
  GstKlingLiveSrcPrivate* p = self->priv;
  kling::Request r;
  r.prompt = "-";
  bool set = false;
  r.api_key = kling::resolve_api_key(p->config->forwarded.get_string("api-key", &set));
  std::string url = p->config->forwarded.get_string("api-url", &set);
  r.api_url = kling::resolve_api_url(set ? url : std::string());
  auto error = kling::validate(r);
  if (!error) return true;
  GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", error->message.c_str()),
                    ("every request would fail: %s", error->debug.c_str()));
  return false;
}

// At start: the prompt first, then the playlist from its top.
static void reset_queue(GstKlingLiveSrc* self) {
  GstKlingLiveSrcPrivate* p = self->priv;
  Settings s;
  {
    std::lock_guard<std::mutex> lock(p->config->lock);
    s = p->config->settings;
  }
  p->queue->clear();
  if (!s.prompt.empty()) p->queue->push(s.prompt);
  p->queue->set_playlist(s.playlist);
}

static kling::live::ScheduleSettings schedule_settings(Config& config) {
  kling::live::ScheduleSettings out;
  {
    std::lock_guard<std::mutex> lock(config.lock);
    out.ahead = config.settings.ahead;
    out.when_idle = config.settings.when_idle;
    out.slate_location = config.settings.slate_location;
    out.disclosure = config.settings.disclosure;
    out.story = config.settings.story;
    out.continue_model = config.settings.continue_model;
  }
  out.defaults = config.forwarded.snapshot();
  return out;
}

// The audio output's user data: the schedule, shared (the feed is the schedule's).
using ScheduleRef = std::shared_ptr<kling::live::LiveSchedule>;

static void on_audio_caps(GstCaps* caps, gpointer data) {
  (*static_cast<ScheduleRef*>(data))->set_audio_caps(caps);
}

static GstPad* gst_kling_live_src_request_new_pad(GstElement* element, GstPadTemplate* templ,
                                                  const gchar*, const GstCaps*) {
  auto* self = GST_KLING_LIVE_SRC(element);
  // One audio pad: taken under the lock, made outside it (adding a pad calls out).
  GST_OBJECT_LOCK(self);
  bool taken = self->audio_taken;
  self->audio_taken = TRUE;
  GST_OBJECT_UNLOCK(self);
  if (taken) return nullptr;
  GstElement* audio =
      GST_ELEMENT(g_object_new(GST_TYPE_KLING_LIVE_AUDIO, "name", "audio-output", nullptr));
  kling_live_audio_set_feed(GST_KLING_LIVE_AUDIO(audio), self->priv->schedule->audio_feed(),
                            on_audio_caps, new ScheduleRef(self->priv->schedule),
                            [](gpointer d) { delete static_cast<ScheduleRef*>(d); });
  self->priv->schedule->want_audio(true);
  gst_bin_add(GST_BIN(self), audio);
  g_autoptr(GstPad) target = gst_element_get_static_pad(audio, "src");
  GstPad* ghost = gst_ghost_pad_new_from_template("audio", target, templ);
  GST_OBJECT_LOCK(self);
  self->audio = GST_ELEMENT(gst_object_ref(audio));  // ours: the bin may drop it first at dispose
  GST_OBJECT_UNLOCK(self);
  // Activated by gst_element_add_pad when the element is PAUSED or going there, as any
  // pad of an element: in NULL or READY it stays inactive until the state change.
  gst_element_add_pad(element, ghost);
  gst_element_sync_state_with_parent(audio);
  return ghost;
}

static void gst_kling_live_src_release_pad(GstElement* element, GstPad* pad) {
  auto* self = GST_KLING_LIVE_SRC(element);
  GST_OBJECT_LOCK(self);
  GstElement* audio = std::exchange(self->audio, nullptr);
  GST_OBJECT_UNLOCK(self);
  self->priv->schedule->want_audio(false);
  gst_element_remove_pad(element, pad);
  if (audio) {
    if (GST_OBJECT_PARENT(audio) == GST_OBJECT(self)) {
      gst_element_set_state(audio, GST_STATE_NULL);
      gst_bin_remove(GST_BIN(self), audio);
    }
    gst_object_unref(audio);
  }
  GST_OBJECT_LOCK(self);
  self->audio_taken = FALSE;  // the pad may be requested again
  GST_OBJECT_UNLOCK(self);
}

static GstStateChangeReturn gst_kling_live_src_change_state(GstElement* element,
                                                            GstStateChange transition) {
  auto* self = GST_KLING_LIVE_SRC(element);
  GstKlingLiveSrcPrivate* p = self->priv;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    if (!check_defaults(self)) return GST_STATE_CHANGE_FAILURE;
    reset_queue(self);
    std::lock_guard<std::mutex> lock(p->config->lock);
    p->running = true;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_kling_live_src_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    {
      std::lock_guard<std::mutex> lock(p->config->lock);
      p->running = false;
    }
    p->queue->stop_watching();  // the playlist's thread ends with the stop
  }
  return ret;
}

static void gst_kling_live_src_init(GstKlingLiveSrc* self) {
  self->priv = new GstKlingLiveSrcPrivate();
  GstKlingLiveSrcPrivate* p = self->priv;
  p->schedule = std::make_shared<kling::live::LiveSchedule>(
      GST_ELEMENT(self), p->queue, [config = p->config] { return schedule_settings(*config); });
  self->output = GST_ELEMENT(g_object_new(GST_TYPE_KLING_LIVE_OUTPUT, "name", "output", nullptr));
  gst_bin_add(GST_BIN(self), self->output);
  g_autoptr(GstPad) target = gst_element_get_static_pad(self->output, "src");
  GstPadTemplate* templ = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(self), "video");
  GstPad* ghost = gst_ghost_pad_new_from_template("video", target, templ);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
  kling_live_output_set_schedule(GST_KLING_LIVE_OUTPUT(self->output), p->schedule);
}

static void gst_kling_live_src_finalize(GObject* object) {
  auto* self = GST_KLING_LIVE_SRC(object);
  gst_clear_object(&self->audio);  // a request pad never released
  delete self->priv;
  G_OBJECT_CLASS(gst_kling_live_src_parent_class)->finalize(object);
}

// klinglivesrc's own properties, then klingsrc's request properties.
static void install_properties(GObjectClass* gobject_class) {
  const auto rw =
      GParamFlags(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_PROMPT,
      g_param_spec_string("prompt", "Prompt",
                          "Text prompt of the first request; set while playing, it is queued as "
                          "the next request",
                          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_PLAYLIST,
      g_param_spec_string("playlist", "Playlist",
                          "A text file of requests, one a line: a prompt or a kling:// URI "
                          "(# starts a comment). Read again when it changes: lines after those "
                          "already taken are queued",
                          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_AHEAD,
      g_param_spec_uint("ahead", "Ahead",
                        "How many queued requests are generated in advance of the clip playing", 1,
                        16, 2, rw));
  g_object_class_install_property(
      gobject_class, PROP_WHEN_IDLE,
      g_param_spec_enum("when-idle", "When idle",
                        "What plays when the current clip has ended and nothing new is ready",
                        when_idle_get_type(), static_cast<gint>(WhenIdle::Loop), rw));
  g_object_class_install_property(
      gobject_class, PROP_SLATE_LOCATION,
      g_param_spec_string("slate-location", "Slate location",
                          "A PNG or JPEG shown (scaled, aspect kept) instead of the status card "
                          "while no clip is ready",
                          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_DISCLOSURE,
      g_param_spec_string(
          "disclosure", "Disclosure",
          "Text drawn on every frame of a generated clip, never on the slate (e.g. "
          "\"AI-generated\", as the EU AI Act's Article 50 asks of generated content); also sent "
          "as GST_TAG_COMMENT in the tags at each clip start, beside kling-generated "
          "(\"model=..., task-id=...\"), which is sent whatever this is. Empty: no text",
          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_CONTINUE,
      g_param_spec_boolean(
          "continue", "Continue (story mode)",
          "Make every request after the first from the last frame of the clip before it, as "
          "the image of continue-model, so the clips tell one story. Generation is then serial: "
          "each request starts only once the previous clip is decoded to its end, and the slate "
          "or when-idle shows while it is made ($XDG_CACHE_HOME/gst-kling/story keeps the frames)",
          FALSE, rw));
  g_object_class_install_property(
      gobject_class, PROP_CONTINUE_MODEL,
      g_param_spec_string("continue-model", "Continue model",
                          "The image-to-video model of every request after the first, with "
                          "continue=true",
                          kDefaultContinueModel, rw));
  // Every request property of klingsrc, as the default of each queued request.
  kling::live::install_forwarded_properties(gobject_class, GST_TYPE_KLING_SRC,
                                            PROP_FIRST_FORWARDED);
}

static void gst_kling_live_src_class_init(GstKlingLiveSrcClass* klass) {
  auto* gobject_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->set_property = gst_kling_live_src_set_property;
  gobject_class->get_property = gst_kling_live_src_get_property;
  gobject_class->finalize = gst_kling_live_src_finalize;
  element_class->change_state = gst_kling_live_src_change_state;
  element_class->request_new_pad = gst_kling_live_src_request_new_pad;
  element_class->release_pad = gst_kling_live_src_release_pad;

  install_properties(gobject_class);

  signals[SIGNAL_QUEUE] = g_signal_new_class_handler(
      "queue", G_TYPE_FROM_CLASS(klass), GSignalFlags(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(gst_kling_live_src_queue), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 1,
      G_TYPE_STRING);

  GstCaps* caps = kling_live_output_template_caps();
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("video", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  caps = kling_live_audio_template_caps();
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("audio", GST_PAD_SRC, GST_PAD_REQUEST, caps));
  gst_caps_unref(caps);
  gst_element_class_set_static_metadata(
      element_class, "Kling live source", "Source/Video",
      "A live video source that never stalls: prompts generated ahead with Kling, played back to "
      "back, a slate while none is ready",
      "gst-kling");
  gst_type_mark_as_plugin_api(when_idle_get_type(), GstPluginAPIFlags(0));
}
