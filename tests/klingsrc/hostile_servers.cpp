// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc against servers that misbehave in ways an attacker or a broken CDN
// might: redirects away from the API, proxies (one refusing the tunnel to the
// API), files that change under a resume, replies larger than announced. Real
// SoupServers on loopback.
#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/net/http_transport.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"
#include "support/server_thread.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";

// Another origin on loopback (a second address when the machine has it) that
// counts what reaches it and whether any request carried a key.
// A SoupServer with `handler` on its own thread, on `ip` (or 127.0.0.1 when
// the machine lacks that address); `*url` is where it listens.
std::unique_ptr<ServerThread> serve(SoupServer** server, std::string* url, const char* ip,
                                    SoupServerCallback handler, gpointer data) {
  return std::make_unique<ServerThread>(
      [=] {
        *server = soup_server_new(nullptr, nullptr);
        soup_server_add_handler(*server, nullptr, handler, data, nullptr);
        *url = listen_loopback(*server, ip, false);
        if (url->empty()) *url = listen_loopback(*server, "127.0.0.1", false);
      },
      [=] {
        soup_server_disconnect(*server);
        g_object_unref(*server);
      });
}

class OtherServer {
 public:
  OtherServer() {
    thread_ = serve(&server_, &url_, "127.0.0.3", handle, this);
    g_signal_connect(server_, "request-read", G_CALLBACK(on_request), this);
  }
  ~OtherServer() { thread_.reset(); }
  std::string url() const { return url_; }
  // host:port, as an error names it.
  std::string host_port() const { return url_.substr(url_.find("://") + 3); }
  int requests() const { return requests_; }
  int with_key() const { return with_key_; }

 private:
  static void on_request(SoupServer*, SoupServerMessage* msg, gpointer data) {
    auto* self = static_cast<OtherServer*>(data);
    self->requests_++;
    if (soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization"))
      self->with_key_++;
  }
  static void handle(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer) {
    soup_server_message_set_status(msg, 502, nullptr);
  }

  SoupServer* server_ = nullptr;
  std::string url_;
  std::atomic<int> requests_{0};
  std::atomic<int> with_key_{0};
  std::unique_ptr<ServerThread> thread_;
};

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake,
                              const std::string& desc = "klingsrc name=src ! fakesink name=sink") {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", "", "prompt", kPrompt, nullptr);
  return run;
}

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  std::unique_ptr<OtherServer> other;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(3 * 1024 * 1024 + 17);
  f->other = std::make_unique<OtherServer>();
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
  f->other.reset();
}

FakeReply redirect(unsigned status, const std::string& to) {
  FakeReply r{status, "", "text/plain"};
  r.headers["Location"] = to;
  return r;
}

// The key went to the API and nowhere else.
void assert_key_only_to_api(Fixture* f) {
  for (const auto& r : f->fake->requests())
    if (r.server == "cdn" ||
        r.server == "storage")  // not the API (its predictions, catalogue, media)
      g_assert_cmpstr(r.authorization.c_str(), ==, "");
  g_assert_cmpint(f->other->requests(), ==, 0);
  g_assert_cmpint(f->other->with_key(), ==, 0);
}

// ------------------------------------------------------------------ redirects

// A poll redirected to another origin: one poll, an immediate error naming the
// redirect and where it pointed, not six retries of "HTTP 302: empty reply".
void test_redirected_poll_is_an_immediate_error(Fixture* f, gconstpointer) {
  const std::string target =
      f->other->url() + "/api/v3/predictions/" + f->fake->task_id + "/result";
  f->fake->on_poll = [target](int) -> std::optional<FakeReply> { return redirect(302, target); };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "retries", 5u, nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "redirect (HTTP 302)");
  g_assert_true(contains(run->error->message, f->other->host_port()));
  g_assert_true(contains(run->debug, f->fake->task_id));
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 1);  // never retried
  assert_key_only_to_api(f);
}

void test_redirected_submit_is_an_immediate_error(Fixture* f, gconstpointer) {
  const std::string target = f->other->url() + "/api/v3/kwaivgi/kling-v2.0-t2v-master";
  f->fake->on_submit = [target](int) -> std::optional<FakeReply> { return redirect(307, target); };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "redirect (HTTP 307)");
  g_assert_true(contains(run->error->message, f->other->host_port()));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 0);
  assert_key_only_to_api(f);
}

// The output URL is refused, and reading the prediction again is redirected:
// that is the error, by name, not the CDN's 404.
void test_redirected_prediction_reread_is_an_error(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  const std::string target = f->other->url() + "/elsewhere";
  f->fake->on_poll = [target](int n) -> std::optional<FakeReply> {
    if (n == 1) return std::nullopt;  // completed, with the output URL
    return redirect(301, target);
  };
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{404, "not found", "text/plain"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "redirect (HTTP 301)");
  g_assert_true(contains(run->error->message, f->other->host_port()));
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 2);
  assert_key_only_to_api(f);
}

// ------------------------------------------------------------------ disk use

constexpr size_t kMiB = 1024 * 1024;

// A CDN announcing a terabyte: refused at its headers with the default
// max-size (4 GiB), before a byte is written, and not asked again.
void test_announced_too_big_is_refused(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  const std::string start = random_bytes(kMiB);
  f->fake->on_download = [start](int, const std::string&) -> std::optional<FakeReply> {
    FakeReply r{200, start, "video/mp4"};
    r.cut_after = start.size();
    r.content_length = 1ull << 40;
    return r;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT, "max-size");
  g_assert_true(contains(run->error->message, "1099511627776"));
  g_assert_cmpuint(run->bytes.size(), ==, 0);
  g_usleep(100 * 1000);  // a retry would come by now; a raw reply is recorded after it is sent
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 1);
}

void test_max_size_bounds_an_announced_video(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  auto run = make_run(*f->fake);
  g_object_set(run->src, "max-size", static_cast<guint64>(kMiB), nullptr);
  guint64 max_size = 0;
  g_object_get(run->src, "max-size", &max_size, nullptr);
  g_assert_cmpuint(max_size, ==, kMiB);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT, "max-size");
  g_assert_cmpuint(run->bytes.size(), ==, 0);
}

// No length announced at all: max-size stops the body as it comes.
void test_max_size_bounds_an_unannounced_video(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int, const std::string&) -> std::optional<FakeReply> {
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = video.size();
    r.until_close = true;
    return r;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "max-size", static_cast<guint64>(kMiB), nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT, "max-size");
  g_assert_cmpuint(run->bytes.size(), <=, kMiB);
}

// The first reply announces N bytes and breaks; the resume (a server ignoring
// Range, its body running until the connection closes) sends more than N: an
// error, and never more than N bytes downstream.
void test_more_than_announced_is_an_error(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  const std::string video = f->fake->video;
  const std::string longer = video + random_bytes(kMiB);
  f->fake->on_download = [video, longer](int n, const std::string&) -> std::optional<FakeReply> {
    FakeReply r{200, n == 1 ? video : longer, "video/mp4"};
    r.cut_after = n == 1 ? video.size() / 2 : longer.size();
    r.until_close = n > 1;
    return r;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
               ("more than the " + std::to_string(video.size()) + " bytes it announced").c_str());
  g_assert_cmpuint(run->bytes.size(), <=, video.size());
  g_assert_true(run->bytes == video.substr(0, run->bytes.size()));
  g_assert_true(f->fake->wait_for_count("cdn", "GET", 2, 10000));  // recorded once sent
}

// ------------------------------------------------------------------ resumes

// Entries in `dir` (the cache folder), removing them and it.
int count_and_remove(const char* dir) {
  int n = 0;
  if (GDir* d = g_dir_open(dir, 0, nullptr)) {
    while (const char* name = g_dir_read_name(d)) {
      g_autofree char* path = g_build_filename(dir, name, nullptr);
      g_unlink(path);
      n++;
    }
    g_dir_close(d);
  }
  g_rmdir(dir);
  return n;
}

// The download breaks halfway; before the resume the file at the URL is
// replaced by another of the same size. `how` scripts the resume's reply.
enum class Resume { HonoursIfRange, IgnoresIfRange, NewTotalNoEtag };

void changed_file_is_never_spliced(Fixture* f, Resume how) {
  f->fake->polls_until_done = 0;
  const std::string first = f->fake->video;
  const std::string second =
      random_bytes(how == Resume::NewTotalNoEtag ? first.size() + 5 : first.size());
  f->fake->etag = how == Resume::NewTotalNoEtag ? "" : "\"v1\"";
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_download = [fake, first, second, how](
                             int n, const std::string& range) -> std::optional<FakeReply> {
    if (n == 1) {
      FakeReply r{200, first, "video/mp4"};
      if (!fake->etag.empty()) r.headers["ETag"] = fake->etag;
      r.cut_after = first.size() / 2;
      fake->video = second;  // replaced once the first reply is on its way
      fake->etag = how == Resume::NewTotalNoEtag ? "" : "\"v2\"";
      return r;
    }
    if (how != Resume::IgnoresIfRange)
      return std::nullopt;  // the fake CDN: If-Range honoured, the new file whole
    unsigned long long start = 0;
    sscanf(range.c_str(), "bytes=%llu-", &start);
    FakeReply r{206, second.substr(start), "video/mp4"};
    r.headers["ETag"] = "\"v2\"";
    r.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" +
                                 std::to_string(second.size() - 1) + "/" +
                                 std::to_string(second.size());
    return r;
  };
  g_autofree char* cache = g_dir_make_tmp("klingsrc-cache-XXXXXX", nullptr);
  {
    auto run = make_run(*f->fake);
    g_object_set(run->src, "cache-dir", cache, nullptr);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "changed at its URL");
    g_assert_true(contains(run->error->message, "not splicing"));
    // Not one byte of the second file went downstream.
    g_assert_cmpuint(run->bytes.size(), <=, first.size() / 2);
    g_assert_true(run->bytes == first.substr(0, run->bytes.size()));
  }
  g_assert_true(f->fake->wait_for_count("cdn", "GET", 2, 10000));  // recorded once sent
  auto reqs = f->fake->requests();
  const RecordedRequest& resume = reqs.back();
  assert_str_eq(resume.range, "bytes=" + std::to_string(first.size() / 2) + "-");
  assert_str_eq(resume.if_range, how == Resume::NewTotalNoEtag ? "" : "\"v1\"");
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 2);  // a changed file is not retried
  g_assert_cmpint(count_and_remove(cache), ==, 0);       // and the cache keeps nothing of it
}

void test_changed_file_behind_if_range(Fixture* f, gconstpointer) {
  changed_file_is_never_spliced(f, Resume::HonoursIfRange);
}
void test_changed_file_with_if_range_ignored(Fixture* f, gconstpointer) {
  changed_file_is_never_spliced(f, Resume::IgnoresIfRange);
}
void test_changed_file_with_a_new_total(Fixture* f, gconstpointer) {
  changed_file_is_never_spliced(f, Resume::NewTotalNoEtag);
}

// The same file behind its ETag: the resume is a 206 and the bytes are whole.
void test_unchanged_file_resumes(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 0;
  f->fake->etag = "\"v1\"";
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n > 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.headers["ETag"] = "\"v1\"";
    r.cut_after = video.size() / 3;
    return r;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_true(run->bytes == video);
  auto reqs = f->fake->requests();
  assert_str_eq(reqs.back().if_range, "\"v1\"");
}

// ------------------------------------------------------------------ proxies

// An HTTP proxy on loopback: asks for credentials (407) until the request
// carries `user:pw`, then answers with `body` whatever the target.
class ProxyServer {
 public:
  ProxyServer(std::string body, std::string user, std::string pw) : body_(std::move(body)) {
    g_autofree char* creds = g_base64_encode(
        reinterpret_cast<const guchar*>((user + ":" + pw).data()), user.size() + pw.size() + 1);
    expected_ = std::string("Basic ") + creds;
    thread_ = serve(&server_, &url_, "127.0.0.4", handle, this);
  }
  ~ProxyServer() { thread_.reset(); }
  std::string url() const { return url_; }
  struct Seen {
    std::string host;
    bool authorized;
    bool with_key;
  };
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  static void handle(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer data) {
    auto* self = static_cast<ProxyServer*>(data);
    SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);
    const char* auth = soup_message_headers_get_one(headers, "Proxy-Authorization");
    Seen seen{g_uri_get_host(soup_server_message_get_uri(msg)), auth && auth == self->expected_,
              soup_message_headers_get_one(headers, "Authorization") != nullptr};
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->seen_.push_back(seen);
    }
    if (!seen.authorized) {
      soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                   "Proxy-Authenticate", "Basic realm=\"test\"");
      soup_server_message_set_status(msg, 407, nullptr);
      return;
    }
    soup_server_message_set_status(msg, 200, nullptr);
    soup_server_message_set_response(msg, "video/mp4", SOUP_MEMORY_COPY, self->body_.data(),
                                     self->body_.size());
  }

  const std::string body_;
  std::string expected_;
  SoupServer* server_ = nullptr;
  std::string url_;
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
  std::unique_ptr<ServerThread> thread_;
};

// Sets the environment's proxy for the scope of a test.
class EnvProxy {
 public:
  explicit EnvProxy(const std::string& url) {
    for (const char* name : kNames) {
      const char* old = g_getenv(name);
      saved_.emplace_back(old ? std::optional<std::string>(old) : std::nullopt);
      if (g_str_has_prefix(name, "no_") || g_str_has_prefix(name, "NO_"))
        g_unsetenv(name);
      else
        g_setenv(name, url.c_str(), TRUE);
    }
  }
  ~EnvProxy() {
    for (size_t i = 0; i < G_N_ELEMENTS(kNames); i++)
      if (saved_[i])
        g_setenv(kNames[i], saved_[i]->c_str(), TRUE);
      else
        g_unsetenv(kNames[i]);
  }

 private:
  static constexpr const char* kNames[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                           "all_proxy",  "no_proxy",   "NO_PROXY"};
  std::vector<std::optional<std::string>> saved_;
};

// http_proxy in the environment: the API and the CDN are on loopback, so not
// one request (nor the key) goes through the proxy.
void test_environment_proxy_never_carries_loopback(Fixture* f, gconstpointer) {
  EnvProxy env(f->other->url());
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->other->requests(), ==, 0);
}

// proxy, proxy-id and proxy-pw: a CDN on another host is reached through the
// proxy with the credentials; the API on loopback is not, and the key never
// reaches the proxy.
void test_proxy_property_carries_other_hosts(Fixture* f, gconstpointer) {
  ProxyServer proxy(f->fake->video, "user", "s3cret");
  const std::string output = "http://cdn.invalid/outputs/video.mp4";
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->polls_until_done = 0;
  f->fake->on_poll = [fake, output](int) -> std::optional<FakeReply> {
    std::string json = fake->task_json("completed");
    json.replace(json.find(fake->output_url()), fake->output_url().size(), output);
    return FakeReply{200, json};
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "proxy", proxy.url().c_str(), "proxy-id", "user", "proxy-pw", "s3cret",
               nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  auto seen = proxy.seen();
  g_assert_cmpuint(seen.size(), ==, 2);  // refused without the credentials, then served
  g_assert_false(seen[0].authorized);
  g_assert_true(seen[1].authorized);
  for (const auto& s : seen) {
    assert_str_eq(s.host, "cdn.invalid");
    g_assert_false(s.with_key);
  }
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the API directly
  GParamSpec* pw = g_object_class_find_property(G_OBJECT_GET_CLASS(run->src), "proxy-pw");
  g_assert_false(pw->flags & G_PARAM_READABLE);
}

// An HTTP proxy on loopback that answers every request (a CONNECT among them)
// 502 and closes: it cannot reach the host asked for.
class RefusingProxy {
 public:
  RefusingProxy() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    g_assert_cmpint(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), ==, 0);
    g_assert_cmpint(listen(fd_, 8), ==, 0);
    g_assert_cmpint(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), ==, 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // shut down
        std::string head;
        char buf[1024];
        while (head.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = read(c, buf, sizeof buf);
          if (n <= 0) break;
          head.append(buf, static_cast<size_t>(n));
        }
        if (head.rfind("CONNECT ", 0) == 0) connects_++;
        static const char kReply[] =
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        g_assert_cmpint(write(c, kReply, sizeof kReply - 1), ==,
                        static_cast<ssize_t>(sizeof kReply - 1));
        close(c);
      }
    });
  }
  ~RefusingProxy() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connects() const { return connects_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connects_{0};
  std::thread thread_;
};

// The API on https behind a proxy that cannot reach it: the POST never left this
// machine (no tunnel, nothing written), so no task exists. The error used to say
// "WaveSpeed refused the task" and, in its details, that the task may have been
// created: check the dashboard.
void test_proxy_refusing_the_tunnel_is_no_possible_task(Fixture*, gconstpointer) {
  RefusingProxy proxy;
  char* dir = g_dir_make_tmp("test-hostile-servers-XXXXXX", nullptr);
  g_autofree char* journal = g_build_filename(dir, "ledger.db", nullptr);
  for (int round = 1; round <= 2; round++) {
    auto run = parse_run("klingsrc name=src ! fakesink name=sink");
    g_object_set(run->src, "api-url", "https://api.wavespeed.example", "api-key", "test-key",
                 "proxy", proxy.url().c_str(), "journal", journal, "prompt", kPrompt, nullptr);
    play_to_end(*run, 20);
    g_assert_nonnull(run->error);
    g_assert_true(contains(run->error->message, "never reached WaveSpeed"));
    g_assert_false(contains(run->error->message, "WaveSpeed refused"));
    g_assert_false(contains(run->debug, "may have been created"));
    // The ledger agrees: the second run tries again, it is not refused as unanswered.
    g_assert_false(contains(run->error->message, "never got its reply"));
  }
  g_assert_cmpint(proxy.connects(), >=, 2);  // the submit of each run went to the proxy
  remove_scratch_dir(dir);
}

// The transport alone: a non-loopback URL goes through the configured proxy,
// a loopback one through none; without a proxy set, through the system's resolver.
void test_transport_proxy_only_off_loopback() {
  kling::Request request;
  request.proxy = "http://proxy.example:3128";
  kling::HttpTransport http(request);
  GProxyResolver* resolver = http.proxy_resolver_for("https://api.wavespeed.ai/api/v3/x");
  g_assert_nonnull(resolver);
  g_auto(GStrv) proxies =
      g_proxy_resolver_lookup(resolver, "https://api.wavespeed.ai/api/v3/x", nullptr, nullptr);
  g_assert_nonnull(proxies);
  g_assert_cmpstr(proxies[0], ==, "http://proxy.example:3128");
  for (const char* url :
       {"http://127.0.0.1:8080/api", "http://localhost:1/", "http://[::1]:1/", "http://127.0.0.2/"})
    g_assert_null(http.proxy_resolver_for(url));

  kling::HttpTransport plain{kling::Request{}};
  g_assert_true(plain.proxy_resolver_for("https://cdn.example/v.mp4") ==
                g_proxy_resolver_get_default());
  g_assert_null(plain.proxy_resolver_for("http://127.0.0.1:8080/api"));
}

}  // namespace

int main(int argc, char** argv) {
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/klingsrc/hostile-server/redirect/poll-is-an-immediate-error",
      test_redirected_poll_is_an_immediate_error);
  ADD("/klingsrc/hostile-server/redirect/submit-is-an-immediate-error",
      test_redirected_submit_is_an_immediate_error);
  ADD("/klingsrc/hostile-server/redirect/prediction-reread-is-an-error",
      test_redirected_prediction_reread_is_an_error);
  ADD("/klingsrc/hostile-server/disk/announced-too-big-is-refused",
      test_announced_too_big_is_refused);
  ADD("/klingsrc/hostile-server/disk/max-size-bounds-an-announced-video",
      test_max_size_bounds_an_announced_video);
  ADD("/klingsrc/hostile-server/disk/max-size-bounds-an-unannounced-video",
      test_max_size_bounds_an_unannounced_video);
  ADD("/klingsrc/hostile-server/disk/more-than-announced-is-an-error",
      test_more_than_announced_is_an_error);
  ADD("/klingsrc/hostile-server/resume/changed-file-behind-if-range-is-never-spliced",
      test_changed_file_behind_if_range);
  ADD("/klingsrc/hostile-server/resume/changed-file-with-if-range-ignored-is-never-spliced",
      test_changed_file_with_if_range_ignored);
  ADD("/klingsrc/hostile-server/resume/changed-file-with-a-new-total-is-never-spliced",
      test_changed_file_with_a_new_total);
  ADD("/klingsrc/hostile-server/resume/unchanged-file-resumes-behind-its-etag",
      test_unchanged_file_resumes);
  ADD("/klingsrc/hostile-server/proxy/environment-proxy-never-carries-loopback",
      test_environment_proxy_never_carries_loopback);
  ADD("/klingsrc/hostile-server/proxy/proxy-property-carries-other-hosts-with-credentials",
      test_proxy_property_carries_other_hosts);
  ADD("/klingsrc/hostile-server/proxy/refused-tunnel-is-no-possible-task",
      test_proxy_refusing_the_tunnel_is_no_possible_task);
  g_test_add_func("/klingsrc/hostile-server/proxy/transport-uses-a-proxy-only-off-loopback",
                  test_transport_proxy_only_off_loopback);
  return g_test_run();
}
