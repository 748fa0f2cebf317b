// SPDX-License-Identifier: LGPL-2.1-or-later
// Every error the element posts: settings refused before any request, the
// API's refusals with its own words, a failed task with its id and code, replies
// it cannot read; each with the right GStreamer domain and code.
#include <gst/gst.h>

#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_missing_prompt(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake, kFakeSinkPipeline, nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "prompt");
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_missing_key(Fixture* f, gconstpointer) {
  g_unsetenv("WAVESPEED_API_KEY");
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-key", "", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "API key");
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_bad_duration(Fixture* f, gconstpointer) {
  g_autoptr(GError) error = nullptr;
  GstElement* p = gst_parse_launch("klingsrc prompt=x duration=7 ! fakesink", &error);
  g_assert_error(error, GST_PARSE_ERROR, GST_PARSE_ERROR_COULD_NOT_SET_PROPERTY);
  if (p) gst_object_unref(p);
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_plain_http_key_refused(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-url", "http://api.wavespeed.example", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "plain http");
  g_assert_false(contains(run->error->message, f->fake->key));
}

void test_401(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-key", "wrong-key", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Invalid API key");
  g_assert_false(contains(run->error->message, "wrong-key"));
  g_assert_false(contains(run->debug, "wrong-key"));
}

void test_403(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{403, R"({"code":403,"message":"Account suspended"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Account suspended");
}

void test_400_bare_error(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{400, R"({"error":"prompt must not be empty"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "prompt must not be empty");
}

void test_submit_gateway_not_retried(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{502, "<html><h1>502 Bad Gateway</h1></html>", "text/html"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "502 Bad Gateway");
  // The POST may have created a task: a second one could bill twice.
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_error_envelope_inside_200(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, R"({"code":401,"message":"token expired"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "token expired");
  g_assert_true(contains(run->debug, f->fake->task_id));
}

void test_failed_task_input_fault(Fixture* f, gconstpointer) {
  f->fake->final_status = "failed";
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, f->fake->fail_error.c_str());
  g_assert_true(contains(run->error->message, "1200"));
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_true(contains(run->debug, f->fake->task_id));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 0);
}

void test_failed_task_transient(Fixture* f, gconstpointer) {
  f->fake->final_status = "failed";
  f->fake->fail_code = 5003;
  f->fake->fail_error = "service unavailable";
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "service unavailable");
  g_assert_true(contains(run->debug, "transient"));
}

void test_malformed_poll_reply(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, "{\"code\":200,\"data\":{\"id\":"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Unreadable");
  g_assert_true(contains(run->debug, f->fake->task_id));
}

// A whole "completed" reply with more JSON after it is no reply: json-glib 1.6 took its
// first value (and the video was fetched), 1.10 aborted the process. An error naming the task.
void test_poll_reply_with_more_after_it(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int) -> std::optional<FakeReply> {
    return FakeReply{200, fake->task_json("completed") + " {}"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Unreadable");
  g_assert_true(contains(run->debug, f->fake->task_id));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_output_404(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{404, "gone", "text/plain"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, f->fake->task_id.c_str());
  g_assert_true(contains(run->debug, f->fake->task_id));
  // The prediction was read again for a fresh URL before giving up.
  g_assert_cmpint(f->fake->count("api", "GET"), ==, f->fake->polls_until_done + 2);
}

void test_final_statuses_cancelled_and_timeout(Fixture* f, gconstpointer) {
  for (const char* status : {"cancelled", "timeout"}) {
    FakeWaveSpeed fake;
    fake.video = "x";
    fake.final_status = status;
    auto run = make_run(fake);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, status);
    g_assert_true(contains(run->error->message, fake.task_id));
    g_assert_cmpint(fake.count("cdn", "GET"), ==, 0);
  }
  (void)f;
}

void test_output_must_be_http(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int n) -> std::optional<FakeReply> {
    if (n < 2) return std::nullopt;
    std::string json = fake->task_json("completed");
    json.replace(json.find(fake->output_url()), fake->output_url().size(), "file:///etc/passwd");
    return FakeReply{200, json};
  };
  f->fake->polls_until_done = 1;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "not an http(s) URL");
}

void test_oversized_reply_refused(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200,
                     "{\"code\":200,\"message\":\"" + std::string(5 * 1024 * 1024, 'a') + "\"}"};
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "retries", 1u, nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "larger than 4 MiB");
}

void test_failed_task_beside_5xxx_code(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200,
                     R"({"code":5003,"message":"service unavailable","data":{"id":"task-0123abcd",)"
                     R"("status":"failed","error":"GPU pool unavailable","code":5003}})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "GPU pool unavailable");
  g_assert_true(contains(run->error->message, "5003"));
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/error/missing-prompt-before-any-request", test_missing_prompt);
  add_case("/klingsrc/error/missing-key-before-any-request", test_missing_key);
  add_case("/klingsrc/error/bad-duration-refused-by-parser", test_bad_duration);
  add_case("/klingsrc/error/key-over-plain-http-refused", test_plain_http_key_refused);
  add_case("/klingsrc/error/401-not-authorized", test_401);
  add_case("/klingsrc/error/403-not-authorized", test_403);
  add_case("/klingsrc/error/400-bare-error-body", test_400_bare_error);
  add_case("/klingsrc/error/submit-gateway-page-not-retried", test_submit_gateway_not_retried);
  add_case("/klingsrc/error/error-envelope-inside-200", test_error_envelope_inside_200);
  add_case("/klingsrc/error/task-failed-input-fault", test_failed_task_input_fault);
  add_case("/klingsrc/error/task-failed-transient", test_failed_task_transient);
  add_case("/klingsrc/error/malformed-json", test_malformed_poll_reply);
  add_case("/klingsrc/error/reply-with-more-json-after-it", test_poll_reply_with_more_after_it);
  add_case("/klingsrc/error/output-404-not-found", test_output_404);
  add_case("/klingsrc/error/cancelled-and-timeout-are-final",
           test_final_statuses_cancelled_and_timeout);
  add_case("/klingsrc/error/output-url-must-be-http", test_output_must_be_http);
  add_case("/klingsrc/error/oversized-reply-refused", test_oversized_reply_refused);
  add_case("/klingsrc/error/failed-task-beside-a-5xxx-code-keeps-its-own-error",
           test_failed_task_beside_5xxx_code);
  return g_test_run();
}
