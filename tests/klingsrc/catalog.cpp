// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc with WaveSpeed's model catalogue, against the scripted fake API, CDN
// and upload storage on loopback: a model the element never heard of, params,
// refusals that send nothing, the catalogue's disk cache and its fallback (the
// built-in table: what each of its models takes), a local image uploaded
// without the key, attribution headers, `deleted`, `error_code` and `has-audio`.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <utime.h>

#include <memory>
#include <string>

#include "support/catalog_fixture.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const char* model = nullptr) {
  auto run = parse_run("klingsrc name=src ! fakesink name=sink");
  // No journal: a journaled unfinished task would be picked up by the next test.
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", "", "prompt", kPrompt, nullptr);
  if (model) g_object_set(run->src, "model", model, nullptr);
  return run;
}

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  std::string dir;  // files of the test
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  g_unlink(catalogue_file(f->fake->api_url()).c_str());
  f->fake->video = random_bytes(512 * 1024 + 3);
  f->fake->polls_until_done = 1;
  g_autofree char* dir = g_dir_make_tmp("klingsrc-catalog-XXXXXX", nullptr);
  f->dir = dir;
}

void teardown(Fixture* f, gconstpointer) {
  g_unlink(catalogue_file(f->fake->api_url()).c_str());
  f->fake.reset();
}

// The one submit's body, parsed (the test owns it through `parser`).
JsonObject* submitted(FakeWaveSpeed& fake, JsonParser* parser, std::string* path = nullptr) {
  const RecordedRequest* post = nullptr;
  auto reqs = fake.requests();
  for (const auto& r : reqs)
    if (r.server == "api" && r.method == "POST") {
      g_assert_null(post);  // exactly one
      post = &r;
    }
  g_assert_nonnull(post);
  if (path) *path = post->path;
  g_assert_true(json_parser_load_from_data(parser, post->body.c_str(), -1, nullptr));
  return json_node_get_object(json_parser_get_root(parser));
}

std::string write_file(const Fixture* f, const char* name, const std::string& contents) {
  g_autofree char* path = g_build_filename(f->dir.c_str(), name, nullptr);
  g_assert_true(
      g_file_set_contents(path, contents.data(), static_cast<gssize>(contents.size()), nullptr));
  return path;
}

// ------------------------------------------------------------------ any model

void test_unknown_model_generates_end_to_end(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  auto run = make_run(*f->fake, kUnknownModel);
  gst_util_set_object_arg(G_OBJECT(run->src), "params",
                          "p,cfg_scale=0.7,camera=zoom_in,seed=(string)42,mode=pro");
  gst_util_set_object_arg(G_OBJECT(run->src), "duration", "10");
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_true(run->bytes == f->fake->video);

  g_autoptr(JsonParser) parser = json_parser_new();
  std::string path;
  JsonObject* o = submitted(*f->fake, parser, &path);
  assert_str_eq(path, std::string("/api/v3/") + kUnknownModel);
  // Typed as the catalogue says: duration a string there, seed an integer, cfg_scale a number.
  assert_str_eq(json_object_get_string_member(o, "duration"), "10");
  g_assert_cmpint(json_node_get_value_type(json_object_get_member(o, "seed")), ==, G_TYPE_INT64);
  g_assert_cmpint(json_object_get_int_member(o, "seed"), ==, 42);
  g_assert_cmpfloat(json_object_get_double_member(o, "cfg_scale"), ==, 0.7);
  assert_str_eq(json_object_get_string_member(o, "camera"), "zoom_in");
  assert_str_eq(json_object_get_string_member(o, "mode"), "pro");
  assert_str_eq(json_object_get_string_member(o, "prompt"), kPrompt);
  g_assert_false(json_object_has_member(o, "aspect_ratio"));  // the model takes none
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);
  // The quote is asked for the body as it will be sent.
  bool quoted = false;
  for (const auto& r : f->fake->money_requests())
    if (r.path == "/api/v3/model/price") {
      quoted = true;
      g_assert_true(contains(r.body, "\"cfg_scale\":0.6999") ||
                    contains(r.body, "\"cfg_scale\":0.7"));
      g_assert_true(contains(r.body, "\"mode\":\"pro\""));
      g_assert_true(contains(r.body, "\"duration\":\"10\""));
    }
  g_assert_true(quoted);
  g_assert_true(contains(run->task_messages.back(), "has-audio=(boolean)false"));
  // The progress says what goes, as the model takes it.
  g_assert_true(progress_says(*run,
                              "Submitting to kwaivgi/kling-v9-t2v-test (duration=\"10\", "
                              "cfg_scale=0.7, camera=\"zoom_in\", seed=42"));
}

void test_settings_refusals_send_nothing(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  struct Case {
    const char* params;
    const char* ratio;
    std::vector<const char*> words;
  };
  const Case cases[] = {
      {"p,mode=pro,cfg_scale=2.5", nullptr, {"cfg_scale", "a number from 0 to 1", "2.5"}},
      {"p,mode=pro,camera=spin", nullptr, {"camera", "one of none, zoom_in, pan_left", "spin"}},
      {"p,mode=pro,style=anime",
       nullptr,
       {"takes no field \"style\"", "cfg_scale", "mode (required)"}},
      {"p,cfg_scale=0.5", nullptr, {"needs \"mode\"", "one of std, pro"}},
      {"p,mode=pro,seed=(string)many", nullptr, {"seed", "an integer"}},
      {"p,mode=pro", "1:1", {"takes no aspect-ratio"}},
  };
  for (const Case& c : cases) {
    auto run = make_run(*f->fake, kUnknownModel);
    gst_util_set_object_arg(G_OBJECT(run->src), "params", c.params);
    if (c.ratio) gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio", c.ratio);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, c.words.front());
    for (const char* w : c.words)
      if (!contains(run->error->message, w))
        g_error("\"%s\" not in \"%s\"", w, run->error->message);
  }
  // Nothing but the catalogue was asked for (once: it was cached): no quote, no upload, no submit.
  for (const auto& r : f->fake->requests()) assert_str_eq(r.server, "catalog");
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);
  g_assert_cmpuint(f->fake->money_requests().size(), ==, 0);
}

void test_named_property_wins_over_params(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  auto run = make_run(*f->fake, kUnknownModel);
  gst_util_set_object_arg(G_OBJECT(run->src), "params",
                          "p,mode=std,prompt=\"from params\",duration=(string)10");
  play_to_end(*run);
  g_assert_true(run->eos);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = submitted(*f->fake, parser);
  assert_str_eq(json_object_get_string_member(o, "prompt"), kPrompt);
  // duration was left at its default: params' value goes.
  assert_str_eq(json_object_get_string_member(o, "duration"), "10");
  // Read back as set.
  GstStructure* params = nullptr;
  g_object_get(run->src, "params", &params, nullptr);
  g_assert_nonnull(params);
  assert_str_eq(gst_structure_get_string(params, "mode"), "std");
  gst_structure_free(params);
}

void test_uri_carries_params(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  auto run = make_run(*f->fake);
  g_assert_true(gst_uri_handler_set_uri(
      GST_URI_HANDLER(run->src),
      "kling://kwaivgi/kling-v9-t2v-test?prompt=a%20fox&mode=pro&cfg_scale=0.25&camera=pan_left",
      nullptr));
  play_to_end(*run);
  g_assert_true(run->eos);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = submitted(*f->fake, parser);
  g_assert_cmpfloat(json_object_get_double_member(o, "cfg_scale"), ==, 0.25);
  assert_str_eq(json_object_get_string_member(o, "camera"), "pan_left");
  assert_str_eq(json_object_get_string_member(o, "prompt"), "a fox");
  g_autofree char* uri = gst_uri_handler_get_uri(GST_URI_HANDLER(run->src));
  g_assert_true(contains(uri, "cfg_scale=0.25"));
}

// ------------------------------------------------------------------ the catalogue

void test_catalogue_cached_across_runs(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  for (int i = 0; i < 2; i++) {
    auto run = make_run(*f->fake, kUnknownModel);
    gst_util_set_object_arg(G_OBJECT(run->src), "params", i == 0 ? "p,mode=std" : "p,mode=pro");
    play_to_end(*run);
    g_assert_true(run->eos);
  }
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);  // the second run read it from disk
}

void test_catalogue_404_falls_back_to_builtin(Fixture* f, gconstpointer) {
  // No catalogue: the built-in table still refuses what its models do not take, before any
  // submit...
  auto refused = make_run(*f->fake, "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(refused->src, "image", "https://example.com/fox.png", nullptr);
  gst_util_set_object_arg(G_OBJECT(refused->src), "params", "p,cfg_scale=0.5");
  play_to_end(*refused);
  assert_error(*refused, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
               "takes no field \"cfg_scale\"");
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
  // ... and what they take goes as before.
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = submitted(*f->fake, parser);
  assert_str_eq(json_object_get_string_member(o, "aspect_ratio"), "16:9");
  g_assert_cmpint(json_object_get_int_member(o, "duration"), ==, 5);
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 2);  // asked for again: a 404 is not kept
}

// ------------------------------------------------------------------ local images

void test_local_image_uploaded_without_the_key(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  const std::string png = "\x89PNG\r\n\x1a\n" + random_bytes(20000);
  const std::string path = write_file(f, "fox.png", png);
  g_autofree char* cache = g_build_filename(f->dir.c_str(), "videos", nullptr);
  auto run = make_run(*f->fake, "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(run->src, "image", path.c_str(), "cache-dir", cache, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);

  // One ticket (with the key), one PUT of the bytes to the storage origin (without it).
  g_assert_cmpint(f->fake->count("media", "POST"), ==, 1);
  g_assert_cmpint(f->fake->count("storage", "PUT"), ==, 1);
  g_assert_cmpuint(f->fake->uploaded().size(), ==, 1);
  g_assert_true(f->fake->uploaded()[0] == png);
  for (const auto& r : f->fake->requests()) {
    if (r.server == "storage") {
      assert_str_eq(r.authorization, "");
      assert_str_eq(r.header("x-upload-token"), "tok-1");
      assert_str_eq(r.header("Content-Type"), "image/png");
    } else if (r.server != "cdn") {
      assert_str_eq(r.authorization, "Bearer " + f->fake->key);
    }
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* o = submitted(*f->fake, parser);
  assert_str_eq(json_object_get_string_member(o, "image"),
                f->fake->cdn_url() + "/media/upload-1.png");
  bool started = false, completed = false;
  for (const auto& p : run->progress) {
    started |=
        p.code == "upload" && p.type == GST_PROGRESS_TYPE_START && contains(p.text, "fox.png");
    completed |= p.code == "upload" && p.type == GST_PROGRESS_TYPE_COMPLETE;
  }
  g_assert_true(started && completed);

  // The same bytes under another name, as a file:// URI: the same request (its identity is the
  // file's hash, not the upload's URL), so it replays from the cache: no upload, no submit.
  const std::string copy = write_file(f, "copy.png", png);
  g_autofree char* uri = g_filename_to_uri(copy.c_str(), nullptr, nullptr);
  auto again = make_run(*f->fake, "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(again->src, "image", uri, "cache-dir", cache, nullptr);
  play_to_end(*again);
  g_assert_true(again->eos);
  g_assert_true(again->bytes == f->fake->video);
  g_assert_true(progress_says(*again, "Replaying the cached video"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);

  // Another prompt with that image: a new task, but the bytes are not uploaded twice in a day.
  auto third = make_run(*f->fake, "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(third->src, "image", uri, "prompt", "the fox runs", nullptr);
  play_to_end(*third);
  g_assert_true(third->eos);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
  g_assert_cmpint(f->fake->count("media", "POST"), ==, 1);
  g_assert_cmpint(f->fake->count("storage", "PUT"), ==, 1);
  g_assert_true(progress_says(*third, "Reusing the upload of copy.png"));
}

void test_unreadable_image_is_refused_before_anything(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake, "kwaivgi/kling-v2.0-i2v-master");
  const std::string missing = f->dir + "/missing.png";
  g_object_set(run->src, "image", missing.c_str(), nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "missing.png");
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

// ------------------------------------------------------------------ statuses, errors, headers

void test_deleted_is_final(Fixture* f, gconstpointer) {
  f->fake->final_status = "deleted";
  f->fake->fail_error = "";
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "deleted");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_cmpint(f->fake->count("api", "GET"), ==,
                  f->fake->polls_until_done + 1);  // no poll after it
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 0);
}

void test_error_code_is_shown(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{
        403, R"({"code":403,"message":"Permission denied","error_code":"ROLE_VIEWER_CANNOT_RUN"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Permission denied");
  g_assert_true(contains(run->error->message, "ROLE_VIEWER_CANNOT_RUN"));
}

void test_client_headers_to_the_api(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  int api = 0;
  for (const auto& r : f->fake->requests()) {
    if (r.server == "cdn") {
      assert_str_eq(r.authorization, "");
      continue;
    }
    api++;
    assert_str_eq(r.header("X-Client-Name"), "gst-kling");
    assert_str_eq(r.header("X-Client-Version"), "0.1.0");
    g_assert_false(r.header("X-Client-OS").empty());
  }
  g_assert_cmpint(api, >=, 3);  // the catalogue, the submit, the polls
}

void test_has_audio_in_task_messages(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  auto run = make_run(*f->fake, kAudioModel);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_false(run->task_messages.empty());
  for (const auto& m : run->task_messages) g_assert_true(contains(m, "has-audio=(boolean)true"));
  // Resumed by its id: the catalogue still says so.
  auto resumed = make_run(*f->fake, kAudioModel);
  g_object_set(resumed->src, "request-id", f->fake->task_id.c_str(), nullptr);
  play_to_end(*resumed);
  g_assert_true(resumed->eos);
  g_assert_true(contains(resumed->task_messages.back(), "has-audio=(boolean)true"));
}

// ------------------------------------------------------------------ the built-in table

void test_i2v_sends_image_not_aspect_ratio(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "model", "kwaivgi/kling-v2.0-i2v-master", "image",
               "https://example.com/fox.png", "guidance-scale", 0.25, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  for (const auto& r : f->fake->requests()) {
    if (r.method != "POST") continue;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.0-i2v-master");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, r.body.c_str(), r.body.size(), nullptr));
    JsonObject* o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "image"), ==, "https://example.com/fox.png");
    g_assert_cmpfloat(json_object_get_double_member(o, "guidance_scale"), ==, 0.25);
    g_assert_false(json_object_has_member(o, "aspect_ratio"));
  }
}

void test_fields_a_model_does_not_take(Fixture* f, gconstpointer) {
  struct Case {
    const char* model;
    const char* image;
    const char* ratio;
    const char* words;
  };
  const Case cases[] = {
      {"kwaivgi/kling-v2.0-i2v-master", nullptr, nullptr, "image"},
      {"kwaivgi/kling-v2.0-t2v-master", "https://example.com/a.png", nullptr, "takes no image"},
      {"kwaivgi/kling-v2.0-i2v-master", "https://example.com/a.png", "1:1",
       "takes no aspect-ratio"},
  };
  for (const Case& c : cases) {
    auto run = make_run(*f->fake);
    g_object_set(run->src, "model", c.model, nullptr);
    if (c.image) g_object_set(run->src, "image", c.image, nullptr);
    if (c.ratio) gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio", c.ratio);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, c.words);
  }
  // Only the model catalogue was asked for: nothing submitted.
  for (const auto& r : f->fake->requests()) assert_str_eq(r.server, "catalog");
}

}  // namespace

// A video cached a week ago, of a request whose params only the catalogue types, is
// found at start although the catalogue on disk is old: the request is named at start by
// the last catalogue seen, as it was named then (the built-in table does not know the
// model, and would name it otherwise: a cache miss, and with no ledger a second charge).
void test_old_catalogue_still_finds_the_cached_video(Fixture* f, gconstpointer) {
  f->fake->catalog = kCatalog;
  const std::string cache = f->dir + "/cache";
  auto play_cached = [&] {
    auto run = make_run(*f->fake, kUnknownModel);
    gst_util_set_object_arg(G_OBJECT(run->src), "params", "p,seed=(string)42,mode=std");
    g_object_set(run->src, "cache-dir", cache.c_str(), nullptr);
    play_to_end(*run);
    g_assert_no_error(run->error);
    g_assert_true(run->bytes == f->fake->video);
    return run;
  };
  play_cached();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  const time_t week_ago = time(nullptr) - 7 * 24 * 3600;
  struct utimbuf old = {week_ago, week_ago};
  g_assert_cmpint(g_utime(catalogue_file(f->fake->api_url()).c_str(), &old), ==, 0);
  auto again = play_cached();
  g_assert_true(progress_says(*again, "Replaying the cached video of task "));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/klingsrc/catalog/unknown-model-generates-end-to-end",
      test_unknown_model_generates_end_to_end);
  ADD("/klingsrc/catalog/settings-refusals-send-nothing", test_settings_refusals_send_nothing);
  ADD("/klingsrc/catalog/named-property-wins-over-params", test_named_property_wins_over_params);
  ADD("/klingsrc/catalog/uri-carries-params", test_uri_carries_params);
  ADD("/klingsrc/catalog/cached-one-get-across-two-runs", test_catalogue_cached_across_runs);
  ADD("/klingsrc/catalog/old-catalogue-still-finds-the-cached-video",
      test_old_catalogue_still_finds_the_cached_video);
  ADD("/klingsrc/catalog/404-falls-back-to-builtin-table",
      test_catalogue_404_falls_back_to_builtin);
  ADD("/klingsrc/catalog/local-image-uploaded-without-the-key-once",
      test_local_image_uploaded_without_the_key);
  ADD("/klingsrc/catalog/unreadable-image-refused-before-anything",
      test_unreadable_image_is_refused_before_anything);
  ADD("/klingsrc/catalog/deleted-is-final", test_deleted_is_final);
  ADD("/klingsrc/catalog/error-code-is-shown", test_error_code_is_shown);
  ADD("/klingsrc/catalog/x-client-headers-to-the-api", test_client_headers_to_the_api);
  ADD("/klingsrc/catalog/has-audio-in-task-messages", test_has_audio_in_task_messages);
  ADD("/klingsrc/catalog/builtin-i2v-sends-image-and-guidance-not-aspect-ratio",
      test_i2v_sends_image_not_aspect_ratio);
  ADD("/klingsrc/catalog/builtin-fields-a-model-does-not-take-are-refused",
      test_fields_a_model_does_not_take);
  return g_test_run();
}
