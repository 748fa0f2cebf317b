// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc over HTTPS: the whole cycle (submit, poll, download) against a
// loopback API + CDN that present a self-signed certificate for 127.0.0.1,
// made by this test with GnuTLS. TLS is verified by default, so the
// certificate is refused unless it is given through `tls-database` or
// `ssl-strict=false`; and the key never follows a redirect to another origin.
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/pipeline_run.h"
#include "support/server_thread.h"

namespace {

constexpr const char* kKey = "tls-test-key";
constexpr const char* kTaskId = "task-tls-0001";
constexpr const char* kPrompt = "a lighthouse in a storm";

// ------------------------------------------------------------ the certificate

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_path;  // the certificate alone, for g_tls_file_database_new()
};

#define GNUTLS_CHECK(call) g_assert_cmpint((call), ==, GNUTLS_E_SUCCESS)

// A P-256 key and a self-signed certificate for CN=127.0.0.1 with the IP in
// subjectAltName, valid from an hour ago for a day.
const SelfSigned& self_signed() {
  static SelfSigned made;
  static std::once_flag once;
  std::call_once(once, [] {
    gnutls_x509_privkey_t key;
    GNUTLS_CHECK(gnutls_x509_privkey_init(&key));
    GNUTLS_CHECK(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                              GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));

    gnutls_x509_crt_t crt;
    GNUTLS_CHECK(gnutls_x509_crt_init(&crt));
    GNUTLS_CHECK(gnutls_x509_crt_set_version(crt, 3));
    unsigned char serial[8];
    for (unsigned char& b : serial) b = static_cast<unsigned char>(g_random_int_range(0, 256));
    serial[0] &= 0x7f;
    GNUTLS_CHECK(gnutls_x509_crt_set_serial(crt, serial, sizeof serial));
    const time_t now = time(nullptr);
    GNUTLS_CHECK(gnutls_x509_crt_set_activation_time(crt, now - 3600));
    GNUTLS_CHECK(gnutls_x509_crt_set_expiration_time(crt, now + 24 * 3600));
    GNUTLS_CHECK(gnutls_x509_crt_set_dn(crt, "CN=127.0.0.1", nullptr));
    const unsigned char ip[4] = {127, 0, 0, 1};
    GNUTLS_CHECK(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, sizeof ip,
                                                      GNUTLS_FSAN_SET));
    // Its own anchor, as `openssl req -x509` makes it.
    GNUTLS_CHECK(gnutls_x509_crt_set_basic_constraints(crt, 1, -1));
    GNUTLS_CHECK(gnutls_x509_crt_set_key_usage(
        crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN));
    GNUTLS_CHECK(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
    GNUTLS_CHECK(gnutls_x509_crt_set_key(crt, key));
    GNUTLS_CHECK(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0));

    gnutls_datum_t out = {nullptr, 0};
    GNUTLS_CHECK(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out));
    made.cert_pem.assign(reinterpret_cast<char*>(out.data), out.size);
    gnutls_free(out.data);
    // PKCS#8, which GTlsCertificate reads for any key type.
    GNUTLS_CHECK(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, nullptr,
                                                   GNUTLS_PKCS_PLAIN, &out));
    made.key_pem.assign(reinterpret_cast<char*>(out.data), out.size);
    gnutls_free(out.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);

    g_autofree char* path = g_build_filename(g_get_tmp_dir(), "klingsrc-tls-XXXXXX.pem", nullptr);
    int fd = g_mkstemp(path);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path, made.cert_pem.c_str(), -1, nullptr));
    made.cert_path = path;
  });
  return made;
}

// ------------------------------------------------------------ the servers

struct Seen {
  std::string server;  // "api", "cdn" or "other"
  std::string method;
  std::string path;
  std::string authorization;
};

// API and CDN over HTTPS on 127.0.0.1 (two ports, two origins), and a plain
// http server on a third port that only records what reaches it (the target of
// redirects). All on a thread with its own GMainContext.
class HttpsWaveSpeed {
 public:
  std::string video;
  int polls_until_done = 1;
  bool redirect_submit = false;  // the submit answers 302 to the other origin
  bool redirect_poll = false;    // every poll answers 302 to the other origin

  HttpsWaveSpeed() {
    const SelfSigned& ss = self_signed();
    g_autoptr(GError) error = nullptr;
    cert_ = g_tls_certificate_new_from_pem((ss.cert_pem + ss.key_pem).c_str(), -1, &error);
    g_assert_no_error(error);
    server_thread_ = std::make_unique<ServerThread>(
        [this] {
          api_ = soup_server_new("tls-certificate", cert_, nullptr);
          cdn_ = soup_server_new("tls-certificate", cert_, nullptr);
          other_ = soup_server_new(nullptr, nullptr);
          api_url_ = listen(api_, true);
          cdn_url_ = listen(cdn_, true);
          other_url_ = listen(other_, false);
        },
        [this] {
          for (SoupServer* s : {api_, cdn_, other_}) {
            soup_server_disconnect(s);
            g_object_unref(s);
          }
        });
    g_assert_true(g_str_has_prefix(api_url_.c_str(), "https://127.0.0.1:"));
    g_assert_true(g_str_has_prefix(cdn_url_.c_str(), "https://127.0.0.1:"));
    g_assert_true(g_str_has_prefix(other_url_.c_str(), "http://127.0.0.1:"));
  }

  ~HttpsWaveSpeed() {
    server_thread_.reset();  // the servers go first: their handlers use this object
    g_object_unref(cert_);
  }

  const std::string& api_url() const { return api_url_; }
  std::string output_url() const { return cdn_url_ + "/outputs/video.mp4"; }

  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  // Requests of the generation: the quote and balance asked before the submit make no task.
  static bool is_money(const Seen& s) {
    return s.path == "/api/v3/model/price" || s.path == "/api/v3/balance";
  }
  int count(const std::string& server) const {
    int n = 0;
    for (const auto& s : seen()) n += s.server == server && !is_money(s);
    return n;
  }

 private:
  std::string listen(SoupServer* server, bool https) {
    soup_server_add_handler(server, nullptr, handle, this, nullptr);
    g_autoptr(GError) error = nullptr;
    std::string url = listen_loopback(server, "127.0.0.1", https, &error);
    if (url.empty()) g_error("listen: %s", error->message);
    return url;
  }

  std::string task_json(const char* status) const {
    const bool done = g_str_equal(status, "completed");
    return std::string("{\"code\":200,\"message\":\"success\",\"data\":{\"id\":\"") + kTaskId +
           "\",\"model\":\"kwaivgi/kling-v2.0-t2v-master\",\"outputs\":[" +
           (done ? "\"" + output_url() + "\"" : "") + "],\"urls\":{\"get\":\"" + api_url_ +
           "/api/v3/predictions/" + kTaskId + "/result\"},\"has_nsfw_contents\":[" +
           (done ? "false" : "") + "],\"status\":\"" + status +
           "\",\"created_at\":\"2026-11-24T12:34:56.789Z\",\"error\":\"\",\"timings\":{"
           "\"inference\":0}}}";
  }

  static void reply(SoupServerMessage* msg, unsigned status, const std::string& body,
                    const char* type = "application/json") {
    soup_server_message_set_status(msg, status, nullptr);
    soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body.data(), body.size());
  }

  void redirect(SoupServerMessage* msg, const char* path) {
    const std::string location = other_url_ + path;
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                                 location.c_str());
    reply(msg, 302, "{\"code\":302,\"message\":\"moved\"}");
  }

  static void handle(SoupServer* server, SoupServerMessage* msg, const char* path, GHashTable*,
                     gpointer user_data) {
    auto* self = static_cast<HttpsWaveSpeed*>(user_data);
    Seen s;
    s.server = server == self->api_ ? "api" : server == self->cdn_ ? "cdn" : "other";
    s.method = soup_server_message_get_method(msg);
    s.path = path;
    const char* auth =
        soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    s.authorization = auth ? auth : "";
    int polls = 0;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->seen_.push_back(s);
      for (const auto& r : self->seen_)
        polls += r.server == "api" && r.method == "GET" && !is_money(r);
    }

    if (s.server == "other") {
      reply(msg, 200, "{\"code\":200,\"message\":\"you followed a redirect\"}");
    } else if (s.server == "cdn") {
      if (s.path == "/outputs/video.mp4")
        reply(msg, 200, self->video, "video/mp4");
      else
        reply(msg, 404, "not found", "text/plain");
    } else if (s.authorization != std::string("Bearer ") + kKey) {
      reply(msg, 401, "{\"code\":401,\"message\":\"Invalid API key\"}");
    } else if (s.method == "POST" && g_str_has_prefix(path, "/api/v3/kwaivgi/")) {
      if (self->redirect_submit)
        self->redirect(msg, path);
      else
        reply(msg, 200, self->task_json("created"));
    } else if (s.method == "GET" &&
               s.path == std::string("/api/v3/predictions/") + kTaskId + "/result") {
      if (self->redirect_poll)
        self->redirect(msg, path);
      else
        reply(msg, 200,
              self->task_json(polls <= self->polls_until_done ? "processing" : "completed"));
    } else {
      reply(msg, 404, "{\"code\":404,\"message\":\"not found\"}");
    }
  }

  GTlsCertificate* cert_ = nullptr;

  SoupServer *api_ = nullptr, *cdn_ = nullptr, *other_ = nullptr;
  std::string api_url_, cdn_url_, other_url_;
  std::unique_ptr<ServerThread> server_thread_;
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
};

// ------------------------------------------------------------ one pipeline run

std::unique_ptr<Run> make_run(const HttpsWaveSpeed& server) {
  auto run = parse_run("klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "api-url", server.api_url().c_str(), "api-key", kKey, "prompt", kPrompt,
               "poll-interval", 20u, "request-timeout", 10u, "retries", 1u, "timeout", 60u,
               "journal", "", nullptr);
  return run;
}

void assert_whole_video(const HttpsWaveSpeed& server, Run& run) {
  if (run.error)
    g_error("expected the whole cycle, got: %s (%s)", run.error->message, run.debug.c_str());
  g_assert_true(run.eos);
  g_assert_cmpuint(run.bytes.size(), ==, server.video.size());
  g_assert_true(run.bytes == server.video);
  g_assert_cmpint(server.count("api"), >=, 2);  // a submit and the polls
  g_assert_cmpint(server.count("cdn"), ==, 1);
  for (const auto& s : server.seen())
    if (s.server != "api") g_assert_cmpstr(s.authorization.c_str(), ==, "");
}

struct Fixture {
  std::unique_ptr<HttpsWaveSpeed> server;
};

void setup(Fixture* f, gconstpointer) {
  f->server = std::make_unique<HttpsWaveSpeed>();
  f->server->video = random_bytes(512 * 1024 + 3);
}

void teardown(Fixture* f, gconstpointer) {
  f->server.reset();
}

// ------------------------------------------------------------ the cases

void test_refused_by_default(Fixture* f, gconstpointer) {
  auto run = make_run(*f->server);
  play_to_end(*run);
  g_assert_false(run->eos);
  g_assert_nonnull(run->error);
  g_assert_true(run->error->domain == GST_RESOURCE_ERROR);
  // The user is told why.
  g_autofree char* text =
      g_ascii_strdown((std::string(run->error->message) + run->debug).c_str(), -1);
  g_assert_true(strstr(text, "certificate") || strstr(text, "tls"));
  // The handshake failed, so the POST (and the key) never reached the server.
  g_assert_cmpint(static_cast<int>(f->server->seen().size()), ==, 0);
  g_assert_true(run->bytes.empty());
}

void test_accepted_with_tls_database(Fixture* f, gconstpointer) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GTlsDatabase) db = g_tls_file_database_new(self_signed().cert_path.c_str(), &error);
  g_assert_no_error(error);
  auto run = make_run(*f->server);
  g_object_set(run->src, "tls-database", db, nullptr);
  play_to_end(*run);
  assert_whole_video(*f->server, *run);
}

void test_accepted_without_ssl_strict(Fixture* f, gconstpointer) {
  auto run = make_run(*f->server);
  g_object_set(run->src, "ssl-strict", FALSE, nullptr);
  play_to_end(*run);
  assert_whole_video(*f->server, *run);
}

// A tls-database set explicitly replaces the default one: a database without
// this certificate (here the system's anchors) refuses it as well.
void test_refused_with_other_database(Fixture* f, gconstpointer) {
  GTlsBackend* backend = g_tls_backend_get_default();
  g_autoptr(GTlsDatabase) system = g_tls_backend_get_default_database(backend);
  auto run = make_run(*f->server);
  g_object_set(run->src, "tls-database", system, nullptr);
  play_to_end(*run);
  g_assert_nonnull(run->error);
  g_assert_true(run->error->domain == GST_RESOURCE_ERROR);
  g_assert_cmpint(static_cast<int>(f->server->seen().size()), ==, 0);
}

void assert_key_stayed_home(const HttpsWaveSpeed& server, Run& run) {
  g_assert_false(run.eos);
  g_assert_nonnull(run.error);
  g_assert_true(run.error->domain == GST_RESOURCE_ERROR);
  g_assert_true(run.bytes.empty());
  // The redirect was not followed; had it been, it must not have carried the key.
  for (const auto& s : server.seen())
    if (s.server == "other") g_assert_cmpstr(s.authorization.c_str(), ==, "");
  g_assert_cmpint(server.count("other"), ==, 0);
}

void test_submit_redirect_not_followed(Fixture* f, gconstpointer) {
  f->server->redirect_submit = true;
  g_autoptr(GTlsDatabase) db = g_tls_file_database_new(self_signed().cert_path.c_str(), nullptr);
  auto run = make_run(*f->server);
  g_object_set(run->src, "tls-database", db, nullptr);
  play_to_end(*run);
  assert_key_stayed_home(*f->server, *run);
  int submits = 0;  // one submit, not retried (the catalogue and the quote come before it)
  for (const auto& s : f->server->seen())
    submits += s.server == "api" && s.method == "POST" && !HttpsWaveSpeed::is_money(s);
  g_assert_cmpint(submits, ==, 1);
}

void test_poll_redirect_not_followed(Fixture* f, gconstpointer) {
  f->server->redirect_poll = true;
  g_autoptr(GTlsDatabase) db = g_tls_file_database_new(self_signed().cert_path.c_str(), nullptr);
  auto run = make_run(*f->server);
  g_object_set(run->src, "tls-database", db, nullptr);
  play_to_end(*run);
  assert_key_stayed_home(*f->server, *run);
}

}  // namespace

#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)

int main(int argc, char** argv) {
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
    g_test_skip("GIO has no TLS backend (install glib-networking)");
    return g_test_run();
  }
  ADD("/klingsrc/tls/self-signed-refused-by-default-before-any-request", test_refused_by_default);
  ADD("/klingsrc/tls/self-signed-refused-by-system-database", test_refused_with_other_database);
  ADD("/klingsrc/tls/whole-cycle-with-certificate-in-tls-database",
      test_accepted_with_tls_database);
  ADD("/klingsrc/tls/whole-cycle-with-ssl-strict-false", test_accepted_without_ssl_strict);
  ADD("/klingsrc/key/submit-redirect-to-other-origin-not-followed",
      test_submit_redirect_not_followed);
  ADD("/klingsrc/key/poll-redirect-to-other-origin-not-followed", test_poll_redirect_not_followed);
  const int status = g_test_run();
  g_unlink(self_signed().cert_path.c_str());
  return status;
}
