// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc's properties: their specs (gst-inspect documentation), set/get under
// the settings lock, and the Request start() snapshots from them.
#include <gst/gst.h>

#include <cmath>
#include <mutex>
#include <optional>
#include <string>

#include "common/params_structure.h"
#include "core/ledger/ledger.h"
#include "klingsrc/gstklingsrc_private.h"

namespace {

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

}  // namespace

GParamSpec* gst_kling_src_task_id_pspec;

// "none" is there for gst-launch, where the shell eats journal="". Unset: $KLING_JOURNAL
// (what playbin, GES and RTSP users set, who set no element property), else the machine's.
static std::string effective_journal(const GstKlingSrcSettings& s) {
  const std::string journal = s.journal ? *s.journal : kling::Ledger::default_location();
  return journal == "none" ? std::string() : journal;
}

static std::string effective_cache_dir(const GstKlingSrcSettings& s) {
  if (s.cache_dir) return *s.cache_dir;
  const char* env = g_getenv("KLING_CACHE_DIR");
  return env ? env : "";
}

kling::Request gst_kling_src_snapshot_request(GstKlingSrc* self) {
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  const GstKlingSrcSettings& s = self->priv->settings;
  kling::Request r = s.base;
  r.duration = static_cast<int>(s.duration);
  r.aspect_ratio = gst_kling_aspect_ratio_to_string(s.aspect_ratio);
  r.api_url = kling::resolve_api_url(s.api_url);
  r.api_key = kling::resolve_api_key(s.api_key);
  if (s.guidance_scale >= 0.0) r.guidance_scale = s.guidance_scale;
  r.journal_path = effective_journal(s);
  r.cache_dir = effective_cache_dir(s);
  r.max_cost = kling::resolve_limit(s.max_cost, "KLING_MAX_COST", &r.limit_error);
  r.daily_budget = kling::resolve_limit(s.daily_budget, "KLING_DAILY_BUDGET", &r.limit_error);
  return r;
}

static void set_string(std::string* field, const GValue* value) {
  const char* s = g_value_get_string(value);
  *field = s ? s : "";
}

// The properties that say what is asked for; false for another property.
static bool set_request_property(GstKlingSrcSettings& s, guint prop_id, const GValue* value) {
  switch (prop_id) {
    case PROP_PROMPT:
      set_string(&s.base.prompt, value);
      return true;
    case PROP_NEGATIVE_PROMPT:
      set_string(&s.base.negative_prompt, value);
      return true;
    case PROP_DURATION:
      s.duration = static_cast<GstKlingDuration>(g_value_get_enum(value));
      s.base.duration_set = true;  // wins over a duration in params
      return true;
    case PROP_PARAMS: {
      const GstStructure* params = gst_value_get_structure(value);
      s.params.reset(params ? gst_structure_copy(params) : nullptr);
      s.base.params = gst_kling_params_from_structure(params);
      return true;
    }
    case PROP_ASPECT_RATIO:
      s.aspect_ratio = static_cast<GstKlingAspectRatio>(g_value_get_enum(value));
      s.base.aspect_ratio_set = true;
      return true;
    case PROP_IMAGE:
      set_string(&s.base.image, value);
      return true;
    case PROP_GUIDANCE_SCALE:
      s.guidance_scale = g_value_get_double(value);
      return true;
    case PROP_VARIATION:
      s.base.variation = g_value_get_uint(value);
      return true;
    case PROP_MODEL:
      set_string(&s.base.model, value);
      if (s.base.model.empty()) s.base.model = kling::kDefaultModel;
      return true;
    case PROP_REQUEST_ID:
      set_string(&s.base.request_id, value);
      return true;
    default:
      return false;
  }
}

// How it is asked, paid for and kept; false for another property.
static bool set_service_property(GstKlingSrcSettings& s, guint prop_id, const GValue* value) {
  switch (prop_id) {
    case PROP_JOURNAL: {
      const char* v = g_value_get_string(value);
      s.journal = v ? std::optional<std::string>(v) : std::nullopt;
      return true;
    }
    case PROP_RESUME_UNFINISHED:
      s.base.resume_unfinished = g_value_get_boolean(value);
      return true;
    case PROP_CACHE_DIR: {
      const char* v = g_value_get_string(value);
      s.cache_dir = v ? std::optional<std::string>(v) : std::nullopt;
      return true;
    }
    case PROP_MAX_COST:
      s.max_cost = g_value_get_double(value);
      return true;
    case PROP_DAILY_BUDGET:
      s.daily_budget = g_value_get_double(value);
      return true;
    case PROP_CACHE_MAX_SIZE:
      s.base.cache_max_size = g_value_get_uint64(value);
      return true;
    case PROP_API_KEY:
      set_string(&s.api_key, value);
      return true;
    case PROP_API_URL:
      set_string(&s.api_url, value);
      return true;
    case PROP_POLL_INTERVAL:
      s.base.poll_interval_ms = g_value_get_uint(value);
      return true;
    case PROP_TIMEOUT:
      s.base.timeout_s = g_value_get_uint(value);
      return true;
    case PROP_REQUEST_TIMEOUT:
      s.base.request_timeout_s = g_value_get_uint(value);
      return true;
    case PROP_RETRIES:
      s.base.retries = g_value_get_uint(value);
      return true;
    case PROP_MAX_SIZE:
      s.base.max_size = g_value_get_uint64(value);
      return true;
    case PROP_PROXY:
      set_string(&s.base.proxy, value);
      // As souphttpsrc: "host:port" means an http proxy.
      if (!s.base.proxy.empty() && s.base.proxy.find("://") == std::string::npos)
        s.base.proxy = "http://" + s.base.proxy;
      return true;
    case PROP_PROXY_ID:
      set_string(&s.base.proxy_id, value);
      return true;
    case PROP_PROXY_PW:
      set_string(&s.base.proxy_pw, value);
      return true;
    case PROP_SSL_STRICT:
      s.base.ssl_strict = g_value_get_boolean(value);
      return true;
    case PROP_TLS_DATABASE:
      s.base.tls_database =
          kling::GRef<GTlsDatabase>::share(static_cast<GTlsDatabase*>(g_value_get_object(value)));
      return true;
    default:
      return false;
  }
}

static void gst_kling_src_set_property(GObject* object, guint prop_id, const GValue* value,
                                       GParamSpec* pspec) {
  GstKlingSrc* self = GST_KLING_SRC(object);
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  GstKlingSrcSettings& s = self->priv->settings;
  if (!set_request_property(s, prop_id, value) && !set_service_property(s, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static bool get_request_property(const GstKlingSrcSettings& s, guint prop_id, GValue* value) {
  switch (prop_id) {
    case PROP_PROMPT:
      g_value_set_string(value, s.base.prompt.c_str());
      return true;
    case PROP_NEGATIVE_PROMPT:
      g_value_set_string(value, s.base.negative_prompt.c_str());
      return true;
    case PROP_DURATION:
      g_value_set_enum(value, s.duration);
      return true;
    case PROP_ASPECT_RATIO:
      g_value_set_enum(value, s.aspect_ratio);
      return true;
    case PROP_MODEL:
      g_value_set_string(value, s.base.model.c_str());
      return true;
    case PROP_PARAMS:
      gst_value_set_structure(value, s.params.get());
      return true;
    case PROP_REQUEST_ID:
      g_value_set_string(value, s.base.request_id.c_str());
      return true;
    case PROP_IMAGE:
      g_value_set_string(value, s.base.image.c_str());
      return true;
    case PROP_GUIDANCE_SCALE:
      g_value_set_double(value, s.guidance_scale);
      return true;
    case PROP_VARIATION:
      g_value_set_uint(value, s.base.variation);
      return true;
    default:
      return false;
  }
}

static bool get_service_property(const GstKlingSrcSettings& s, guint prop_id, GValue* value) {
  switch (prop_id) {
    case PROP_API_URL:
      g_value_set_string(value, kling::resolve_api_url(s.api_url).c_str());
      return true;
    case PROP_POLL_INTERVAL:
      g_value_set_uint(value, s.base.poll_interval_ms);
      return true;
    case PROP_TIMEOUT:
      g_value_set_uint(value, s.base.timeout_s);
      return true;
    case PROP_REQUEST_TIMEOUT:
      g_value_set_uint(value, s.base.request_timeout_s);
      return true;
    case PROP_RETRIES:
      g_value_set_uint(value, s.base.retries);
      return true;
    case PROP_MAX_SIZE:
      g_value_set_uint64(value, s.base.max_size);
      return true;
    case PROP_PROXY:
      g_value_set_string(value, s.base.proxy.c_str());
      return true;
    case PROP_PROXY_ID:
      g_value_set_string(value, s.base.proxy_id.c_str());
      return true;
    case PROP_SSL_STRICT:
      g_value_set_boolean(value, s.base.ssl_strict);
      return true;
    case PROP_TLS_DATABASE:
      g_value_set_object(value, s.base.tls_database.get());
      return true;
    case PROP_JOURNAL:
      // Never a server's password: graph dumps and gst-inspect print what this returns.
      g_value_set_string(value, kling::Ledger::display_name(effective_journal(s)).c_str());
      return true;
    case PROP_RESUME_UNFINISHED:
      g_value_set_boolean(value, s.base.resume_unfinished);
      return true;
    case PROP_CACHE_DIR:
      g_value_set_string(value, effective_cache_dir(s).c_str());
      return true;
    case PROP_MAX_COST:
      g_value_set_double(value, s.max_cost);
      return true;
    case PROP_DAILY_BUDGET:
      g_value_set_double(value, s.daily_budget);
      return true;
    case PROP_CACHE_MAX_SIZE:
      g_value_set_uint64(value, s.base.cache_max_size);
      return true;
    default:
      return false;
  }
}

static void gst_kling_src_get_property(GObject* object, guint prop_id, GValue* value,
                                       GParamSpec* pspec) {
  GstKlingSrc* self = GST_KLING_SRC(object);
  if (prop_id == PROP_TASK_ID) {
    g_value_set_string(value, self->priv->generation->task_id().c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(self->priv->settings_lock);
  const GstKlingSrcSettings& s = self->priv->settings;
  if (!get_request_property(s, prop_id, value) && !get_service_property(s, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

namespace {

const auto kReadWrite =
    static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
const auto kWriteOnly =
    static_cast<GParamFlags>(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

// What is asked for: the request's fields.
void install_request_properties(GObjectClass* gobject_class) {
  const auto rw = kReadWrite;
  g_object_class_install_property(
      gobject_class, PROP_PROMPT,
      g_param_spec_string(
          "prompt", "Prompt",
          "What the video shows (required unless request-id is set; 1 to 2500 characters, "
          "sent exactly as given)",
          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_NEGATIVE_PROMPT,
      g_param_spec_string("negative-prompt", "Negative prompt",
                          "What the video should avoid (sent only when set)", nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_DURATION,
      g_param_spec_enum("duration", "Duration", "Length of the video in seconds",
                        GST_TYPE_KLING_DURATION, GST_KLING_DURATION_5, rw));
  g_object_class_install_property(
      gobject_class, PROP_ASPECT_RATIO,
      g_param_spec_enum("aspect-ratio", "Aspect ratio", "Shape of the video",
                        GST_TYPE_KLING_ASPECT_RATIO, GST_KLING_ASPECT_RATIO_16_9, rw));
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model", "Model path after /api/v3/", kling::kDefaultModel, rw));
  g_object_class_install_property(
      gobject_class, PROP_REQUEST_ID,
      g_param_spec_string(
          "request-id", "Request id",
          "Id of an existing task: poll it and stream its video instead of submitting (resume "
          "a task already paid for)",
          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_IMAGE,
      g_param_spec_string(
          "image", "Image",
          "The source image, for image-to-video models (such as kwaivgi/kling-v2.0-i2v-master) "
          "only: an http(s) URL, or a local file (a path or a file:// URI) uploaded to WaveSpeed "
          "first (the same bytes once a day)",
          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_PARAMS,
      g_param_spec_boxed(
          "params", "Params",
          "Request fields with no property of their own, as a structure (the name is ignored), "
          "e.g. params=\"p,cfg_scale=0.7,camera=zoom_in\". Each is checked and typed as the "
          "model's entry in WaveSpeed's catalogue says (\"5\" for an integer field is sent as 5; "
          "a JSON text for an object or array field); a field the model does not take is refused "
          "before anything is sent. A property set on the element wins over the same field here",
          GST_TYPE_STRUCTURE, rw));
  g_object_class_install_property(
      gobject_class, PROP_GUIDANCE_SCALE,
      g_param_spec_double(
          "guidance-scale", "Guidance scale",
          "How closely the video follows the prompt, 0 to 1, for models that take it "
          "(-1 = not sent: the model's default)",
          -1.0, 1.0, -1.0, rw));
  g_object_class_install_property(
      gobject_class, PROP_VARIATION,
      g_param_spec_uint(
          "variation", "Variation",
          "Part of the request's identity: the same request (API, account, model, every field "
          "sent, variation) is paid for once on this machine and replays while its output lives "
          "(7 days). A different variation asks for, and pays for, a new generation of the same "
          "prompt",
          0, G_MAXUINT, 0, rw));
}

// Where and how: the service, the connection, its limits.
void install_service_properties(GObjectClass* gobject_class, const kling::Request& kDefaults) {
  const auto rw = kReadWrite, wo = kWriteOnly;
  g_object_class_install_property(
      gobject_class, PROP_API_KEY,
      g_param_spec_string(
          "api-key", "API key",
          "WaveSpeed API key (write-only; default: the WAVESPEED_API_KEY environment "
          "variable). Sent only to api-url's host, never logged",
          nullptr, wo));
  g_object_class_install_property(
      gobject_class, PROP_API_URL,
      g_param_spec_string(
          "api-url", "API URL",
          "Base URL of the WaveSpeed API (default: the WAVESPEED_BASE_URL environment variable, "
          "else https://api.wavespeed.ai). Plain http only to loopback",
          kling::kDefaultApiUrl, rw));
  g_object_class_install_property(
      gobject_class, PROP_POLL_INTERVAL,
      g_param_spec_uint(
          "poll-interval", "Poll interval",
          "Milliseconds between status polls once the task runs (the first poll comes sooner; "
          "WaveSpeed asks for at least 5000 for video)",
          1, 600000, kDefaults.poll_interval_ms, rw));
  g_object_class_install_property(
      gobject_class, PROP_TIMEOUT,
      g_param_spec_uint(
          "timeout", "Timeout",
          "Overall deadline in seconds for submitting and generating (0 = none); the task goes "
          "on at WaveSpeed after it and can be resumed with request-id",
          0, G_MAXUINT, kDefaults.timeout_s, rw));
  g_object_class_install_property(
      gobject_class, PROP_REQUEST_TIMEOUT,
      g_param_spec_uint("request-timeout", "Request timeout",
                        "Seconds of inactivity after which one HTTP request is abandoned", 1, 3600,
                        kDefaults.request_timeout_s, rw));
  g_object_class_install_property(
      gobject_class, PROP_RETRIES,
      g_param_spec_uint(
          "retries", "Retries",
          "Consecutive failed polls or downloads tolerated before giving up (a submit is "
          "retried only when no task can have been made)",
          0, 100, kDefaults.retries, rw));
  g_object_class_install_property(
      gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint64(
          "max-size", "Maximum size",
          "Largest video accepted, in bytes (default 4 GiB): a server announcing more, or "
          "sending more than it announced, is an error; bounds the disk the download uses",
          1, G_MAXUINT64, kDefaults.max_size, rw));
  g_object_class_install_property(
      gobject_class, PROP_PROXY,
      g_param_spec_string(
          "proxy", "Proxy",
          "HTTP proxy server URI for non-loopback hosts (default: the environment's, such as "
          "http_proxy, as souphttpsrc uses); loopback hosts are always reached directly",
          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_PROXY_ID,
      g_param_spec_string("proxy-id", "Proxy user id", "User id for proxy authentication", "", rw));
  g_object_class_install_property(
      gobject_class, PROP_PROXY_PW,
      g_param_spec_string("proxy-pw", "Proxy password",
                          "Password for proxy authentication (write-only, never logged)", nullptr,
                          wo));
  g_object_class_install_property(
      gobject_class, PROP_SSL_STRICT,
      g_param_spec_boolean("ssl-strict", "SSL strict", "Refuse TLS certificates that do not verify",
                           TRUE, rw));
  g_object_class_install_property(
      gobject_class, PROP_TLS_DATABASE,
      g_param_spec_object(
          "tls-database", "TLS database",
          "TLS database with the anchor certificates to verify against (default: the system's)",
          G_TYPE_TLS_DATABASE, rw));
}

// Paying once and keeping what was paid for: the ledger, the cache, the money limits.
void install_ledger_properties(GObjectClass* gobject_class, const kling::Request& kDefaults) {
  const auto rw = kReadWrite;
  g_object_class_install_property(
      gobject_class, PROP_JOURNAL,
      g_param_spec_string(
          "journal", "Journal",
          "The ledger of paid tasks: the machine's SQLite file (shared by every process) or a "
          "fleet's PostgreSQL server (postgresql://user@host:port/db, shared by every machine): "
          "the same request is paid for once, a crash never loses a task, and kling-tasks lists "
          "them (default: $KLING_JOURNAL, else $XDG_STATE_HOME/gst-kling/ledger.db; \"none\" or "
          "empty: no ledger, and no protection against paying twice across runs). Read back "
          "without a password",
          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_RESUME_UNFINISHED,
      g_param_spec_boolean(
          "resume-unfinished", "Resume unfinished",
          "Follow this request's task already on the ledger (in flight here or in another "
          "process) instead of paying for a new one, and refuse after a submit that never got "
          "its reply (false: submit anyway; a delivered video still replays: change variation "
          "for a new one)",
          TRUE, rw));
  g_object_class_install_property(
      gobject_class, PROP_CACHE_DIR,
      g_param_spec_string(
          "cache-dir", "Cache directory",
          "Folder of finished videos keyed by service, model and every request field: the same "
          "request replays from disk without submitting (default: the KLING_CACHE_DIR "
          "environment variable; empty: no cache)",
          nullptr, rw));
  g_object_class_install_property(
      gobject_class, PROP_MAX_COST,
      g_param_spec_double(
          "max-cost", "Maximum cost",
          "US dollars one generation may be quoted (POST /api/v3/model/price) before it is "
          "submitted: a higher quote, or none to be had, is a SETTINGS error and nothing is paid "
          "(-1: the KLING_MAX_COST environment variable, an unreadable value being a SETTINGS "
          "error; else no limit)",
          -1.0, G_MAXDOUBLE, -1.0, rw));
  g_object_class_install_property(
      gobject_class, PROP_DAILY_BUDGET,
      g_param_spec_double(
          "daily-budget", "Daily budget",
          "US dollars this account's tasks on this machine may be quoted since local midnight, "
          "this one included, across every process sharing the ledger; past it nothing is "
          "submitted (-1: the KLING_DAILY_BUDGET environment variable, an unreadable value being a "
          "SETTINGS error; else no limit)",
          -1.0, G_MAXDOUBLE, -1.0, rw));
  g_object_class_install_property(
      gobject_class, PROP_CACHE_MAX_SIZE,
      g_param_spec_uint64(
          "cache-max-size", "Cache maximum size",
          "Bytes the cache-dir may hold; least recently used videos go first (0: no limit)", 0,
          G_MAXUINT64, kDefaults.cache_max_size, rw));
}

}  // namespace

void gst_kling_src_install_properties(GObjectClass* gobject_class) {
  gobject_class->set_property = gst_kling_src_set_property;
  gobject_class->get_property = gst_kling_src_get_property;
  const kling::Request kDefaults;  // the core's defaults are the properties' defaults
  install_request_properties(gobject_class);
  install_service_properties(gobject_class, kDefaults);
  install_ledger_properties(gobject_class, kDefaults);
  gst_kling_src_task_id_pspec = g_param_spec_string(
      "task-id", "Task id",
      "Id of the current task once submitted (give it to request-id to resume); notified when "
      "it changes",
      nullptr, static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_TASK_ID, gst_kling_src_task_id_pspec);
}
