// SPDX-License-Identifier: LGPL-2.1-or-later
// Acceptance of issue 12, read as a new user: catalogue replies that are odd but
// legal (numbers as strings, a request schema with no properties) neither refuse a
// good request nor crash, and an `image` given as a request field (params, a
// kling:// URI) that is not an http(s) URL is refused before anything is sent.
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/net/http_transport.h"
#include "core/request/request.h"
#include "core/wavespeed/image_upload.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/submit_body.h"

using namespace kling;

namespace {

ModelSchema only_model(const char* catalogue) {
  std::string error;
  auto models = parse_catalog(catalogue, &error);
  g_assert_true(models.has_value());
  g_assert_cmpuint(models->size(), ==, 1);
  return models->front();
}

Request request_for(const char* model_id) {
  Request r;
  r.model = model_id;
  r.prompt = "a red fox";
  r.api_key = "k";
  return r;
}

// A catalogue that writes its numbers as strings ("enum": ["5", "10"] for an integer,
// "maximum": "1"): the request is checked by value, not by how the catalogue spelled it.
void test_numbers_as_strings() {
  const ModelSchema m =
      only_model(R"({"code":200,"data":[{"model_id":"kwaivgi/x","api_schema":{"api_schemas":[
    {"request_schema":{"properties":{"prompt":{"type":"string"},
      "duration":{"type":"integer","enum":["5","10"],"default":"5"},
      "cfg_scale":{"type":"number","minimum":"0","maximum":"1"}},"required":["prompt"]}}]}}]})");
  Request r = request_for("kwaivgi/x");
  r.duration = 10;
  r.duration_set = true;
  r.params.push_back({"cfg_scale", ParamValue::of(0.5)});
  SubmitBody body;
  auto error = build_submit_body(r, &m, {}, &body);
  if (error) g_test_message("refused: %s", error->message.c_str());
  g_assert_false(error.has_value());
  g_assert_nonnull(strstr(body.json.c_str(), "\"duration\":10"));

  // The range written as strings still holds.
  r.params = {{"cfg_scale", ParamValue::of(2.5)}};
  error = build_submit_body(r, &m, {}, &body);
  g_assert_true(error.has_value());
  g_assert_nonnull(strstr(error->message.c_str(), "cfg_scale"));
  // So does the enum.
  r.params.clear();
  r.duration = 7;
  g_assert_true(build_submit_body(r, &m, {}, &body).has_value());
}

// A request schema that lists no properties says nothing of the fields: the model is
// not known by it (the built-in table or the API decides), not a model taking no field.
void test_schema_without_properties() {
  std::string error;
  auto models = parse_catalog(R"({"data":[{"model_id":"kwaivgi/y","api_schema":{"api_schemas":[
    {"request_schema":{"type":"object"}}]}},
    {"model_id":"kwaivgi/z","api_schema":{"api_schemas":[{"request_schema":{"properties":{"prompt":{}},
      "required":[1, {"a":1}, null, "prompt"]}}]}}]})",
                              &error);
  g_assert_true(models.has_value());
  const ModelSchema* y = find_model(*models, "kwaivgi/y");
  if (y) {
    SubmitBody body;
    auto refused = build_submit_body(request_for("kwaivgi/y"), y, {}, &body);
    g_assert_false(refused.has_value());
  }
  // A `required` list with entries that are not names is read for the names it has.
  const ModelSchema* z = find_model(*models, "kwaivgi/z");
  g_assert_nonnull(z);
  g_assert_true(z->field("prompt") && z->field("prompt")->required);
}

// `image` as a request field bypasses the image property: a local path there would be
// sent to WaveSpeed as the image's URL (a paid task that fails, the path disclosed).
void test_image_field_must_be_a_url() {
  Request r = request_for("kwaivgi/kling-v2.1-i2v-master");
  r.params = {{"image", ParamValue::of(std::string("/home/me/secret.png"))}};
  auto error = validate(r);
  g_assert_true(error.has_value());
  g_assert_true(error->kind == ErrorKind::Settings);
  g_assert_nonnull(strstr(error->message.c_str(), "image"));
  r.params = {{"image", ParamValue::of(std::string("file:///home/me/secret.png"))}};
  g_assert_true(validate(r).has_value());
  r.params = {{"image", ParamValue::of(std::string("https://example.com/fox.png"))}};
  g_assert_false(validate(r).has_value());
}

// The image is read again for its upload: a file that grew past the limit since start()
// checked it is refused without reading it whole (a 1 GiB file under a 512 MiB address
// space: a whole read cannot even allocate).
void test_upload_reads_a_bounded_image() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's shadow memory alone needs terabytes of address space.
  g_test_skip("an address-space limit cannot be set under a sanitizer");
  return;
#endif
  if (g_test_subprocess()) {
    const char* file = g_getenv("ACCEPT12_FILE");
    struct rlimit lim = {512u << 20, 512u << 20};
    g_assert_cmpint(setrlimit(RLIMIT_AS, &lim), ==, 0);
    Request r = request_for("kwaivgi/kling-v2.1-i2v-master");
    r.api_url = "http://127.0.0.1:9";  // never reached
    r.image = file;
    r.image_file = file;
    r.image_sha256 = std::string(64, '0');
    HttpTransport http(r);
    std::string url;
    Error error;
    auto outcome = ImageUploader(r, g_getenv("ACCEPT12_DIR"))
                       .upload(
                           http, nullptr, [](bool, const std::string&) {},
                           [](unsigned) { return false; }, &url, &error);
    g_assert_true(outcome == ImageUploader::Outcome::Failed);
    g_test_message("%s", error.message.c_str());
    g_assert_nonnull(strstr(error.message.c_str(), "changed since the pipeline started"));
    return;
  }
  g_autofree char* dir = g_dir_make_tmp("accept12-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, "grew.png", nullptr);
  FILE* f = g_fopen(path, "wb");
  g_assert_nonnull(f);
  g_assert_cmpint(ftruncate(fileno(f), 1LL << 30), ==, 0);  // sparse: no disk used
  fclose(f);
  g_setenv("ACCEPT12_FILE", path, TRUE);
  g_setenv("ACCEPT12_DIR", dir, TRUE);
  g_test_trap_subprocess(nullptr, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unlink(path);
  g_rmdir(dir);
  g_test_trap_assert_passed();
}

// A model no catalogue describes gets params as given: a value JSON cannot hold (NaN)
// is a SETTINGS error, not a json-glib critical (fatal under G_DEBUG=fatal-criticals).
void test_untyped_nan_is_refused() {
  if (g_test_subprocess()) {
    g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
    Request r = request_for("kwaivgi/unlisted");
    r.params = {{"strength", ParamValue::of(std::nan(""))}};
    SubmitBody body;
    auto error = build_submit_body(r, nullptr, {}, &body);
    g_assert_true(error.has_value());
    g_assert_true(error->kind == ErrorKind::Settings);
    g_assert_nonnull(strstr(error->message.c_str(), "strength"));
    return;
  }
  g_test_trap_subprocess(nullptr, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed();
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/accept12/catalog/numbers-as-strings", test_numbers_as_strings);
  g_test_add_func("/accept12/catalog/schema-without-properties", test_schema_without_properties);
  g_test_add_func("/accept12/params/image-field-must-be-a-url", test_image_field_must_be_a_url);
  g_test_add_func("/accept12/upload/bounded-read", test_upload_reads_a_bounded_image);
  g_test_add_func("/accept12/params/untyped-nan-refused", test_untyped_nan_is_refused);
  return g_test_run();
}
