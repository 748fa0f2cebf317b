// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: command line, start-up and shutdown. The servers live in
// api_server.cpp and cdn_server.cpp, the video generation in video_maker.cpp.
#include "api_server.h"
#include "cdn_server.h"
#include "config.h"
#include "request_log.h"
#include "server_util.h"
#include "storage_server.h"
#include "task_store.h"
#include "video_maker.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr char kSummary[] =
    "An offline emulator of the WaveSpeed v3 prediction API (kwaivgi/kling-* models).\n"
    "\n"
    "Three HTTP servers: the API, a CDN that serves the outputs, and the storage\n"
    "origin uploads go to. At start it prints these three lines first, then serves\n"
    "until SIGINT/SIGTERM:\n"
    "  API: http://HOST:PORT\n"
    "  CDN: http://HOST:PORT\n"
    "  Storage: http://HOST:PORT\n"
    "\n"
    "Endpoints: POST /api/v3/{model}, GET /api/v3/predictions/{id}[/result],\n"
    "GET /api/v2/predictions/{id}/result, DELETE /api/v3/predictions/{id},\n"
    "POST /api/v3/model/price, GET /api/v3/balance, GET /api/v3/models,\n"
    "POST /api/v3/media/uploads (a ticket: PUT the bytes to the storage origin\n"
    "without the key), POST /api/v3/media/upload/binary (multipart field 'file'),\n"
    "all with Authorization: Bearer KEY; GET/HEAD /outputs/{id}.mp4 on the CDN\n"
    "(Range supported, no key needed). A submit body may set enable_sync_mode.\n"
    "Unknown models get 404, bodies the model's schema refuses 400.\n"
    "Tasks go created -> processing -> completed (or failed) over --latency-ms;\n"
    "unless --video-file is given, each task renders a real H.264 MP4 of the\n"
    "requested duration (1280x720, 720x1280 or 960x960) showing the prompt\n"
    "(with an AAC tone for kwaivgi/kling-v2.6-t2v-audio).";

bool parse_pair(const char* text, char separator, std::string* first, std::string* second) {
  const char* at = text ? strchr(text, separator) : nullptr;
  if (!at || at == text || !at[1]) return false;
  first->assign(text, size_t(at - text));
  second->assign(at + 1);
  return true;
}

bool parse_int(const std::string& text, int64_t min, int64_t max, int64_t* out) {
  gint64 value = 0;
  if (!g_ascii_string_to_signed(text.c_str(), 10, min, max, &value, nullptr)) return false;
  *out = value;
  return true;
}

gboolean on_signal(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop*>(loop));
  return G_SOURCE_CONTINUE;
}

void remove_tree(const std::string& dir) {
  g_autoptr(GDir) handle = g_dir_open(dir.c_str(), 0, nullptr);
  if (!handle) return;
  while (const char* name = g_dir_read_name(handle)) {
    g_autofree char* path = g_build_filename(dir.c_str(), name, NULL);
    g_unlink(path);
  }
  g_rmdir(dir.c_str());
}

// What the command line says, as GOption writes it.
struct Options {
  Options() = default;
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;
  ~Options() {
    for (char* text : {host, cdn_host, storage_host, api_key, video_file, key_role, output_dir,
                       request_log, fail_task, cut_downloads})
      g_free(text);
  }
  char *host = nullptr, *cdn_host = nullptr, *storage_host = nullptr, *api_key = nullptr;
  char *video_file = nullptr, *key_role = nullptr, *output_dir = nullptr, *request_log = nullptr;
  char *fail_task = nullptr, *cut_downloads = nullptr;
  gboolean allow_remote = FALSE, moov_at_end = FALSE, expire_outputs = FALSE, hang_submit = FALSE;
  gboolean hang_polls = FALSE, processing_5004 = FALSE;
  int port = 0, cdn_port = 0, storage_port = 0, sync_timeout_ms = emu::Config().sync_timeout_ms;
  int latency_ms = emu::Config().latency_ms, video_scale = 1, retry_after = 1;
  int fail_submits_429 = 0, fail_polls_500 = 0, fail_polls_502 = 0;
  double price = NAN, balance = NAN;
  gboolean no_price = FALSE, fail_price = FALSE, no_balance = FALSE, fail_balance = FALSE;
  gboolean no_models = FALSE, fail_models = FALSE;
};

// Where the servers listen, and what they serve.
std::vector<GOptionEntry> server_entries(Options& o) {
  return {
      {"host", 0, 0, G_OPTION_ARG_STRING, &o.host,
       "API address to bind (default 127.0.0.1; loopback only unless --allow-remote)", "ADDR"},
      {"port", 0, 0, G_OPTION_ARG_INT, &o.port, "API port (default 0: a free port)", "N"},
      {"cdn-host", 0, 0, G_OPTION_ARG_STRING, &o.cdn_host,
       "CDN (output files) address to bind (default 127.0.0.1)", "ADDR"},
      {"cdn-port", 0, 0, G_OPTION_ARG_INT, &o.cdn_port, "CDN port (default 0: a free port)", "N"},
      {"storage-host", 0, 0, G_OPTION_ARG_STRING, &o.storage_host,
       "Storage origin (uploads) address to bind (default 127.0.0.1)", "ADDR"},
      {"storage-port", 0, 0, G_OPTION_ARG_INT, &o.storage_port,
       "Storage origin port (default 0: a free port)", "N"},
      {"allow-remote", 0, 0, G_OPTION_ARG_NONE, &o.allow_remote,
       "Allow --host/--cdn-host/--storage-host to be non-loopback addresses", nullptr},
      {"api-key", 0, 0, G_OPTION_ARG_STRING, &o.api_key,
       "The only API key accepted as 'Authorization: Bearer KEY' (default emulator-key)", "KEY"},
      {"latency-ms", 0, 0, G_OPTION_ARG_INT, &o.latency_ms,
       "Time from submit to completed/failed (default 3000); 'created' for the first quarter, then "
       "'processing'",
       "MS"},
      {"video-file", 0, 0, G_OPTION_ARG_FILENAME, &o.video_file,
       "Serve this file, as is, as every output instead of generating one (fast tests, benchmarks)",
       "PATH"},
      {"video-scale", 0, 0, G_OPTION_ARG_INT, &o.video_scale,
       "Divide the generated width and height by N (default 1); for fast tests", "N"},
      {"moov-at-end", 0, 0, G_OPTION_ARG_NONE, &o.moov_at_end,
       "Generate MP4s with the moov atom at the end (default: faststart, moov first)", nullptr},
      {"output-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.output_dir,
       "Keep generated videos in DIR (default: a temporary directory removed at exit)", "DIR"},
      {"request-log", 0, 0, G_OPTION_ARG_FILENAME, &o.request_log,
       "Append one JSON line per request received by any of the three servers to FILE (truncated "
       "at start)",
       "FILE"},
      {"sync-timeout-ms", 0, 0, G_OPTION_ARG_INT, &o.sync_timeout_ms,
       "enable_sync_mode: the longest a submit's reply waits for the final status before answering "
       "'processing' with code 5004 (default 60000)",
       "MS"},
      {"price", 0, 0, G_OPTION_ARG_DOUBLE, &o.price,
       "Every model's base price in US dollars per 5 s (default: each model's own, e.g. 1.30)",
       "USD"},
      {"balance", 0, 0, G_OPTION_ARG_DOUBLE, &o.balance,
       "The account's starting credit in US dollars (default 100); each accepted submit costs its "
       "price, a failed task is refunded; when given, a submit costing more than the balance gets "
       "402",
       "USD"},
      {"no-price", 0, 0, G_OPTION_ARG_NONE, &o.no_price,
       "POST /api/v3/model/price answers 404 (an API without quotes)", nullptr},
      {"no-balance", 0, 0, G_OPTION_ARG_NONE, &o.no_balance,
       "GET /api/v3/balance answers 404 (and submits are not checked against the credit)", nullptr},
      {"no-models", 0, 0, G_OPTION_ARG_NONE, &o.no_models,
       "GET /api/v3/models answers 404 (submits are still checked against the catalogue)", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
}

// The faults the servers can be told to show.
std::vector<GOptionEntry> fault_entries(Options& o) {
  return {
      {"fail-submits-429", 0, 0, G_OPTION_ARG_INT, &o.fail_submits_429,
       "Fault: answer the first N authorized submits 429 with Retry-After (no task created)", "N"},
      {"retry-after", 0, 0, G_OPTION_ARG_INT, &o.retry_after,
       "Retry-After seconds sent with those 429s (default 1)", "S"},
      {"fail-polls-500", 0, 0, G_OPTION_ARG_INT, &o.fail_polls_500,
       "Fault: answer the first N authorized polls 500 with an error envelope", "N"},
      {"fail-polls-502", 0, 0, G_OPTION_ARG_INT, &o.fail_polls_502,
       "Fault: answer the first N polls 502 with an HTML gateway page (before auth, like a "
       "gateway)",
       "N"},
      {"fail-task", 0, 0, G_OPTION_ARG_STRING, &o.fail_task,
       "Fault: every task ends 'failed' with data.code=CODE and data.error=MESSAGE (HTTP 200)",
       "CODE:MESSAGE"},
      {"cut-downloads", 0, 0, G_OPTION_ARG_STRING, &o.cut_downloads,
       "Fault: the first N output GETs send the full Content-Length but close after K body bytes",
       "N:K"},
      {"expire-outputs", 0, 0, G_OPTION_ARG_NONE, &o.expire_outputs,
       "Fault: output URLs answer 404 (expired)", nullptr},
      {"hang-submit", 0, 0, G_OPTION_ARG_NONE, &o.hang_submit,
       "Fault: never answer submits (the connection stays open)", nullptr},
      {"hang-polls", 0, 0, G_OPTION_ARG_NONE, &o.hang_polls,
       "Fault: never answer polls (the connection stays open)", nullptr},
      {"processing-5004", 0, 0, G_OPTION_ARG_NONE, &o.processing_5004,
       "Fault: while processing, polls carry data.code=5004 (sync wait timed out; keep polling)",
       nullptr},
      {"key-role", 0, 0, G_OPTION_ARG_STRING, &o.key_role,
       "Fault: the key was made by a member of role ROLE, which may read but not create "
       "predictions or upload: 403 with error_code PERMISSION_DENIED",
       "ROLE"},
      {"fail-price", 0, 0, G_OPTION_ARG_NONE, &o.fail_price,
       "Fault: POST /api/v3/model/price answers 500 with an error envelope", nullptr},
      {"fail-balance", 0, 0, G_OPTION_ARG_NONE, &o.fail_balance,
       "Fault: GET /api/v3/balance answers 500 with an error envelope", nullptr},
      {"fail-models", 0, 0, G_OPTION_ARG_NONE, &o.fail_models,
       "Fault: GET /api/v3/models answers 500 with an error envelope", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
}

void copy_options(const Options& o, emu::Config* config) {
  if (o.host) config->host = o.host;
  if (o.cdn_host) config->cdn_host = o.cdn_host;
  if (o.storage_host) config->storage_host = o.storage_host;
  config->storage_port = o.storage_port;
  config->sync_timeout_ms = o.sync_timeout_ms;
  if (o.key_role) config->key_role = o.key_role;
  config->port = o.port;
  config->cdn_port = o.cdn_port;
  config->allow_remote = o.allow_remote;
  if (o.api_key) config->api_key = o.api_key;
  config->latency_ms = o.latency_ms;
  if (o.video_file) config->video_file = o.video_file;
  config->video_scale = o.video_scale;
  config->moov_at_end = o.moov_at_end;
  if (o.request_log) config->request_log = o.request_log;
  config->fail_submits_429 = o.fail_submits_429;
  config->retry_after_s = o.retry_after;
  config->fail_polls_500 = o.fail_polls_500;
  config->fail_polls_502 = o.fail_polls_502;
  config->expire_outputs = o.expire_outputs;
  config->hang_submit = o.hang_submit;
  config->hang_polls = o.hang_polls;
  config->processing_5004 = o.processing_5004;
  if (!std::isnan(o.price)) config->price = o.price;
  config->no_price = o.no_price;
  config->fail_price = o.fail_price;
  if (!std::isnan(o.balance)) {
    config->balance = o.balance;
    config->check_balance = true;
  }
  config->no_balance = o.no_balance;
  config->fail_balance = o.fail_balance;
  config->no_models = o.no_models;
  config->fail_models = o.fail_models;
}

// What is wrong with the numbers and addresses given, or "".
std::string check_options(const Options& o, const emu::Config& config) {
  if (o.port < 0 || o.port > 65535 || o.cdn_port < 0 || o.cdn_port > 65535 || o.storage_port < 0 ||
      o.storage_port > 65535)
    return "--port, --cdn-port and --storage-port must be 0..65535";
  if (o.sync_timeout_ms < 0) return "--sync-timeout-ms must be >= 0";
  if (o.key_role && !*o.key_role) return "--key-role must not be empty";
  if (o.latency_ms < 0 || o.video_scale < 1 || o.retry_after < 0 || o.fail_submits_429 < 0 ||
      o.fail_polls_500 < 0 || o.fail_polls_502 < 0)
    return "--latency-ms, --retry-after and the fault counts must be >= 0, --video-scale >= 1";
  if ((config.price && !(*config.price >= 0 && *config.price < 1e6)) ||
      (!std::isnan(o.balance) && !(o.balance > -1e9 && o.balance < 1e9)))
    return "--price must be 0..1000000 and --balance a number";
  if (config.api_key.empty()) return "--api-key must not be empty";
  for (const auto& [option, host] :
       {std::pair<const char*, const std::string&>{"--host", config.host},
        {"--cdn-host", config.cdn_host},
        {"--storage-host", config.storage_host}})
    if (!o.allow_remote && !emu::is_loopback_host(host))
      return std::string(option) + " " + host +
             " is not a loopback address (pass --allow-remote to bind it)";
  if (!config.video_file.empty() && !g_file_test(config.video_file.c_str(), G_FILE_TEST_IS_REGULAR))
    return "--video-file " + config.video_file + " is not a readable file";
  return "";
}

// --fail-task CODE:MESSAGE and --cut-downloads N:K into `config`; what is wrong, or "".
std::string parse_pairs(const Options& o, emu::Config* config) {
  if (o.fail_task) {
    std::string code, message;
    int64_t value = 0;
    if (!parse_pair(o.fail_task, ':', &code, &message) || !parse_int(code, 1, G_MAXINT, &value))
      return "--fail-task expects CODE:MESSAGE, e.g. 1200:Content moderation";
    config->fail_task = true;
    config->fail_task_code = int(value);
    config->fail_task_message = message;
  }
  if (o.cut_downloads) {
    std::string n, k;
    int64_t count = 0, bytes = 0;
    if (!parse_pair(o.cut_downloads, ':', &n, &k) || !parse_int(n, 0, G_MAXINT, &count) ||
        !parse_int(k, 0, G_MAXINT64, &bytes))
      return "--cut-downloads expects N:K, e.g. 1:65536";
    config->cut_downloads = int(count);
    config->cut_after_bytes = bytes;
  }
  return "";
}

// Runs the three servers until SIGINT or SIGTERM: the exit status.
int serve(const emu::Config& config) {
  g_autoptr(GError) error = nullptr;
  emu::RequestLog log;
  if (!log.open(config.request_log, &error)) {
    g_printerr("kling-emulator: %s\n", error->message);
    return 2;
  }
  emu::TaskStore tasks(config);
  emu::VideoMaker videos;
  emu::StorageServer storage(config, log);
  emu::ApiServer api(config, tasks, videos, log, storage);
  emu::CdnServer cdn(config, tasks, log);
  api.set_output_dir(config.output_dir);
  int status = 0;
  if (!api.start(&error) || !cdn.start(&error) || !storage.start(&error)) {
    g_printerr("kling-emulator: cannot listen: %s\n", error->message);
    status = 1;
  } else {
    // Handlers first: a client may signal us as soon as it reads the URLs.
    g_autoptr(GMainLoop) loop = g_main_loop_new(nullptr, FALSE);
    guint sigint = g_unix_signal_add(SIGINT, on_signal, loop);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, loop);
    api.set_cdn_url(cdn.base_url());
    g_print("API: %s\nCDN: %s\nStorage: %s\n", api.base_url().c_str(), cdn.base_url().c_str(),
            storage.base_url().c_str());
    g_print("key: %s, latency: %d ms, outputs: %s\n", config.api_key.c_str(), config.latency_ms,
            config.video_file.empty() ? config.output_dir.c_str() : config.video_file.c_str());
    fflush(stdout);
    g_main_loop_run(loop);
    g_source_remove(sigint);
    g_source_remove(sigterm);
  }
  videos.stop_all();
  return status;
}

int fail(const std::string& message) {
  g_printerr("kling-emulator: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const std::vector<GOptionEntry> servers = server_entries(options),
                                  faults = fault_entries(options);
  g_autoptr(GOptionContext) context = g_option_context_new("- offline WaveSpeed API emulator");
  g_option_context_set_summary(context, kSummary);
  g_option_context_add_main_entries(context, servers.data(), nullptr);
  g_option_context_add_main_entries(context, faults.data(), nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) return fail(error->message);

  emu::Config config;
  copy_options(options, &config);
  std::string wrong = check_options(options, config);
  if (wrong.empty()) wrong = parse_pairs(options, &config);
  if (!wrong.empty()) return fail(wrong);

  bool temporary_output_dir = false;
  if (options.output_dir) {
    if (g_mkdir_with_parents(options.output_dir, 0755) != 0)
      return fail(std::string("cannot create --output-dir ") + options.output_dir);
    config.output_dir = options.output_dir;
  } else if (config.video_file.empty()) {
    g_autofree char* dir = g_dir_make_tmp("kling-emulator-XXXXXX", &error);
    if (!dir) return fail(error->message);
    config.output_dir = dir;
    temporary_output_dir = true;
  }

  gst_init(&argc, &argv);
  signal(SIGPIPE, SIG_IGN);
  const int status = serve(config);
  if (temporary_output_dir) remove_tree(config.output_dir);
  return status;
}
