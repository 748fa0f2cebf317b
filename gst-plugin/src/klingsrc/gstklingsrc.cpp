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
 * gst-launch-1.0 klingsrc model=kwaivgi/kling-v2.1-i2v-master image=fox.png prompt="the fox runs" ! \
 *     decodebin ! videoconvert ! autovideosink
 * ]|
 *
 * Any WaveSpeed video model is usable: its fields are read from WaveSpeed's
 * model catalogue (cached for an hour) and the request is checked against
 * them before anything is sent; `params` carries fields with no property.
 *
 * Nothing is submitted before the first buffer is asked for, and never twice
 * for the same request on one element. Progress is posted as GstProgress
 * messages (codes `submit`, `poll`, `download`, `cache`, `journal`, `upload`) and
 * `kling/task` and `kling/download` element messages.
 */
#include "gstklingsrc.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "generation.h"
#include "kling_enums.h"
#include "kling_messages.h"
#include "kling_uri.h"
#include "ledger.h"

GST_DEBUG_CATEGORY_STATIC(gst_kling_src_debug);
#define GST_CAT_DEFAULT gst_kling_src_debug

namespace {

// One in-memory chunk per buffer: create() can then hand it on without a copy.
constexpr guint kDefaultBlocksize = kling::DownloadStore::kChunkSize;

enum {
  PROP_0,
  PROP_PROMPT,
  PROP_NEGATIVE_PROMPT,
  PROP_DURATION,
  PROP_ASPECT_RATIO,
  PROP_API_KEY,
  PROP_API_URL,
  PROP_MODEL,
  PROP_POLL_INTERVAL,
  PROP_TIMEOUT,
  PROP_REQUEST_TIMEOUT,
  PROP_RETRIES,
  PROP_REQUEST_ID,
  PROP_SSL_STRICT,
  PROP_TLS_DATABASE,
  PROP_TASK_ID,
  PROP_IMAGE,
  PROP_GUIDANCE_SCALE,
  PROP_JOURNAL,
  PROP_RESUME_UNFINISHED,
  PROP_CACHE_DIR,
  PROP_MAX_SIZE,
  PROP_PARAMS,
  PROP_PROXY,
  PROP_PROXY_ID,
  PROP_PROXY_PW,
  PROP_VARIATION,
  PROP_MAX_COST,
  PROP_DAILY_BUDGET,
  PROP_CACHE_MAX_SIZE,
};

// What the properties hold; read under `settings_lock`, copied once in start().
struct Settings {
  kling::Request base;  // the fields a property sets as they are (defaults included)
  GstKlingDuration duration = GST_KLING_DURATION_5;
  GstKlingAspectRatio aspect_ratio = GST_KLING_ASPECT_RATIO_16_9;
  std::string api_key;  // empty: WAVESPEED_API_KEY
  std::string api_url;  // empty: WAVESPEED_BASE_URL or the default
  gdouble guidance_scale = -1.0;         // < 0: not sent
  std::optional<std::string> journal;    // unset: the default path; "none" or "": off
  std::optional<std::string> cache_dir;  // unset: KLING_CACHE_DIR; "": off
  // As set, for reading back; base.params holds its fields as the core takes them.
  std::unique_ptr<GstStructure, decltype(&gst_structure_free)> params{nullptr, gst_structure_free};
  gdouble max_cost = -1.0;               // < 0: KLING_MAX_COST, else no limit
  gdouble daily_budget = -1.0;           // < 0: KLING_DAILY_BUDGET, else no limit
};

}  // namespace

struct GstKlingSrcPrivate {
  std::mutex settings_lock;
  Settings settings;
  // The core: which generation to reuse, resume or replay, its runner, its bytes.
  std::unique_ptr<kling::Generation> generation;
  // Streaming thread only.
  bool duration_posted = false;
  bool tags_sent = false;
};

struct _GstKlingSrc {
  GstBaseSrc parent;
  GstKlingSrcPrivate* priv;
};

static void gst_kling_src_uri_handler_init(gpointer g_iface, gpointer iface_data);

#define gst_kling_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstKlingSrc, gst_kling_src, GST_TYPE_BASE_SRC,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, gst_kling_src_uri_handler_init);
                        GST_DEBUG_CATEGORY_INIT(gst_kling_src_debug, "klingsrc", 0,
                                                "Kling text-to-video source"));
GST_ELEMENT_REGISTER_DEFINE(klingsrc, "klingsrc", GST_RANK_NONE, GST_TYPE_KLING_SRC);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

// ---------------------------------------------------------------- properties

static std::string effective_api_url(const Settings& s) {
  if (!s.api_url.empty())
    return s.api_url;
  const char* env = g_getenv("WAVESPEED_BASE_URL");
  return env && *env ? env : kling::kDefaultApiUrl;
}

// "none" is there for gst-launch, where the shell eats journal="".
static std::string effective_journal(const Settings& s) {
  if (!s.journal)
    return kling::Ledger::default_path();
  return *s.journal == "none" ? std::string() : *s.journal;
}

static std::string effective_cache_dir(const Settings& s) {
  if (s.cache_dir)
    return *s.cache_dir;
  const char* env = g_getenv("KLING_CACHE_DIR");
  return env ? env : "";
}

// The params structure's fields as the core takes them (GStreamer-free plain values).
static kling::Params params_from_structure(const GstStructure* structure) {
  kling::Params params;
  if (!structure)
    return params;
  gst_structure_foreach(structure, [](GQuark field, const GValue* v, gpointer data) -> gboolean {
    kling::Param p{g_quark_to_string(field), {}};
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
      case G_TYPE_STRING: p.value = kling::ParamValue::of(std::string(g_value_get_string(v) ? g_value_get_string(v) : "")); break;
      case G_TYPE_BOOLEAN: p.value = kling::ParamValue::of_bool(g_value_get_boolean(v)); break;
      case G_TYPE_INT: p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_int(v))); break;
      case G_TYPE_UINT: p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_uint(v))); break;
      case G_TYPE_INT64: p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_int64(v))); break;
      case G_TYPE_DOUBLE: p.value = kling::ParamValue::of(g_value_get_double(v)); break;
      case G_TYPE_FLOAT: p.value = kling::ParamValue::of(static_cast<double>(g_value_get_float(v))); break;
      default: {  // anything else as its text: the model's schema types it
        g_autofree gchar* text = gst_value_serialize(v);
        p.value = kling::ParamValue::of(std::string(text ? text : ""));
      }
    }
    static_cast<kling::Params*>(data)->push_back(std::move(p));
    return TRUE;
  }, &params);
  return params;
}

// A limit in US dollars: the property when set (>= 0), else the environment's, else none.
static std::optional<double> effective_limit(gdouble property, const char* env_name) {
  if (property >= 0.0)
    return property;
  const char* env = g_getenv(env_name);
  if (!env || !*env)
    return std::nullopt;
  char* end = nullptr;
  double v = g_ascii_strtod(env, &end);
  if (end == env || *end != '\0' || !(v >= 0.0))
    return std::nullopt;
  return v;
}

static kling::Request snapshot_request(GstKlingSrc* self) {
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  const Settings& s = self->priv->settings;
  kling::Request r = s.base;
  r.duration = static_cast<int>(s.duration);
  r.aspect_ratio = gst_kling_aspect_ratio_to_string(s.aspect_ratio);
  r.api_url = effective_api_url(s);
  const char* env_key = g_getenv("WAVESPEED_API_KEY");
  r.api_key = !s.api_key.empty() ? s.api_key : (env_key ? env_key : "");
  if (s.guidance_scale >= 0.0)
    r.guidance_scale = s.guidance_scale;
  r.journal_path = effective_journal(s);
  r.cache_dir = effective_cache_dir(s);
  r.max_cost = effective_limit(s.max_cost, "KLING_MAX_COST");
  r.daily_budget = effective_limit(s.daily_budget, "KLING_DAILY_BUDGET");
  return r;
}

static void set_string(std::string* field, const GValue* value) {
  const char* s = g_value_get_string(value);
  *field = s ? s : "";
}

static void gst_kling_src_set_property(GObject* object, guint prop_id, const GValue* value,
                                       GParamSpec* pspec) {
  GstKlingSrc* self = GST_KLING_SRC(object);
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  Settings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_PROMPT: set_string(&s.base.prompt, value); break;
    case PROP_NEGATIVE_PROMPT: set_string(&s.base.negative_prompt, value); break;
    case PROP_DURATION:
      s.duration = static_cast<GstKlingDuration>(g_value_get_enum(value));
      s.base.duration_set = true;  // wins over a duration in params
      break;
    case PROP_PARAMS: {
      const GstStructure* params = gst_value_get_structure(value);
      s.params.reset(params ? gst_structure_copy(params) : nullptr);
      s.base.params = params_from_structure(params);
      break;
    }
    case PROP_ASPECT_RATIO:
      s.aspect_ratio = static_cast<GstKlingAspectRatio>(g_value_get_enum(value));
      s.base.aspect_ratio_set = true;
      break;
    case PROP_IMAGE: set_string(&s.base.image, value); break;
    case PROP_GUIDANCE_SCALE: s.guidance_scale = g_value_get_double(value); break;
    case PROP_JOURNAL: {
      const char* v = g_value_get_string(value);
      s.journal = v ? std::optional<std::string>(v) : std::nullopt;
      break;
    }
    case PROP_RESUME_UNFINISHED: s.base.resume_unfinished = g_value_get_boolean(value); break;
    case PROP_CACHE_DIR: {
      const char* v = g_value_get_string(value);
      s.cache_dir = v ? std::optional<std::string>(v) : std::nullopt;
      break;
    }
    case PROP_VARIATION: s.base.variation = g_value_get_uint(value); break;
    case PROP_MAX_COST: s.max_cost = g_value_get_double(value); break;
    case PROP_DAILY_BUDGET: s.daily_budget = g_value_get_double(value); break;
    case PROP_CACHE_MAX_SIZE: s.base.cache_max_size = g_value_get_uint64(value); break;
    case PROP_API_KEY: set_string(&s.api_key, value); break;
    case PROP_API_URL: set_string(&s.api_url, value); break;
    case PROP_MODEL:
      set_string(&s.base.model, value);
      if (s.base.model.empty()) s.base.model = kling::kDefaultModel;
      break;
    case PROP_POLL_INTERVAL: s.base.poll_interval_ms = g_value_get_uint(value); break;
    case PROP_TIMEOUT: s.base.timeout_s = g_value_get_uint(value); break;
    case PROP_REQUEST_TIMEOUT: s.base.request_timeout_s = g_value_get_uint(value); break;
    case PROP_RETRIES: s.base.retries = g_value_get_uint(value); break;
    case PROP_MAX_SIZE: s.base.max_size = g_value_get_uint64(value); break;
    case PROP_PROXY:
      set_string(&s.base.proxy, value);
      // As souphttpsrc: "host:port" means an http proxy.
      if (!s.base.proxy.empty() && s.base.proxy.find("://") == std::string::npos)
        s.base.proxy = "http://" + s.base.proxy;
      break;
    case PROP_PROXY_ID: set_string(&s.base.proxy_id, value); break;
    case PROP_PROXY_PW: set_string(&s.base.proxy_pw, value); break;
    case PROP_REQUEST_ID: set_string(&s.base.request_id, value); break;
    case PROP_SSL_STRICT: s.base.ssl_strict = g_value_get_boolean(value); break;
    case PROP_TLS_DATABASE:
      s.base.tls_database = kling::GRef<GTlsDatabase>::share(
          static_cast<GTlsDatabase*>(g_value_get_object(value)));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

static std::string current_task_id(GstKlingSrc* self) {
  return self->priv->generation->task_id();
}

static void gst_kling_src_get_property(GObject* object, guint prop_id, GValue* value,
                                       GParamSpec* pspec) {
  GstKlingSrc* self = GST_KLING_SRC(object);
  if (prop_id == PROP_TASK_ID) {
    g_value_set_string(value, current_task_id(self).c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  const Settings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_PROMPT: g_value_set_string(value, s.base.prompt.c_str()); break;
    case PROP_NEGATIVE_PROMPT: g_value_set_string(value, s.base.negative_prompt.c_str()); break;
    case PROP_DURATION: g_value_set_enum(value, s.duration); break;
    case PROP_ASPECT_RATIO: g_value_set_enum(value, s.aspect_ratio); break;
    case PROP_API_URL: g_value_set_string(value, effective_api_url(s).c_str()); break;
    case PROP_MODEL: g_value_set_string(value, s.base.model.c_str()); break;
    case PROP_POLL_INTERVAL: g_value_set_uint(value, s.base.poll_interval_ms); break;
    case PROP_TIMEOUT: g_value_set_uint(value, s.base.timeout_s); break;
    case PROP_REQUEST_TIMEOUT: g_value_set_uint(value, s.base.request_timeout_s); break;
    case PROP_RETRIES: g_value_set_uint(value, s.base.retries); break;
    case PROP_MAX_SIZE: g_value_set_uint64(value, s.base.max_size); break;
    case PROP_PARAMS: gst_value_set_structure(value, s.params.get()); break;
    case PROP_PROXY: g_value_set_string(value, s.base.proxy.c_str()); break;
    case PROP_PROXY_ID: g_value_set_string(value, s.base.proxy_id.c_str()); break;
    case PROP_REQUEST_ID: g_value_set_string(value, s.base.request_id.c_str()); break;
    case PROP_SSL_STRICT: g_value_set_boolean(value, s.base.ssl_strict); break;
    case PROP_TLS_DATABASE: g_value_set_object(value, s.base.tls_database.get()); break;
    case PROP_IMAGE: g_value_set_string(value, s.base.image.c_str()); break;
    case PROP_GUIDANCE_SCALE: g_value_set_double(value, s.guidance_scale); break;
    case PROP_JOURNAL: g_value_set_string(value, effective_journal(s).c_str()); break;
    case PROP_RESUME_UNFINISHED: g_value_set_boolean(value, s.base.resume_unfinished); break;
    case PROP_CACHE_DIR: g_value_set_string(value, effective_cache_dir(s).c_str()); break;
    case PROP_VARIATION: g_value_set_uint(value, s.base.variation); break;
    case PROP_MAX_COST: g_value_set_double(value, s.max_cost); break;
    case PROP_DAILY_BUDGET: g_value_set_double(value, s.daily_budget); break;
    case PROP_CACHE_MAX_SIZE: g_value_set_uint64(value, s.base.cache_max_size); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

// ---------------------------------------------------------------- GstBaseSrc

static gboolean gst_kling_src_start(GstBaseSrc* base) {
  GstKlingSrc* self = GST_KLING_SRC(base);
  if (auto error = self->priv->generation->start(snapshot_request(self))) {
    gst_kling_post_error(GST_ELEMENT(self), *error);
    return FALSE;
  }
  self->priv->duration_posted = false;
  self->priv->tags_sent = false;
  return TRUE;
}

static gboolean gst_kling_src_stop(GstBaseSrc* base) {
  GST_KLING_SRC(base)->priv->generation->stop();
  return TRUE;
}

// Lets basesrc and downstream know the size once the download announced it.
static void update_duration(GstKlingSrc* self) {
  if (self->priv->duration_posted)
    return;
  auto total = self->priv->generation->size();
  if (!total)
    return;
  self->priv->duration_posted = true;
  GstBaseSrc* base = GST_BASE_SRC(self);
  GST_OBJECT_LOCK(self);
  base->segment.duration = static_cast<gint64>(*total);
  GST_OBJECT_UNLOCK(self);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_duration_changed(GST_OBJECT(self)));
}

// Tags on the bus and downstream: the prompt as title and description, the model as encoder.
static void send_tags(GstKlingSrc* self) {
  if (self->priv->tags_sent)
    return;
  self->priv->tags_sent = true;
  std::optional<kling::Request> request = self->priv->generation->request();
  if (!request)
    return;
  std::string id = current_task_id(self);
  GstTagList* tags = gst_tag_list_new_empty();
  gst_tag_list_set_scope(tags, GST_TAG_SCOPE_GLOBAL);
  if (!request->prompt.empty())
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, request->prompt.c_str(),
                     GST_TAG_DESCRIPTION, request->prompt.c_str(), nullptr);
  std::string comment = "WaveSpeed task " + id;
  gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_ENCODER, request->model.c_str(),
                   GST_TAG_APPLICATION_NAME, "gst-kling", GST_TAG_COMMENT, comment.c_str(), nullptr);
  gst_element_post_message(GST_ELEMENT(self),
                           gst_message_new_tag(GST_OBJECT(self), gst_tag_list_copy(tags)));
  // GstBaseSrc queues a serialized event sent to it and pushes it before the next buffer.
  gst_element_send_event(GST_ELEMENT(self), gst_event_new_tag(tags));
}

// Bytes still in memory go downstream as they are: the buffer shares their chunk.
static GstMemory* wrap_piece(const kling::DownloadStore::Piece& piece) {
  auto* hold = new std::shared_ptr<kling::Chunk>(piece.chunk);
  return gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, const_cast<char*>(piece.data), piece.size,
                                0, piece.size, hold, [](gpointer p) {
                                  delete static_cast<std::shared_ptr<kling::Chunk>*>(p);
                                });
}

// The buffer of a read: without a copy when memory holds every piece.
static GstBuffer* make_buffer(const kling::Generation::Read& read, kling::Error* error) {
  if (read.in_memory) {
    GstBuffer* buffer = gst_buffer_new();
    for (const auto& piece : read.pieces)
      gst_buffer_append_memory(buffer, wrap_piece(piece));
    return buffer;
  }
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, read.size, nullptr);
  GstMapInfo map;
  if (!buffer || !gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
    if (buffer)
      gst_buffer_unref(buffer);
    *error = {kling::ErrorKind::Write, "Cannot allocate a buffer", {}, 0, {}};
    return nullptr;
  }
  bool ok = kling::Generation::copy(read, map.data, error);
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
  kling::Generation::Read read = self->priv->generation->read(offset, size, random_access);
  switch (read.status) {
    case kling::Generation::Read::Status::Flushing: return GST_FLOW_FLUSHING;
    case kling::Generation::Read::Status::Eos: return GST_FLOW_EOS;
    case kling::Generation::Read::Status::Error: gst_kling_post_error(GST_ELEMENT(self), read.error); return GST_FLOW_ERROR;
    case kling::Generation::Read::Status::Ok: break;
  }
  update_duration(self);
  send_tags(self);
  kling::Error error;
  GstBuffer* buffer = make_buffer(read, &error);
  if (!buffer) {
    error.task_id = current_task_id(self);
    gst_kling_post_error(GST_ELEMENT(self), error);
    return GST_FLOW_ERROR;
  }
  GST_BUFFER_OFFSET(buffer) = offset;
  GST_BUFFER_OFFSET_END(buffer) = offset + read.size;
  *buf = buffer;
  return GST_FLOW_OK;
}

static gboolean gst_kling_src_get_size(GstBaseSrc* base, guint64* size) {
  auto total = GST_KLING_SRC(base)->priv->generation->size();
  if (!total)
    return FALSE;
  *size = *total;
  return TRUE;
}

static gboolean gst_kling_src_is_seekable(GstBaseSrc*) { return TRUE; }

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

// ---------------------------------------------------------------- URI handler

static GstURIType gst_kling_src_uri_get_type(GType) { return GST_URI_SRC; }

static const gchar* const* gst_kling_src_uri_get_protocols(GType) {
  static const gchar* protocols[] = {"kling", nullptr};
  return protocols;
}

static gchar* gst_kling_src_uri_get_uri(GstURIHandler* handler) {
  GstKlingSrc* self = GST_KLING_SRC(handler);
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  const Settings& s = self->priv->settings;
  kling::KlingUri uri;
  uri.model = s.base.model;
  uri.params = {{"prompt", s.base.prompt},
                {"duration", std::to_string(static_cast<int>(s.duration))},
                {"aspect-ratio", gst_kling_aspect_ratio_to_string(s.aspect_ratio)}};
  if (!s.base.negative_prompt.empty())
    uri.params.emplace_back("negative-prompt", s.base.negative_prompt);
  if (!s.base.request_id.empty())
    uri.params.emplace_back("request-id", s.base.request_id);
  for (const kling::Param& p : s.base.params)  // typed again by the model's schema when read back
    uri.fields.emplace_back(p.name, p.value.kind == kling::ParamValue::Kind::String ? p.value.text : p.value.json());
  if (s.base.variation)
    uri.params.emplace_back("variation", std::to_string(s.base.variation));
  return g_strdup(kling::format_kling_uri(uri).c_str());
}

static gboolean gst_kling_src_uri_set_uri(GstURIHandler* handler, const gchar* text,
                                          GError** error) {
  GstKlingSrc* self = GST_KLING_SRC(handler);
  if (GST_STATE(self) > GST_STATE_READY) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                "Changing the URI of klingsrc while running is not supported");
    return FALSE;
  }
  std::string message;
  auto uri = kling::parse_kling_uri(text, &message);
  if (!uri) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, "%s", message.c_str());
    return FALSE;
  }
  // Validate every value before changing anything.
  GObjectClass* klass = G_OBJECT_GET_CLASS(self);
  for (const auto& [name, value] : uri->params) {
    GParamSpec* pspec = g_object_class_find_property(klass, name.c_str());
    GValue v = G_VALUE_INIT;
    bool ok = pspec && gst_value_deserialize_with_pspec(
                           (g_value_init(&v, pspec->value_type), &v), value.c_str(), pspec) &&
              !g_param_value_validate(pspec, &v);
    if (G_IS_VALUE(&v))
      g_value_unset(&v);
    if (!ok) {
      g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
                  "Invalid value for \"%s\" in the kling:// URI", name.c_str());
      return FALSE;
    }
  }
  g_object_set(self, "model", uri->model.c_str(), nullptr);
  for (const auto& [name, value] : uri->params)
    gst_util_set_object_arg(G_OBJECT(self), name.c_str(), value.c_str());
  // Other keys are request fields (the model's schema types and checks them before the submit).
  if (!uri->fields.empty()) {
    g_autoptr(GstStructure) fields = gst_structure_new_empty("params");
    for (const auto& [name, value] : uri->fields)
      gst_structure_set(fields, name.c_str(), G_TYPE_STRING, value.c_str(), nullptr);
    g_object_set(self, "params", fields, nullptr);
  }
  return TRUE;
}

static void gst_kling_src_uri_handler_init(gpointer g_iface, gpointer) {
  auto* iface = static_cast<GstURIHandlerInterface*>(g_iface);
  iface->get_type = gst_kling_src_uri_get_type;
  iface->get_protocols = gst_kling_src_uri_get_protocols;
  iface->get_uri = gst_kling_src_uri_get_uri;
  iface->set_uri = gst_kling_src_uri_set_uri;
}

// ---------------------------------------------------------------- GObject

static void gst_kling_src_init(GstKlingSrc* self) {
  // GObject runs no C++ constructors: the private part is a C++ object of its own.
  self->priv = new GstKlingSrcPrivate();
  self->priv->generation = std::make_unique<kling::Generation>(gst_kling_element_events(GST_ELEMENT(self), GST_CAT_DEFAULT));
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

  gobject_class->set_property = gst_kling_src_set_property;
  gobject_class->get_property = gst_kling_src_get_property;
  gobject_class->finalize = gst_kling_src_finalize;

  const kling::Request kDefaults;  // the core's defaults are the properties' defaults
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  const auto wo = static_cast<GParamFlags>(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);

  g_object_class_install_property(gobject_class, PROP_PROMPT,
      g_param_spec_string("prompt", "Prompt",
          "What the video shows (required unless request-id is set; 1 to 2500 characters, "
          "sent exactly as given)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_NEGATIVE_PROMPT,
      g_param_spec_string("negative-prompt", "Negative prompt",
          "What the video should avoid (sent only when set)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_DURATION,
      g_param_spec_enum("duration", "Duration", "Length of the video in seconds",
          GST_TYPE_KLING_DURATION, GST_KLING_DURATION_5, rw));
  g_object_class_install_property(gobject_class, PROP_ASPECT_RATIO,
      g_param_spec_enum("aspect-ratio", "Aspect ratio", "Shape of the video",
          GST_TYPE_KLING_ASPECT_RATIO, GST_KLING_ASPECT_RATIO_16_9, rw));
  g_object_class_install_property(gobject_class, PROP_API_KEY,
      g_param_spec_string("api-key", "API key",
          "WaveSpeed API key (write-only; default: the WAVESPEED_API_KEY environment "
          "variable). Sent only to api-url's host, never logged", nullptr, wo));
  g_object_class_install_property(gobject_class, PROP_API_URL,
      g_param_spec_string("api-url", "API URL",
          "Base URL of the WaveSpeed API (default: the WAVESPEED_BASE_URL environment variable, "
          "else https://api.wavespeed.ai). Plain http only to loopback",
          kling::kDefaultApiUrl, rw));
  g_object_class_install_property(gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model", "Model path after /api/v3/",
          kling::kDefaultModel, rw));
  g_object_class_install_property(gobject_class, PROP_POLL_INTERVAL,
      g_param_spec_uint("poll-interval", "Poll interval",
          "Milliseconds between status polls once the task runs (the first poll comes sooner; "
          "WaveSpeed asks for at least 5000 for video)",
          1, 600000, kDefaults.poll_interval_ms, rw));
  g_object_class_install_property(gobject_class, PROP_TIMEOUT,
      g_param_spec_uint("timeout", "Timeout",
          "Overall deadline in seconds for submitting and generating (0 = none); the task goes "
          "on at WaveSpeed after it and can be resumed with request-id",
          0, G_MAXUINT, kDefaults.timeout_s, rw));
  g_object_class_install_property(gobject_class, PROP_REQUEST_TIMEOUT,
      g_param_spec_uint("request-timeout", "Request timeout",
          "Seconds of inactivity after which one HTTP request is abandoned",
          1, 3600, kDefaults.request_timeout_s, rw));
  g_object_class_install_property(gobject_class, PROP_RETRIES,
      g_param_spec_uint("retries", "Retries",
          "Consecutive failed polls or downloads tolerated before giving up (a submit is "
          "retried only when no task can have been made)",
          0, 100, kDefaults.retries, rw));
  g_object_class_install_property(gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint64("max-size", "Maximum size",
          "Largest video accepted, in bytes (default 4 GiB): a server announcing more, or "
          "sending more than it announced, is an error; bounds the disk the download uses",
          1, G_MAXUINT64, kDefaults.max_size, rw));
  g_object_class_install_property(gobject_class, PROP_REQUEST_ID,
      g_param_spec_string("request-id", "Request id",
          "Id of an existing task: poll it and stream its video instead of submitting (resume "
          "a task already paid for)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_PROXY,
      g_param_spec_string("proxy", "Proxy",
          "HTTP proxy server URI for non-loopback hosts (default: the environment's, such as "
          "http_proxy, as souphttpsrc uses); loopback hosts are always reached directly",
          "", rw));
  g_object_class_install_property(gobject_class, PROP_PROXY_ID,
      g_param_spec_string("proxy-id", "Proxy user id",
          "User id for proxy authentication", "", rw));
  g_object_class_install_property(gobject_class, PROP_PROXY_PW,
      g_param_spec_string("proxy-pw", "Proxy password",
          "Password for proxy authentication (write-only, never logged)", nullptr, wo));
  g_object_class_install_property(gobject_class, PROP_SSL_STRICT,
      g_param_spec_boolean("ssl-strict", "SSL strict",
          "Refuse TLS certificates that do not verify", TRUE, rw));
  g_object_class_install_property(gobject_class, PROP_TLS_DATABASE,
      g_param_spec_object("tls-database", "TLS database",
          "TLS database with the anchor certificates to verify against (default: the system's)",
          G_TYPE_TLS_DATABASE, rw));
  g_object_class_install_property(gobject_class, PROP_IMAGE,
      g_param_spec_string("image", "Image",
          "The source image, for image-to-video models (such as kwaivgi/kling-v2.0-i2v-master) "
          "only: an http(s) URL, or a local file (a path or a file:// URI) uploaded to WaveSpeed "
          "first (the same bytes once a day)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_PARAMS,
      g_param_spec_boxed("params", "Params",
          "Request fields with no property of their own, as a structure (the name is ignored), "
          "e.g. params=\"p,cfg_scale=0.7,camera=zoom_in\". Each is checked and typed as the "
          "model's entry in WaveSpeed's catalogue says (\"5\" for an integer field is sent as 5; "
          "a JSON text for an object or array field); a field the model does not take is refused "
          "before anything is sent. A property set on the element wins over the same field here",
          GST_TYPE_STRUCTURE, rw));
  g_object_class_install_property(gobject_class, PROP_GUIDANCE_SCALE,
      g_param_spec_double("guidance-scale", "Guidance scale",
          "How closely the video follows the prompt, 0 to 1, for models that take it "
          "(-1 = not sent: the model's default)", -1.0, 1.0, -1.0, rw));
  g_object_class_install_property(gobject_class, PROP_JOURNAL,
      g_param_spec_string("journal", "Journal",
          "The machine's ledger of paid tasks (an SQLite database shared by every process): "
          "the same request is paid for once, a crash never loses a task, and kling-tasks "
          "lists them (default: $XDG_STATE_HOME/gst-kling/ledger.db; \"none\" or empty: no "
          "ledger, and no protection against paying twice across runs)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_RESUME_UNFINISHED,
      g_param_spec_boolean("resume-unfinished", "Resume unfinished",
          "Follow this request's task already on the ledger (in flight here or in another "
          "process) instead of paying for a new one, and refuse after a submit that never got "
          "its reply (false: submit anyway; a delivered video still replays: change variation "
          "for a new one)", TRUE, rw));
  g_object_class_install_property(gobject_class, PROP_CACHE_DIR,
      g_param_spec_string("cache-dir", "Cache directory",
          "Folder of finished videos keyed by service, model and every request field: the same "
          "request replays from disk without submitting (default: the KLING_CACHE_DIR "
          "environment variable; empty: no cache)", nullptr, rw));
  g_object_class_install_property(gobject_class, PROP_VARIATION,
      g_param_spec_uint("variation", "Variation",
          "Part of the request's identity: the same request (API, account, model, every field "
          "sent, variation) is paid for once on this machine and replays while its output lives "
          "(7 days). A different variation asks for, and pays for, a new generation of the same "
          "prompt", 0, G_MAXUINT, 0, rw));
  g_object_class_install_property(gobject_class, PROP_MAX_COST,
      g_param_spec_double("max-cost", "Maximum cost",
          "US dollars one generation may be quoted (POST /api/v3/model/price) before it is "
          "submitted: a higher quote, or none to be had, is a SETTINGS error and nothing is paid "
          "(-1: the KLING_MAX_COST environment variable, else no limit)",
          -1.0, G_MAXDOUBLE, -1.0, rw));
  g_object_class_install_property(gobject_class, PROP_DAILY_BUDGET,
      g_param_spec_double("daily-budget", "Daily budget",
          "US dollars this account's tasks on this machine may be quoted since local midnight, "
          "this one included, across every process sharing the ledger; past it nothing is "
          "submitted (-1: the KLING_DAILY_BUDGET environment variable, else no limit)",
          -1.0, G_MAXDOUBLE, -1.0, rw));
  g_object_class_install_property(gobject_class, PROP_CACHE_MAX_SIZE,
      g_param_spec_uint64("cache-max-size", "Cache maximum size",
          "Bytes the cache-dir may hold; least recently used videos go first (0: no limit)",
          0, G_MAXUINT64, kDefaults.cache_max_size, rw));
  g_object_class_install_property(gobject_class, PROP_TASK_ID,
      g_param_spec_string("task-id", "Task id",
          "Id of the current task once submitted (give it to request-id to resume)", nullptr,
          static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_set_static_metadata(element_class, "Kling text-to-video source",
      "Source/Network", "Generates a video from a text prompt with WaveSpeed's Kling API and "
      "streams the MP4 (seekable, BYTES). Posts GstProgress messages (submit, poll, download, "
      "cache, journal, upload) and element messages kling/task (id, status, outputs, "
      "inference-time, has-nsfw-contents, error, code, has-audio) and kling/download (bytes, total). URI: "
      "kling://MODEL?prompt=...&duration=5|10&aspect-ratio=16:9|9:16|1:1 (other keys go to params)",
      "gst-kling developers");
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
