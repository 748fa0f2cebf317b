// SPDX-License-Identifier: LGPL-2.1-or-later
// Every JSON the core reads from the network or the disk, fed what is not exactly
// one JSON value: each reader gives a clear error, never an abort or a critical
// (g_test_init makes a critical or a warning fatal). json-glib alone takes `1 {}`:
// 1.6 keeps the `1`, 1.10 makes an array of both, and with an immutable parser
// asserts in json_parser_get_root; `[[[...` 200000 deep overflows 1.6's stack.
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <string>
#include <vector>

#include "core/request/request.h"
#include "core/storage/cache_paths.h"
#include "core/storage/video_cache.h"
#include "core/util/json_util.h"
#include "core/wavespeed/api_client.h"
#include "core/wavespeed/catalog_loader.h"
#include "core/wavespeed/image_upload.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/pricing.h"
#include "core/wavespeed/submit_body.h"
#include "support/assert_str.h"
#include "support/catalog_fixture.h"

using namespace kling;

namespace {

// A value followed by more JSON (tests/fuzz/corpus has them as replies too).
const std::vector<std::string> kTrailing = {
    "1 {}",
    "\"a\" []",
    "true 1",
    "null {\"a\":1}",
    "{} {}",
    "[] x",
    "[] []",
    "0 0",
    "false null",
    "\"a\" \"b\"",
    "1 [",
    "{\"code\":200,\"data\":{}} {}",
    "{\"code\":200,\"data\":{}}\n{\"code\":500}",
};

// What json-glib takes or mangles although it is no JSON, and what kills it.
std::vector<std::string> not_json() {
  std::vector<std::string> v = {
      "",
      " \n",
      "{\"a\":\"\\udc00\"}",                     // 1.6: invalid UTF-8 in the tree
      "{\"a\":\"\\ud800\"}",                     // a lone high surrogate
      "{\"a\":123456789012345678901234567890}",  // 1.6: read as -1
      "{\"a\":1}/* comment */",
      "var a = {\"a\":1};",
      "{'a':1}",
      "{\"a\":0x10}",
      "[1,]",
      std::string("{\"a\":1}\0", 8),
  };
  v.push_back(std::string(200000, '[') + std::string(200000, ']'));  // 1.6: a stack overflow
  return v;
}

std::vector<std::string> all_bad() {
  std::vector<std::string> v = kTrailing;
  for (auto& s : not_json()) v.push_back(s);
  return v;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-json-XXXXXX", nullptr);
  g_assert_nonnull(dir);
  return dir;
}

void write_file(const std::string& path, const std::string& bytes) {
  g_autofree char* dir = g_path_get_dirname(path.c_str());
  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  g_assert_true(
      g_file_set_contents(path.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr));
}

// ------------------------------------------------------------------ the one parser

void test_parse_one_value_only() {
  for (const auto& text : kTrailing) {
    std::string error;
    g_autoptr(JsonNode) node = json::parse(text, &error);
    g_assert_null(node);
    g_assert_true(starts_with(error, "not JSON: more after the first value") ||
                  starts_with(error, "not JSON: an array not closed"));
  }
  std::string error;
  g_autoptr(JsonNode) node = json::parse(
      "\xEF\xBB\xBF {\"a\" : [1, -2.5e-3, true, null, \"\\ud83d\\ude00\"]}\r\n", &error);
  g_assert_nonnull(node);
  g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
  g_autofree char* text = json_to_string(node, FALSE);
  assert_str_eq(text, "{\"a\":[1,-0.0025000000000000001,true,null,\"\xF0\x9F\x98\x80\"]}");
}

void test_parse_refuses_what_json_glib_mangles() {
  const char* const expected[] = {
      "not JSON: empty",
      "not JSON: only white space",
      "not JSON: a lone low surrogate",
      "not JSON: a lone high surrogate",
      "not JSON: an integer beyond 64 bits",
      "not JSON: more after the first value",
      "not JSON: an unexpected character",
      "not JSON: a member without a quoted name",
      "not JSON: an object not closed by '}'",
      "not JSON: an unexpected character",
      "not JSON: a NUL byte",
      "not JSON: nested too deep",
  };
  const auto inputs = not_json();
  g_assert_cmpuint(inputs.size(), ==, G_N_ELEMENTS(expected));
  for (size_t i = 0; i < inputs.size(); i++) {
    std::string error;
    g_autoptr(JsonNode) node = json::parse(inputs[i], &error);
    g_assert_null(node);
    if (!starts_with(error, expected[i]))
      g_error("input %zu: \"%s\", expected \"%s\"", i, error.c_str(), expected[i]);
  }
  // 128 levels are read, 129 are not; the limit is the only one below json-glib's.
  std::string error;
  g_autoptr(JsonNode) deep = json::parse(std::string(128, '[') + std::string(128, ']'), &error);
  g_assert_nonnull(deep);
  g_assert_null(json::parse(std::string(129, '[') + std::string(129, ']'), &error));
}

// ------------------------------------------------------------------ replies from the network

void test_api_replies() {
  for (const auto& body : all_bad()) {
    api::Reply ok = api::parse_reply(200, body);
    g_assert_true(ok.kind == api::ReplyKind::Malformed);
    g_assert_true(ok.task.id.empty());
    g_assert_false(ok.message.empty());
    api::Reply gateway = api::parse_reply(502, body);
    g_assert_true(gateway.kind == api::ReplyKind::Gateway);
  }
  // A whole task reply with more after it is no task: never followed, never downloaded.
  const std::string task =
      R"({"code":200,"data":{"id":"t1","status":"completed","outputs":["https://c/v.mp4"]}})";
  g_assert_true(api::parse_reply(200, task).kind == api::ReplyKind::Task);
  g_assert_true(api::parse_reply(200, task + " {}").kind == api::ReplyKind::Malformed);
  g_assert_true(api::parse_reply(200, "1 " + task).kind == api::ReplyKind::Malformed);
}

void test_catalogue_reply() {
  for (const auto& body : all_bad()) {
    std::string error;
    g_assert_false(parse_catalog(body, &error).has_value());
    g_assert_true(starts_with(error, "not JSON"));
  }
  std::string error;
  g_assert_true(parse_catalog(kCatalog, &error).has_value());
  g_assert_false(parse_catalog(std::string(kCatalog) + " []", &error).has_value());
}

void test_quote_and_balance() {
  const std::string price = R"({"code":200,"data":{"price":0.4,"currency":"USD"}})";
  const std::string balance = R"({"code":200,"data":{"balance":12.5}})";
  std::string why;
  g_assert_true(money::parse_price(200, price, &why).has_value());
  g_assert_true(money::parse_balance(200, balance, &why).has_value());
  std::vector<std::string> bodies = all_bad();
  bodies.push_back(price + " {}");
  bodies.push_back(balance + " 1");
  for (const auto& body : bodies) {
    why.clear();
    g_assert_false(money::parse_price(200, body, &why).has_value());
    g_assert_false(why.empty());
    why.clear();
    g_assert_false(money::parse_balance(200, body, &why).has_value());
    g_assert_false(why.empty());
  }
}

void test_upload_ticket() {
  const std::string ticket =
      R"({"code":200,"data":{"download_url":"https://c/x","upload":{"url":"https://s/y"}}})";
  std::string error;
  g_assert_true(parse_upload_ticket(ticket, &error).has_value());
  std::vector<std::string> bodies = all_bad();
  bodies.push_back(ticket + " {}");
  for (const auto& body : bodies) {
    error.clear();
    g_assert_false(parse_upload_ticket(body, &error).has_value());
    g_assert_true(starts_with(error, "the upload ticket is not JSON"));
  }
}

// ------------------------------------------------------------------ files on the disk

// A catalogue cached on disk that does not read is as no cache: the built-in table answers.
void test_catalogue_on_disk() {
  const std::string dir = temp_dir();
  ModelCatalogue catalogue("http://127.0.0.1:9", dir);
  write_file(catalogue.path(), kCatalog);
  g_assert_true(catalogue.offline(kUnknownModel).has_value());  // the control: a good file is read
  for (const auto& text : all_bad()) {
    write_file(catalogue.path(), text);
    g_assert_false(catalogue.offline(kUnknownModel).has_value());
    g_assert_true(catalogue.offline(kDefaultModel).has_value());
  }
}

// A cache entry whose trailer is not one JSON object is a miss.
void test_cache_trailer() {
  const std::string dir = temp_dir();
  VideoCache cache(dir);
  const std::string fingerprint(64, 'a');
  const std::string video = "not really a video, but bytes";
  auto entry = [&](const std::string& trailer) {
    std::string tail(16, '\0');
    uint64_t len = trailer.size();
    for (int i = 0; i < 8; i++) tail[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    tail.replace(8, 8, "KLINGC01");
    write_file(dir + "/" + fingerprint + VideoCache::kExtension, video + trailer + tail);
  };
  g_autofree char* sha =
      g_compute_checksum_for_string(G_CHECKSUM_SHA256, video.data(), video.size());
  const std::string good = std::string(R"({"fingerprint":")") + fingerprint +
                           R"(","id":"t1","size":)" + std::to_string(video.size()) +
                           R"(,"sha256":")" + sha + "\"}";
  std::string task_id, sha256;
  entry(good);
  g_assert_nonnull(cache.open_unverified(fingerprint, &task_id, &sha256));  // the control
  assert_str_eq(task_id, "t1");
  std::vector<std::string> trailers = all_bad();
  trailers.push_back(good + " {}");
  trailers.push_back("1 " + good);
  for (const auto& trailer : trailers) {
    if (trailer.empty()) continue;  // an empty trailer is refused by its length before any parsing
    entry(trailer);
    g_assert_null(cache.open_unverified(fingerprint, &task_id, &sha256));
  }
}

// The record of an earlier upload that does not read is as none: the image is uploaded again.
void test_upload_record() {
  const std::string dir = temp_dir();
  Request r;
  r.api_url = "http://127.0.0.1:9";
  r.image_sha256 = std::string(64, 'b');
  ImageUploader uploader(r, dir);
  int64_t age = 0;
  for (const auto& text : all_bad()) {
    write_file(uploader.record_path(), text);
    g_assert_false(uploader.remembered(&age).has_value());
  }
  const std::string record = "{\"download_url\":\"https://c/x\",\"time\":" +
                             std::to_string(g_get_real_time() / G_USEC_PER_SEC) + "}";
  write_file(uploader.record_path(), record);
  g_assert_true(uploader.remembered(&age).has_value());  // the control
  write_file(uploader.record_path(), record + " {}");
  g_assert_false(uploader.remembered(&age).has_value());
}

// ------------------------------------------------------------------ what the user writes

// A params value for an object field is JSON text the user typed: one object or a SETTINGS error.
void test_params_object_field() {
  std::string error;
  auto models = parse_catalog(kCatalog, &error);
  g_assert_true(models.has_value());
  const ModelSchema* schema = find_model(*models, kUnknownModel);
  g_assert_nonnull(schema);
  for (const auto& text :
       std::vector<std::string>{"{} {}", "{\"zoom\":2} 1", "1 {}", "{\"zoom\":2}/**/"}) {
    Request r;
    r.model = kUnknownModel;
    r.prompt = "a fox";
    r.params = {{"mode", ParamValue::of(std::string("pro"))},
                {"camera_control", ParamValue::of(text)}};
    SubmitBody body;
    auto refused = build_submit_body(r, schema, {}, &body);
    g_assert_true(refused.has_value());
    g_assert_true(refused->kind == ErrorKind::Settings);
    g_assert_nonnull(strstr(refused->message.c_str(), "camera_control"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/json/parse/one-value-only", test_parse_one_value_only);
  g_test_add_func("/json/parse/refuses-what-json-glib-mangles",
                  test_parse_refuses_what_json_glib_mangles);
  g_test_add_func("/json/network/api-replies", test_api_replies);
  g_test_add_func("/json/network/catalogue", test_catalogue_reply);
  g_test_add_func("/json/network/quote-and-balance", test_quote_and_balance);
  g_test_add_func("/json/network/upload-ticket", test_upload_ticket);
  g_test_add_func("/json/disk/catalogue-cache", test_catalogue_on_disk);
  g_test_add_func("/json/disk/cache-entry-trailer", test_cache_trailer);
  g_test_add_func("/json/disk/upload-record", test_upload_record);
  g_test_add_func("/json/user/params-object-field", test_params_object_field);
  return g_test_run();
}
