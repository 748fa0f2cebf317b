// SPDX-License-Identifier: LGPL-2.1-or-later
// The core's model catalogue (odd but legal ones too), submit bodies checked
// against a model's schema, params, local images and their upload (a file that
// grew is not read whole): on strings, and against the fake WaveSpeed (API, CDN,
// storage) on loopback. No GStreamer pipeline.
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <utime.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "core/net/http_transport.h"
#include "core/request/request.h"
#include "core/util/gobject_ref.h"
#include "core/wavespeed/api_client.h"
#include "core/wavespeed/catalog_loader.h"
#include "core/wavespeed/image_upload.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/submit_body.h"
#include "support/assert_str.h"
#include "support/catalog_fixture.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

using namespace kling;

namespace {

std::vector<ModelSchema> catalog() {
  std::string error;
  auto models = parse_catalog(kCatalog, &error);
  g_assert_true(models.has_value());
  return *models;
}

const ModelSchema& model(const std::vector<ModelSchema>& models, const char* id) {
  const ModelSchema* m = find_model(models, id);
  g_assert_nonnull(m);
  return *m;
}

// The body as a JSON object the test owns through `parser`.
JsonObject* body_object(JsonParser* parser, const SubmitBody& body) {
  g_assert_true(json_parser_load_from_data(parser, body.json.c_str(), -1, nullptr));
  return json_node_get_object(json_parser_get_root(parser));
}

Request request_for(const char* model_id) {
  Request r;
  r.model = model_id;
  r.prompt = "a red fox";
  return r;
}

// The Settings error a request meets against `schema`, which must name each of `words`.
void assert_refused(const Request& r, const ModelSchema* schema,
                    std::initializer_list<const char*> words) {
  SubmitBody body;
  auto error = build_submit_body(r, schema, {}, &body);
  g_assert_true(error.has_value());
  g_assert_true(error->kind == ErrorKind::Settings);
  for (const char* w : words)
    if (!contains(error->message, w)) g_error("\"%s\" not in \"%s\"", w, error->message.c_str());
}

std::string temp_file(const std::string& contents, const char* name = "fox.png") {
  g_autofree char* dir = g_dir_make_tmp("kling-catalog-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, name, nullptr);
  g_assert_true(
      g_file_set_contents(path, contents.data(), static_cast<gssize>(contents.size()), nullptr));
  return path;
}

// ------------------------------------------------------------------ the catalogue, parsed

void test_parse_wavespeed_shape() {
  auto models = catalog();
  g_assert_cmpuint(models.size(), ==, 3);  // the one without a request schema is left out
  const ModelSchema& m = model(models, kUnknownModel);
  assert_str_eq(m.type, "text-to-video");
  g_assert_cmpfloat(m.base_price.value_or(-1), ==, 0.4);
  const FieldSpec* duration = m.field("duration");
  g_assert_nonnull(duration);
  assert_str_eq(duration->type, "string");
  g_assert_cmpuint(duration->enum_json.size(), ==, 2);
  assert_str_eq(duration->enum_json[1], "\"10\"");
  assert_str_eq(duration->default_json, "\"5\"");
  const FieldSpec* cfg = m.field("cfg_scale");
  g_assert_cmpfloat(cfg->minimum.value_or(-1), ==, 0);
  g_assert_cmpfloat(cfg->maximum.value_or(-1), ==, 1);
  g_assert_true(m.field("mode")->required);
  g_assert_true(m.field("prompt")->required);
  g_assert_false(m.field("camera")->required);
  g_assert_false(m.has_audio);
  g_assert_true(model(models, kAudioModel).has_audio);
  assert_str_eq(describe_accepts(*m.field("camera")), "one of none, zoom_in, pan_left");
  assert_str_eq(describe_accepts(*cfg), "a number from 0 to 1");

  std::string error;
  g_assert_false(parse_catalog("{\"code\":401,\"message\":\"no\"}", &error).has_value());
  g_assert_false(parse_catalog("<html>", &error).has_value());
  g_assert_cmpuint(parse_catalog("[]", &error)->size(), ==, 0);  // a bare array is read too
}

void test_builtin_table() {
  const auto& models = builtin_models();
  g_assert_cmpuint(models.size(), ==, 4);
  const ModelSchema& t2v = model(models, "kwaivgi/kling-v2.0-t2v-master");
  g_assert_nonnull(t2v.field("aspect_ratio"));
  g_assert_null(t2v.field("image"));
  const ModelSchema& i2v = model(models, "kwaivgi/kling-v2.1-i2v-master");
  g_assert_true(i2v.field("image")->required);
  g_assert_null(i2v.field("aspect_ratio"));
}

// ------------------------------------------------------------------ bodies

void test_body_typed_by_schema() {
  auto models = catalog();
  Request r = request_for(kUnknownModel);
  r.duration = 10;
  r.duration_set = true;
  r.params = {{"cfg_scale", ParamValue::of(std::string("0.7"))},
              {"seed", ParamValue::of(std::string("42"))},
              {"camera", ParamValue::of(std::string("zoom_in"))},
              {"mode", ParamValue::of(std::string("pro"))},
              {"camera_control", ParamValue::of(std::string(R"({"type":"simple","zoom":2})"))}};
  SubmitBody body;
  g_assert_false(build_submit_body(r, &model(models, kUnknownModel), {}, &body).has_value());
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = body_object(parser, body);
  // The integer property is a string where the schema says so, and params' strings are numbers.
  assert_str_eq(json_object_get_string_member(o, "duration"), "10");
  JsonNode* cfg = json_object_get_member(o, "cfg_scale");
  g_assert_cmpint(json_node_get_value_type(cfg), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat(json_node_get_double(cfg), ==, 0.7);
  JsonNode* seed = json_object_get_member(o, "seed");
  g_assert_cmpint(json_node_get_value_type(seed), ==, G_TYPE_INT64);
  g_assert_cmpint(json_node_get_int(seed), ==, 42);
  assert_str_eq(json_object_get_string_member(o, "camera"), "zoom_in");
  g_assert_cmpint(
      json_object_get_int_member(json_object_get_object_member(o, "camera_control"), "zoom"), ==,
      2);
  // Defaults of properties the model does not take are not sent.
  g_assert_false(json_object_has_member(o, "aspect_ratio"));
  g_assert_cmpuint(json_object_get_size(o), ==, 7);
}

void test_named_properties_win_over_params() {
  auto models = catalog();
  const ModelSchema& i2v = model(models, "kwaivgi/kling-v2.0-i2v-master");
  Request r = request_for("kwaivgi/kling-v2.0-i2v-master");
  r.image = "https://example.com/fox.png";
  r.params = {{"prompt", ParamValue::of(std::string("from params"))},
              {"image", ParamValue::of(std::string("https://example.com/other.png"))},
              {"duration", ParamValue::of(static_cast<int64_t>(10))}};
  SubmitBody body;
  g_assert_false(build_submit_body(r, &i2v, {}, &body).has_value());
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = body_object(parser, body);
  assert_str_eq(json_object_get_string_member(o, "prompt"), "a red fox");
  assert_str_eq(json_object_get_string_member(o, "image"), "https://example.com/fox.png");
  // duration was not set as a property: params' value goes, not the property's default.
  g_assert_cmpint(json_object_get_int_member(o, "duration"), ==, 10);

  r.duration = 5;
  r.duration_set = true;  // now the property wins
  g_assert_false(build_submit_body(r, &i2v, "https://cdn.example/upload.png", &body).has_value());
  g_autoptr(JsonParser) parser2 = json_parser_new();
  o = body_object(parser2, body);
  g_assert_cmpint(json_object_get_int_member(o, "duration"), ==, 5);
  assert_str_eq(json_object_get_string_member(o, "image"), "https://cdn.example/upload.png");
}

void test_refusals_name_the_field_and_what_it_accepts() {
  auto models = catalog();
  const ModelSchema* m = &model(models, kUnknownModel);
  Request ok = request_for(kUnknownModel);
  ok.params = {{"mode", ParamValue::of(std::string("std"))}};
  SubmitBody body;
  g_assert_false(build_submit_body(ok, m, {}, &body).has_value());

  Request r = ok;
  r.params.push_back({"cfg_scale", ParamValue::of(1.5)});
  assert_refused(r, m, {"cfg_scale", "a number from 0 to 1", "1.5"});
  r = ok;
  r.params.push_back({"camera", ParamValue::of(std::string("spin"))});
  assert_refused(r, m, {"camera", "one of none, zoom_in, pan_left", "spin"});
  r = ok;
  r.params.push_back({"seed", ParamValue::of(std::string("many"))});
  assert_refused(r, m, {"seed", "an integer from 0 to 2147483647"});
  r = ok;
  r.params.push_back({"seed", ParamValue::of(-1.0)});
  assert_refused(r, m, {"seed"});
  r = ok;
  r.params.push_back({"style", ParamValue::of(std::string("anime"))});
  assert_refused(r, m, {"takes no field \"style\"", "prompt (required)", "cfg_scale"});
  r = ok;
  r.params.clear();  // mode is required and has no default
  assert_refused(r, m, {"needs \"mode\"", "one of std, pro", "params"});
  r = ok;
  r.duration = 7;  // through a property: named by the property
  r.duration_set = true;
  assert_refused(r, m, {"duration", "one of 5, 10", "7"});
  r = ok;
  r.aspect_ratio_set = true;
  assert_refused(r, m, {"takes no aspect-ratio"});

  const ModelSchema* i2v = &model(models, "kwaivgi/kling-v2.0-i2v-master");
  r = request_for("kwaivgi/kling-v2.0-i2v-master");
  assert_refused(r, i2v, {"needs \"image\"", "image property"});
  const ModelSchema* t2v = find_model(builtin_models(), "kwaivgi/kling-v2.0-t2v-master");
  r = request_for("kwaivgi/kling-v2.0-t2v-master");
  r.image = "https://example.com/a.png";
  assert_refused(r, t2v, {"takes no image", "image-to-video"});
  r = request_for("kwaivgi/kling-v2.0-t2v-master");
  r.prompt = std::string(2501, 'x');
  assert_refused(r, t2v, {"prompt", "2500 characters"});
}

void test_no_schema_sends_fields_as_given() {
  Request r = request_for("vendor/unknown-video");
  r.params = {{"camera", ParamValue::of(std::string("zoom_in"))},
              {"seed", ParamValue::of(std::string("42"))}};
  SubmitBody body;
  g_assert_false(build_submit_body(r, nullptr, {}, &body).has_value());
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = body_object(parser, body);
  assert_str_eq(json_object_get_string_member(o, "seed"), "42");  // no schema: no typing
  assert_str_eq(json_object_get_string_member(o, "aspect_ratio"), "16:9");
  g_assert_cmpint(json_object_get_int_member(o, "duration"), ==, 5);
  // Without a schema, the built-in table's body is what it always was.
  Request t2v = request_for("kwaivgi/kling-v2.0-t2v-master");
  assert_str_eq(api::build_submit_body(t2v),
                R"({"prompt":"a red fox","aspect_ratio":"16:9","duration":5})");
}

void test_has_audio() {
  auto models = catalog();
  const ModelSchema& audio = model(models, kAudioModel);
  Request r = request_for(kAudioModel);
  SubmitBody body;
  g_assert_false(build_submit_body(r, &audio, {}, &body).has_value());
  g_assert_true(body.has_audio);
  r.params = {{"sound", ParamValue::of(std::string("false"))}};
  g_assert_false(build_submit_body(r, &audio, {}, &body).has_value());
  g_assert_false(body.has_audio);  // asked for no sound
  assert_str_eq(body.json, R"({"prompt":"a red fox","sound":false,"duration":5})");
  Request silent = request_for(kUnknownModel);
  silent.params = {{"mode", ParamValue::of(std::string("std"))}};
  g_assert_false(build_submit_body(silent, &model(models, kUnknownModel), {}, &body).has_value());
  g_assert_false(body.has_audio);
}

// ------------------------------------------------------------------ request identity

void test_fingerprint_params_and_image_bytes() {
  Request a = request_for(kUnknownModel);
  const std::string plain = a.fingerprint();
  a.params = {{"camera", ParamValue::of(std::string("zoom_in"))},
              {"seed", ParamValue::of(static_cast<int64_t>(1))}};
  Request b = request_for(kUnknownModel);
  b.params = {{"seed", ParamValue::of(static_cast<int64_t>(1))},
              {"camera", ParamValue::of(std::string("zoom_in"))}};
  assert_str_eq(a.fingerprint(), b.fingerprint());  // order does not matter
  g_assert_true(a.fingerprint() != plain);
  b.params[0].value = ParamValue::of(static_cast<int64_t>(2));
  g_assert_true(a.fingerprint() != b.fingerprint());

  // A local image is named by its bytes, wherever it lies.
  const std::string one = temp_file("PNG bytes one"), two = temp_file("PNG bytes one", "copy.png");
  const std::string other = temp_file("PNG bytes two");
  Request i1 = request_for("kwaivgi/kling-v2.0-i2v-master"), i2 = i1, i3 = i1;
  i1.image = one;
  g_autofree char* uri = g_filename_to_uri(two.c_str(), nullptr, nullptr);
  i2.image = uri;
  i3.image = other;
  for (Request* r : {&i1, &i2, &i3}) g_assert_false(resolve_local_image(r).has_value());
  assert_str_eq(i2.image_file, two);
  g_assert_cmpuint(i1.image_sha256.size(), ==, 64);
  assert_str_eq(i1.fingerprint(), i2.fingerprint());
  g_assert_true(i1.fingerprint() != i3.fingerprint());

  Request missing = request_for("kwaivgi/kling-v2.0-i2v-master");
  missing.image = "/nonexistent/fox.png";
  auto error = resolve_local_image(&missing);
  g_assert_true(error && error->kind == ErrorKind::Settings);
  g_assert_true(contains(error->message, "/nonexistent/fox.png"));
  missing.image = "ftp://example.com/fox.png";
  g_assert_true(resolve_local_image(&missing).has_value());
  Request url = request_for("kwaivgi/kling-v2.0-i2v-master");
  url.image = "https://example.com/fox.png";
  g_assert_false(resolve_local_image(&url).has_value());
  g_assert_true(url.image_file.empty());
}

void test_error_code_is_shown() {
  api::Reply r = api::parse_reply(
      403, R"({"code":403,"message":"Permission denied","error_code":"ROLE_VIEWER"})");
  g_assert_true(r.kind == api::ReplyKind::ApiError);
  assert_str_eq(r.message, "Permission denied (error_code ROLE_VIEWER)");
  r = api::parse_reply(200, R"({"code":401,"message":"Invalid key","error_code":1001})");
  assert_str_eq(r.message, "Invalid key (error_code 1001)");
  g_assert_true(api::is_final_status("deleted"));
}

// ------------------------------------------------------------------ against the fake

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  Request request;
  std::string dir;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->request.api_url = f->fake->api_url();
  f->request.api_key = f->fake->key;
  f->request.poll_interval_ms = 20;
  f->request.request_timeout_s = 5;
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  f->dir = dir;
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
}

CatalogLookup lookup(Fixture* f, const char* id) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  HttpTransport http(f->request);
  return ModelCatalogue(f->request.api_url, f->dir).lookup(http, id, nullptr);
}

void test_catalogue_cached_for_an_hour(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  CatalogLookup first = lookup(f, kUnknownModel);
  g_assert_true(first.model.has_value());
  g_assert_true(first.model->field("cfg_scale") != nullptr);
  CatalogLookup second = lookup(f, "kwaivgi/kling-v2.0-i2v-master");
  g_assert_true(second.model.has_value());
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);  // the second came from disk
  g_assert_true(contains(second.source, "fetched 0 min ago"));
  for (const auto& r : f->fake->requests())
    assert_str_eq(r.authorization, "Bearer " + f->fake->key);

  // An hour later it is fetched again.
  const std::string path = ModelCatalogue(f->request.api_url, f->dir).path();
  struct utimbuf old = {time(nullptr) - 3601, time(nullptr) - 3601};
  g_assert_cmpint(g_utime(path.c_str(), &old), ==, 0);
  lookup(f, kUnknownModel);
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 2);
  // Another origin has a catalogue of its own.
  g_assert_true(ModelCatalogue("http://127.0.0.1:1", f->dir).path() != path);
}

void test_catalogue_404_falls_back_to_builtin(Fixture* f, gconstpointer) {
  CatalogLookup known = lookup(f, "kwaivgi/kling-v2.1-t2v-master");
  g_assert_true(known.model.has_value());
  g_assert_true(contains(known.source, "built-in table"));
  g_assert_true(contains(known.source, "HTTP 404"));
  CatalogLookup unknown = lookup(f, kUnknownModel);
  g_assert_false(unknown.model.has_value());
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 2);  // a failure is not cached

  // An old copy knows more than the built-in table when the fetch fails.
  f->fake->catalog = kCatalog;
  lookup(f, kUnknownModel);
  const std::string path = ModelCatalogue(f->request.api_url, f->dir).path();
  struct utimbuf old = {time(nullptr) - 7200, time(nullptr) - 7200};
  g_assert_cmpint(g_utime(path.c_str(), &old), ==, 0);
  f->fake->catalog.clear();
  CatalogLookup stale = lookup(f, kUnknownModel);
  g_assert_true(stale.model.has_value());
  g_assert_true(contains(stale.source, "fetched 120 min ago"));
}

// What names a request at start (no network) is the last catalogue seen, however old:
// a request made a week ago, named by that catalogue then, is named the same way now.
void test_offline_schema_from_an_old_catalogue(Fixture* f, gconstpointer) {
  const ModelCatalogue catalogue(f->request.api_url, f->dir);
  g_assert_false(catalogue.offline(kUnknownModel).has_value());  // nothing on disk yet
  f->fake->catalog = kCatalog;
  lookup(f, kUnknownModel);
  const std::string path = catalogue.path();
  const time_t week_ago = time(nullptr) - 7 * 24 * 3600;
  struct utimbuf old = {week_ago, week_ago};
  g_assert_cmpint(g_utime(path.c_str(), &old), ==, 0);
  auto schema = catalogue.offline(kUnknownModel);
  g_assert_true(schema.has_value());
  g_assert_nonnull(schema->field("cfg_scale"));  // the catalogue's, not the built-in table's
  g_assert_true(catalogue.offline("kwaivgi/kling-v2.0-i2v-master").has_value());
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);  // offline: nothing fetched
}

void test_client_headers_to_the_api_only(Fixture* f, gconstpointer) {
  g_setenv("WAVESPEED_CLIENT_NAME", "my-app", TRUE);
  lookup(f, kUnknownModel);
  g_unsetenv("WAVESPEED_CLIENT_NAME");
  lookup(f, kUnknownModel);
  auto reqs = f->fake->requests();
  g_assert_cmpuint(reqs.size(), ==, 2);
  assert_str_eq(reqs[0].header("X-Client-Name"), "my-app");
  assert_str_eq(reqs[1].header("X-Client-Name"), "gst-kling");
  assert_str_eq(reqs[1].header("X-Client-Version"), "0.1.0");
  g_assert_false(reqs[1].header("X-Client-OS").empty());
  // A PUT names nobody and carries no key, even to the API's own origin.
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  HttpTransport http(f->request);
  g_autoptr(GBytes) bytes = g_bytes_new_static("x", 1);
  http.put(f->fake->api_url() + "/bucket/x", {{"Authorization", "Bearer leak"}}, bytes, nullptr);
  reqs = f->fake->requests();
  assert_str_eq(reqs.back().authorization, "");
  assert_str_eq(reqs.back().header("X-Client-Name"), "");
}

ImageUploader::Outcome upload(Fixture* f, const Request& r, std::string* url, Error* error,
                              std::vector<std::string>* said = nullptr) {
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  HttpTransport http(r);
  return ImageUploader(r, f->dir).upload(
      http, nullptr,
      [said](bool, const std::string& text) {
        if (said) said->push_back(text);
      },
      [](unsigned ms) {
        g_usleep(ms * 1000);
        return true;
      },
      url, error);
}

void test_upload_to_storage_without_the_key(Fixture* f, gconstpointer) {
  const std::string png = "\x89PNG\r\n\x1a\n" + random_bytes(50000);
  Request r = f->request;
  r.image = temp_file(png);
  g_assert_false(resolve_local_image(&r).has_value());
  std::string url;
  Error error;
  std::vector<std::string> said;
  g_assert_true(upload(f, r, &url, &error, &said) == ImageUploader::Outcome::Done);
  assert_str_eq(url, f->fake->cdn_url() + "/media/upload-1.png");
  g_assert_cmpuint(f->fake->uploaded().size(), ==, 1);
  g_assert_true(f->fake->uploaded()[0] == png);
  bool ticket = false, put = false;
  for (const auto& req : f->fake->requests()) {
    if (req.server == "media") {
      ticket = true;
      assert_str_eq(req.authorization, "Bearer " + f->fake->key);
      g_autoptr(JsonParser) parser = json_parser_new();
      g_assert_true(json_parser_load_from_data(parser, req.body.c_str(), -1, nullptr));
      JsonObject* o = json_node_get_object(json_parser_get_root(parser));
      assert_str_eq(json_object_get_string_member(o, "filename"), "fox.png");
      g_assert_cmpint(json_object_get_int_member(o, "size"), ==, static_cast<gint64>(png.size()));
      assert_str_eq(json_object_get_string_member(o, "content_type"), "image/png");
    }
    if (req.server == "storage") {
      put = true;
      assert_str_eq(req.method, "PUT");
      assert_str_eq(req.authorization, "");
      assert_str_eq(req.header("x-upload-token"), "tok-1");
      assert_str_eq(req.header("X-Client-Name"), "");
    }
  }
  g_assert_true(ticket && put);
  g_assert_true(contains(said.front(), "Uploading fox.png"));

  // The same bytes again, under another name: not uploaded twice.
  Request again = f->request;
  again.image = temp_file(png, "same.png");
  g_assert_false(resolve_local_image(&again).has_value());
  said.clear();
  g_assert_true(upload(f, again, &url, &error, &said) == ImageUploader::Outcome::Done);
  assert_str_eq(url, f->fake->cdn_url() + "/media/upload-1.png");
  g_assert_cmpint(f->fake->count("media", "POST"), ==, 1);
  g_assert_true(contains(said.back(), "Reusing the upload"));
}

void test_upload_refusals(Fixture* f, gconstpointer) {
  Request r = f->request;
  r.image = temp_file("bytes");
  g_assert_false(resolve_local_image(&r).has_value());
  std::string url;
  Error error;
  // Bytes changed since the request was named: refused, nothing sent.
  g_assert_true(g_file_set_contents(r.image_file.c_str(), "other", -1, nullptr));
  g_assert_true(upload(f, r, &url, &error) == ImageUploader::Outcome::Failed);
  g_assert_true(error.kind == ErrorKind::Settings);
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
  g_assert_false(resolve_local_image(&r).has_value());
  // A bad key: the ticket is refused, with the API's words.
  r.api_key = "wrong";
  g_assert_true(upload(f, r, &url, &error) == ImageUploader::Outcome::Failed);
  g_assert_true(error.kind == ErrorKind::NotAuthorized);
  g_assert_true(contains(error.message, "Invalid API key"));
  g_assert_cmpint(f->fake->count("storage", "PUT"), ==, 0);

  std::string why;
  g_assert_false(
      parse_upload_ticket(R"({"code":200,"data":{"download_url":"x"}})", &why).has_value());
  auto t = parse_upload_ticket(
      R"({"code":200,"data":{"download_url":"https://c/x","upload":{"url":"https://s/y","headers":{"A":"1"}}}})",
      &why);
  g_assert_true(t.has_value());
  assert_str_eq(t->method, "PUT");
  g_assert_cmpuint(t->headers.size(), ==, 1);
}

// ------------------------------------------------------------------ odd catalogues, bounded inputs

ModelSchema only_model(const char* catalogue) {
  std::string error;
  auto models = parse_catalog(catalogue, &error);
  g_assert_true(models.has_value());
  g_assert_cmpuint(models->size(), ==, 1);
  return models->front();
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
  r.api_key = "k";
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
    const char* file = g_getenv("BOUNDED_READ_FILE");
    struct rlimit lim = {512u << 20, 512u << 20};
    g_assert_cmpint(setrlimit(RLIMIT_AS, &lim), ==, 0);
    Request r = request_for("kwaivgi/kling-v2.1-i2v-master");
    r.api_key = "k";
    r.api_url = "http://127.0.0.1:9";  // never reached
    r.image = file;
    r.image_file = file;
    r.image_sha256 = std::string(64, '0');
    HttpTransport http(r);
    std::string url;
    Error error;
    auto outcome = ImageUploader(r, g_getenv("BOUNDED_READ_DIR"))
                       .upload(
                           http, nullptr, [](bool, const std::string&) {},
                           [](unsigned) { return false; }, &url, &error);
    g_assert_true(outcome == ImageUploader::Outcome::Failed);
    g_test_message("%s", error.message.c_str());
    g_assert_nonnull(strstr(error.message.c_str(), "changed since the pipeline started"));
    return;
  }
  g_autofree char* dir = g_dir_make_tmp("kling-catalog-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, "grew.png", nullptr);
  FILE* f = g_fopen(path, "wb");
  g_assert_nonnull(f);
  g_assert_cmpint(ftruncate(fileno(f), 1LL << 30), ==, 0);  // sparse: no disk used
  fclose(f);
  g_setenv("BOUNDED_READ_FILE", path, TRUE);
  g_setenv("BOUNDED_READ_DIR", dir, TRUE);
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
  g_test_add_func("/core/catalog/parse/wavespeed-shape", test_parse_wavespeed_shape);
  g_test_add_func("/core/catalog/builtin/four-models", test_builtin_table);
  g_test_add_func("/core/catalog/body/typed-as-the-schema-says", test_body_typed_by_schema);
  g_test_add_func("/core/catalog/body/named-properties-win-over-params",
                  test_named_properties_win_over_params);
  g_test_add_func("/core/catalog/body/refusals-name-the-field-and-what-it-accepts",
                  test_refusals_name_the_field_and_what_it_accepts);
  g_test_add_func("/core/catalog/body/no-schema-sends-fields-as-given",
                  test_no_schema_sends_fields_as_given);
  g_test_add_func("/core/catalog/body/has-audio", test_has_audio);
  g_test_add_func("/core/catalog/request/fingerprint-params-and-image-bytes",
                  test_fingerprint_params_and_image_bytes);
  g_test_add_func("/core/catalog/api/error-code-shown", test_error_code_is_shown);
  g_test_add_func("/core/catalog/parse/numbers-as-strings", test_numbers_as_strings);
  g_test_add_func("/core/catalog/parse/schema-without-properties", test_schema_without_properties);
  g_test_add_func("/core/catalog/request/image-field-must-be-a-url",
                  test_image_field_must_be_a_url);
  g_test_add_func("/core/catalog/upload/reads-a-bounded-image", test_upload_reads_a_bounded_image);
  g_test_add_func("/core/catalog/body/untyped-nan-refused", test_untyped_nan_is_refused);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/core/catalog/offline/schema-from-an-old-catalogue",
      test_offline_schema_from_an_old_catalogue);
  ADD("/core/catalog/fetch/cached-for-an-hour-per-origin", test_catalogue_cached_for_an_hour);
  ADD("/core/catalog/fetch/404-falls-back-to-builtin-or-old-copy",
      test_catalogue_404_falls_back_to_builtin);
  ADD("/core/catalog/transport/x-client-headers-to-the-api-only",
      test_client_headers_to_the_api_only);
  ADD("/core/catalog/upload/ticket-then-put-without-the-key-once-a-day",
      test_upload_to_storage_without_the_key);
  ADD("/core/catalog/upload/refusals", test_upload_refusals);
  return g_test_run();
}
