// SPDX-License-Identifier: LGPL-2.1-or-later
// The API client on its own: request building and every reply shape, on strings.
#include <json-glib/json-glib.h>

#include "core/request/kling_uri.h"
#include "core/request/request.h"
#include "core/wavespeed/api_client.h"
#include "support/assert_str.h"

using namespace kling;

static JsonObject* parse_object(JsonParser* parser, const std::string& text) {
  g_assert_true(json_parser_load_from_data(parser, text.c_str(), -1, nullptr));
  return json_node_get_object(json_parser_get_root(parser));
}

static void test_body_prompt_exact() {
  Request r;
  r.prompt = "a \"red\" fox\\ in\nsnow \xF0\x9F\xA6\x8A \xE9\x9B\xAA\t</script>";
  r.duration = 10;
  r.aspect_ratio = "9:16";
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = parse_object(parser, api::build_submit_body(r));
  g_assert_cmpstr(json_object_get_string_member(o, "prompt"), ==, r.prompt.c_str());
  JsonNode* duration = json_object_get_member(o, "duration");
  g_assert_cmpint(json_node_get_value_type(duration), ==, G_TYPE_INT64);
  g_assert_cmpint(json_node_get_int(duration), ==, 10);
  g_assert_cmpstr(json_object_get_string_member(o, "aspect_ratio"), ==, "9:16");
  g_assert_false(json_object_has_member(o, "negative_prompt"));
  g_assert_cmpuint(json_object_get_size(o), ==, 3);
}

static void test_body_negative_prompt_when_set() {
  Request r;
  r.prompt = "p";
  r.negative_prompt = "blur";
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = parse_object(parser, api::build_submit_body(r));
  g_assert_cmpstr(json_object_get_string_member(o, "negative_prompt"), ==, "blur");
}

static void test_urls() {
  assert_str_eq(api::submit_url("https://api.wavespeed.ai/", "kwaivgi/kling-v2.0-t2v-master"),
                "https://api.wavespeed.ai/api/v3/kwaivgi/kling-v2.0-t2v-master");
  assert_str_eq(api::result_url("http://127.0.0.1:8080", "abc"),
                "http://127.0.0.1:8080/api/v3/predictions/abc/result");
  g_assert_true(api::same_origin("https://api.wavespeed.ai/x", "https://API.wavespeed.ai:443/y"));
  g_assert_false(api::same_origin("https://api.wavespeed.ai/x", "https://cdn.wavespeed.ai/x"));
  g_assert_false(api::same_origin("http://127.0.0.1:1/x", "http://127.0.0.1:2/x"));
  g_assert_false(api::same_origin("http://api.wavespeed.ai/x", "https://api.wavespeed.ai/x"));
  g_assert_true(kling::is_http_url("https://cdn.example/v.mp4"));
  g_assert_false(kling::is_http_url("file:///etc/passwd"));
  g_assert_false(kling::is_http_url("not a url"));
}

static void test_parse_submit_reply() {
  api::Reply r = api::parse_reply(
      200,
      R"({"code":200,"message":"success","data":{"id":"t1","model":"m","outputs":[],
          "urls":{"get":"https://api.wavespeed.ai/api/v3/predictions/t1/result"},
          "has_nsfw_contents":[],"status":"created","created_at":"2023-04-01T12:34:56.789Z",
          "error":"","timings":{"inference":0}}})");
  g_assert_true(r.kind == api::ReplyKind::Task);
  assert_str_eq(r.task.id, "t1");
  assert_str_eq(r.task.status, "created");
  assert_str_eq(r.task.get_url, "https://api.wavespeed.ai/api/v3/predictions/t1/result");
}

static void test_parse_completed() {
  api::Reply r =
      api::parse_reply(200,
                       R"({"code":200,"message":"success","data":{"id":"t1","status":"completed",
          "outputs":["https://cdn.example/a.mp4"],"has_nsfw_contents":[true],
          "timings":{"inference":61234.0}}})");
  g_assert_true(r.kind == api::ReplyKind::Task);
  g_assert_cmpuint(r.task.outputs.size(), ==, 1);
  assert_str_eq(r.task.outputs[0], "https://cdn.example/a.mp4");
  g_assert_true(r.task.has_nsfw_contents.at(0));
  g_assert_cmpint(r.task.inference_ms, ==, 61234);
  g_assert_true(api::is_final_status(r.task.status));
}

static void test_http_output() {
  auto reply = [](const char* outputs) {
    return api::parse_reply(
        200, std::string(R"({"code":200,"data":{"id":"t1","status":"completed","outputs":)") +
                 outputs + "}}");
  };
  assert_str_eq(api::http_output(reply(R"(["https://cdn.example/a.mp4","http://b"])")).value_or(""),
                "https://cdn.example/a.mp4");
  g_assert_false(api::http_output(reply("[]")).has_value());
  g_assert_false(api::http_output(reply(R"(["file:///etc/passwd"])")).has_value());
  g_assert_false(
      api::http_output(api::parse_reply(404, R"({"code":404,"message":"gone"})")).has_value());
}

static void test_parse_failed_task() {
  api::Reply r =
      api::parse_reply(200,
                       R"({"code":200,"message":"success","data":{"id":"t1","status":"failed",
          "error":"prompt flagged","code":1200,"outputs":[]}})");
  g_assert_true(r.kind == api::ReplyKind::Task);
  assert_str_eq(r.task.error, "prompt flagged");
  g_assert_cmpint(r.task.code, ==, 1200);
  g_assert_true(api::is_input_fault(r.task.code));
  g_assert_false(api::is_input_fault(5003));
}

static void test_parse_error_shapes() {
  api::Reply envelope = api::parse_reply(401, R"({"code":401,"message":"Invalid API key"})");
  g_assert_true(envelope.kind == api::ReplyKind::ApiError);
  assert_str_eq(envelope.message, "Invalid API key");
  g_assert_cmpint(envelope.api_code, ==, 401);

  api::Reply bare = api::parse_reply(400, R"({"error":"prompt is required"})");
  g_assert_true(bare.kind == api::ReplyKind::ApiError);
  assert_str_eq(bare.message, "prompt is required");

  api::Reply gateway = api::parse_reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  g_assert_true(gateway.kind == api::ReplyKind::Gateway);
  assert_str_eq(gateway.message, "502 Bad Gateway");

  // A gateway page that is not UTF-8 still gives its text.
  api::Reply latin1 = api::parse_reply(503,
                                       "<html><body>\xe9"
                                       "chec:\n  Service   Unavailable</body></html>");
  g_assert_true(latin1.kind == api::ReplyKind::Gateway);
  g_assert_nonnull(strstr(latin1.message.c_str(), "Service Unavailable"));
  g_assert_true(g_utf8_validate(latin1.message.c_str(), -1, nullptr));

  // An error envelope inside an HTTP 200 is an error.
  api::Reply inside = api::parse_reply(200, R"({"code":401,"message":"token expired"})");
  g_assert_true(inside.kind == api::ReplyKind::ApiError);
  g_assert_cmpint(inside.api_code, ==, 401);
  assert_str_eq(inside.message, "token expired");
}

static void test_parse_malformed() {
  for (const char* body :
       {"", "not json", "{\"code\":200", "[1,2]", "{\"code\":200,\"data\":{}}",
        "{\"code\":200,\"data\":[]}", "{\"data\":{\"id\":true}}", "{\"data\":{\"id\":1e300}}"}) {
    api::Reply r = api::parse_reply(200, body);
    g_assert_true(r.kind == api::ReplyKind::Malformed);
  }
  // An embedded NUL is not JSON, whatever follows it.
  std::string nul("{\"code\":200}\0junk", 17);
  g_assert_true(api::parse_reply(200, nul).kind == api::ReplyKind::Malformed);
}

// Odd but legal: what a paid task's reply may look like must not lose its id.
static void test_parse_odd_but_legal() {
  api::Reply numeric =
      api::parse_reply(200, R"({"code":200,"data":{"id":12345,"status":"CREATED"}})");
  g_assert_true(numeric.kind == api::ReplyKind::Task);
  assert_str_eq(numeric.task.id, "12345");
  assert_str_eq(numeric.task.status, "created");

  api::Reply no_status = api::parse_reply(200, R"({"code":200,"data":{"id":"t1"}})");
  g_assert_true(no_status.kind == api::ReplyKind::Task);
  assert_str_eq(no_status.task.id, "t1");

  // A server-side code beside a task still running: keep polling.
  api::Reply waiting = api::parse_reply(
      200,
      R"({"code":5004,"message":"sync wait timed out","data":{"id":"t1","status":"processing"}})");
  g_assert_true(waiting.kind == api::ReplyKind::Task);
  // ...and beside a failed task, whose own error and code say more.
  api::Reply failed = api::parse_reply(
      200,
      R"({"code":5003,"message":"service unavailable","data":{"id":"t1","status":"failed","error":"GPU pool unavailable","code":5003}})");
  g_assert_true(failed.kind == api::ReplyKind::Task);
  assert_str_eq(failed.task.error, "GPU pool unavailable");
  g_assert_cmpint(failed.task.code, ==, 5003);
  // ...but not beside a client-side code.
  g_assert_true(api::parse_reply(
                    200, R"({"code":401,"message":"x","data":{"id":"t1","status":"processing"}})")
                    .kind == api::ReplyKind::ApiError);

  api::Reply completed = api::parse_reply(
      200,
      R"({"code":"200","data":{"id":"t1","status":"Completed","outputs":["https://a/1.mp4","https://a/2.mp4"],"extra":{"x":1}}})");
  g_assert_true(completed.kind == api::ReplyKind::Task);
  g_assert_true(api::is_final_status(completed.task.status));
  g_assert_cmpuint(completed.task.outputs.size(), ==, 2);

  api::Reply objects = api::parse_reply(
      200,
      R"({"code":200,"data":{"id":"t1","status":"completed","outputs":[{"url":"https://a/1.mp4"}],"error":null,"code":null}})");
  g_assert_true(objects.kind == api::ReplyKind::Task);
  assert_str_eq(objects.task.outputs.at(0), "https://a/1.mp4");
}

static void test_retry_after() {
  g_assert_cmpuint(api::parse_retry_after("7", 0).value(), ==, 7);
  g_assert_false(api::parse_retry_after("soon", 0).has_value());
  g_assert_false(api::parse_retry_after(nullptr, 0).has_value());
  // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
  g_assert_cmpuint(api::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770).value(), ==,
                   7);
}

static void test_validate() {
  Request r;
  r.api_key = "k";
  g_assert_true(validate(r).has_value());  // no prompt
  r.prompt = "p";
  g_assert_false(validate(r).has_value());
  r.api_key.clear();
  auto e = validate(r);
  g_assert_true(e && e->kind == ErrorKind::Settings);
  g_assert_nonnull(strstr(e->message.c_str(), "API key"));
  r.api_key = "k";
  r.prompt = std::string(2500, 'a');
  g_assert_false(validate(r).has_value());
  r.prompt = std::string(2501, 'a');
  g_assert_true(validate(r).has_value());
  // 2500 characters, not bytes.
  std::string fox;
  for (int i = 0; i < 2500; i++) fox += "\xF0\x9F\xA6\x8A";
  r.prompt = fox;
  g_assert_false(validate(r).has_value());
  r.prompt = "p";
  r.duration = 7;
  g_assert_true(validate(r).has_value());
  r.duration = 5;
  r.api_url = "http://api.example.com";
  e = validate(r);
  g_assert_true(e.has_value());
  g_assert_null(strstr(e->message.c_str(), "k\""));
  r.api_url = "http://127.0.0.1:9";
  g_assert_false(validate(r).has_value());
  r.model = "../etc";
  g_assert_true(validate(r).has_value());
}

static void test_fingerprint() {
  Request a, b;
  a.prompt = "ab";
  a.negative_prompt = "c";
  b.prompt = "a";
  b.negative_prompt = "bc";
  g_assert_true(a.fingerprint() != b.fingerprint());
  // The account is part of the identity (as a hash: the key is not in it), and so is the variation.
  a.api_key = "sk-one";
  b = a;
  assert_str_eq(a.fingerprint(), b.fingerprint());
  b.api_key = "sk-other";
  g_assert_true(a.fingerprint() != b.fingerprint());
  g_assert_true(a.account() != b.account());
  g_assert_true(a.fingerprint().find("sk-one") == std::string::npos);
  b = a;
  b.variation = 1;
  g_assert_true(a.fingerprint() != b.fingerprint());
}

static void test_uri() {
  std::string error;
  auto u = parse_kling_uri(
      "kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20red%20fox&duration=10&aspect-ratio=1:1",
      &error);
  g_assert_true(u.has_value());
  assert_str_eq(u->model, "kwaivgi/kling-v2.1-t2v-master");
  g_assert_cmpuint(u->params.size(), ==, 3);
  assert_str_eq(u->params[0].second, "a red fox");
  auto d = parse_kling_uri("kling://?prompt=x", &error);
  assert_str_eq(d->model, kDefaultModel);
  g_assert_false(parse_kling_uri("kling:///?api-key=secret", &error).has_value());
  g_assert_false(parse_kling_uri("kling:///?api-url=http://evil", &error).has_value());
  g_assert_false(parse_kling_uri("http://x/?prompt=a", &error).has_value());
  auto back = parse_kling_uri(format_kling_uri(*u).c_str(), &error);
  assert_str_eq(back->params[0].second, "a red fox");
}

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/core/api/body/prompt-sent-exactly-duration-as-integer", test_body_prompt_exact);
  g_test_add_func("/core/api/body/negative-prompt-only-when-set",
                  test_body_negative_prompt_when_set);
  g_test_add_func("/core/api/urls-and-origins", test_urls);
  g_test_add_func("/core/api/parse/submit-reply", test_parse_submit_reply);
  g_test_add_func("/core/api/parse/completed-outputs-nsfw-timings", test_parse_completed);
  g_test_add_func("/core/api/parse/failed-task-keeps-error-and-code", test_parse_failed_task);
  g_test_add_func("/core/api/parse/three-error-shapes-and-error-inside-200",
                  test_parse_error_shapes);
  g_test_add_func("/core/api/parse/malformed-replies", test_parse_malformed);
  g_test_add_func("/core/api/parse/odd-but-legal-replies", test_parse_odd_but_legal);
  g_test_add_func("/core/api/retry-after-seconds-and-date", test_retry_after);
  g_test_add_func("/core/api/http-output-only-an-http-url", test_http_output);
  g_test_add_func("/core/request/validate-before-any-network", test_validate);
  g_test_add_func("/core/request/fingerprint-ignores-key", test_fingerprint);
  g_test_add_func("/core/uri/kling-scheme", test_uri);
  return g_test_run();
}
