// SPDX-License-Identifier: LGPL-2.1-or-later
// A request's identity is the body its submit carries (issue 10's gap): the same
// body asked for through `params` or through the named properties, a params value
// written as a string where the model's schema types it, `prompt` repeated in
// params, are one generation, paid once, found in the cache at start(). Requests
// whose bodies differ (another value, model, account, origin, variation,
// request-id) stay apart, and the fingerprint of a request without params is
// what it always was (ledgers and caches already on disk name it).
//
// Against the scripted fake API on loopback, submits counted from its log.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/request/request.h"
#include "core/storage/cache_paths.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/submit_body.h"
#include "support/catalog_fixture.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a fox counted once";

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-identity-XXXXXX", nullptr);
  return dir;
}

// One run of klingsrc against `fake`, journaled in `ledger`, with `props` set as
// gst-launch would (name, value as text; "params" a GstStructure).
std::unique_ptr<Run> run_with(FakeWaveSpeed& fake, const std::string& ledger,
                              std::initializer_list<std::pair<const char*, const char*>> props) {
  auto run = parse_run("klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", ledger.c_str(), "prompt", kPrompt, nullptr);
  for (const auto& [name, value] : props) gst_util_set_object_arg(G_OBJECT(run->src), name, value);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == fake.video);
  return run;
}

int submits(const FakeWaveSpeed& fake) {
  return fake.count("api", "POST");
}

// The n-th submit's body (1-based), parsed; the test owns it through `parser`.
JsonObject* submit_body(const FakeWaveSpeed& fake, int n, JsonParser* parser) {
  int seen = 0;
  for (const RecordedRequest& r : fake.requests())
    if (r.server == "api" && r.method == "POST" && ++seen == n) {
      g_assert_true(json_parser_load_from_data(parser, r.body.c_str(), -1, nullptr));
      return json_node_get_object(json_parser_get_root(parser));
    }
  g_assert_not_reached();
  return nullptr;
}

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  std::string ledger;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(256 * 1024 + 7);
  f->fake->polls_until_done = 1;
  f->ledger = temp_dir() + "/ledger.db";
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
}

// `duration=10` and `params="p,duration=10"` POST {"duration":10,...}: one submit,
// whichever comes first; so does params' duration written as a string, which the
// model's schema (the built-in table: no catalogue here) types as an integer.
void test_params_field_is_the_property(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  run_with(fake, f->ledger, {{"params", "p, duration=10"}});
  g_assert_cmpint(submits(fake), ==, 1);
  run_with(fake, f->ledger, {{"duration", "10"}});
  run_with(fake, f->ledger, {{"params", "p, duration=(string)10"}});
  run_with(fake, f->ledger, {{"duration", "10"}, {"params", "p, duration=(string)10"}});
  g_assert_cmpint(submits(fake), ==, 1);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_cmpint(json_object_get_int_member(submit_body(fake, 1, parser), "duration"), ==, 10);

  // Another value is another body: paid for, once.
  run_with(fake, f->ledger, {{"params", "p, duration=5"}});
  g_assert_cmpint(submits(fake), ==, 2);
  run_with(fake, f->ledger, {});  // the property's default: duration 5, the same body
  run_with(fake, f->ledger, {{"duration", "5"}});
  g_assert_cmpint(submits(fake), ==, 2);
}

// `prompt` in params loses to the property (it is never sent): the body is the
// property's, and so is the identity.
void test_prompt_in_params_is_not_sent(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  run_with(fake, f->ledger, {});
  run_with(fake, f->ledger, {{"params", (std::string("p, prompt=\"") + kPrompt + "\"").c_str()}});
  run_with(fake, f->ledger, {{"params", "p, prompt=\"something else\""}});
  g_assert_cmpint(submits(fake), ==, 1);
}

// The cache is looked up at start(), before any network: the same body asked the
// other way replays from it, with no request to the API at all.
void test_cache_found_at_start(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  const std::string cache = temp_dir();
  run_with(fake, "none",
           {{"cache-dir", cache.c_str()}, {"duration", "10"}, {"aspect-ratio", "1:1"}});
  const size_t requests = fake.requests().size();
  auto replay = run_with(
      fake, "none",
      {{"cache-dir", cache.c_str()}, {"params", "p, duration=(string)10, aspect_ratio=1:1"}});
  g_assert_true(progress_says(*replay, "Replaying the cached video"));
  g_assert_cmpuint(fake.requests().size(), ==, requests);
  g_assert_cmpint(submits(fake), ==, 1);
}

// A model only the catalogue knows: its schema, on disk and fresh since the first
// run fetched it, types params at start() as the submit does (seed an integer,
// cfg_scale a number, duration a string, the property included).
void test_fresh_catalogue_types_the_identity(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  fake.catalog = kCatalog;
  run_with(fake, f->ledger,
           {{"model", kUnknownModel}, {"params", "p, mode=std, seed=42, cfg_scale=0.25"}});
  g_assert_cmpint(fake.count("catalog", "GET"), ==, 1);
  run_with(fake, f->ledger,
           {{"model", kUnknownModel},
            {"params", "p, cfg_scale=(string)0.25, seed=(string)42, mode=std"}});
  g_assert_cmpint(submits(fake), ==, 1);

  run_with(fake, f->ledger,
           {{"model", kUnknownModel},
            {"duration", "10"},
            {"params", "p, mode=std, seed=42, cfg_scale=0.25"}});
  g_assert_cmpint(submits(fake), ==, 2);
  run_with(fake, f->ledger,
           {{"model", kUnknownModel},
            {"params", "p, mode=std, seed=42, cfg_scale=0.25, duration=(string)10"}});
  run_with(
      fake, f->ledger,
      {{"model", kUnknownModel}, {"params", "p, mode=std, seed=42, cfg_scale=0.25, duration=10"}});
  g_assert_cmpint(submits(fake), ==, 2);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject* body = submit_body(fake, 2, parser);
  g_assert_cmpstr(json_object_get_string_member(body, "duration"), ==, "10");
  g_assert_cmpint(json_object_get_int_member(body, "seed"), ==, 42);
  g_assert_cmpint(fake.count("catalog", "GET"), ==, 1);  // fetched once, then read from disk
}

// What truly differs still differs: another value, variation, model, account or
// origin is another submit, even where the rest is one body asked two ways.
void test_what_differs_still_differs(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  run_with(fake, f->ledger, {{"params", "p, duration=10"}});
  run_with(fake, f->ledger, {{"duration", "10"}});
  g_assert_cmpint(submits(fake), ==, 1);
  run_with(fake, f->ledger, {{"duration", "10"}, {"variation", "1"}});
  run_with(fake, f->ledger, {{"params", "p, duration=(string)10"}, {"variation", "1"}});
  g_assert_cmpint(submits(fake), ==, 2);
  run_with(fake, f->ledger,
           {{"params", "p, duration=10"}, {"model", "kwaivgi/kling-v2.1-t2v-master"}});
  g_assert_cmpint(submits(fake), ==, 3);
  run_with(fake, f->ledger, {{"params", "p, duration=10, negative_prompt=blur"}});
  run_with(fake, f->ledger, {{"duration", "10"}, {"negative-prompt", "blur"}});
  g_assert_cmpint(submits(fake), ==, 4);
  // Another account: the fake takes any key it is told to.
  fake.key = "another-key";
  run_with(fake, f->ledger, {{"params", "p, duration=10"}});
  g_assert_cmpint(submits(fake), ==, 5);
  // Another origin, same ledger.
  FakeWaveSpeed other;
  other.video = fake.video;
  other.polls_until_done = 1;
  run_with(other, f->ledger, {{"params", "p, duration=10"}});
  g_assert_cmpint(submits(other), ==, 1);
  g_assert_cmpint(submits(fake), ==, 5);
}

// Without a schema for the model (not in the built-in table, no catalogue), a params
// value goes as given: "42" and 42 are two bodies, two submits. Folded into the
// named fields, a params request still names the same generation as the property.
void test_unknown_model_values_as_given(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  const char* model = "someone/unlisted-t2v";
  run_with(fake, f->ledger, {{"model", model}, {"params", "p, seed=42"}});
  run_with(fake, f->ledger, {{"model", model}, {"params", "p, seed=(string)42"}});
  g_assert_cmpint(submits(fake), ==, 2);
  run_with(fake, f->ledger, {{"model", model}, {"duration", "10"}});
  run_with(fake, f->ledger, {{"model", model}, {"params", "p, duration=10"}});
  g_assert_cmpint(submits(fake), ==, 3);
}

// The fingerprint of a request without params is what it was (these values were
// printed by the tree before the change): a ledger row or a cache entry already on
// disk still names it. Its params twin now names the same one.
void test_fingerprint_without_params_unchanged() {
  using kling::ParamValue;
  kling::Request plain;
  plain.prompt = "a red fox";
  plain.api_key = "sk-test";
  plain.api_url = "https://api.wavespeed.ai";
  assert_str_eq(plain.fingerprint(),
                "c12f8e96a706eb9a9e98c545059ef9c953253052226687558b52f60141a6b855");
  kling::Request ten = plain;
  ten.duration = 10;
  ten.duration_set = true;
  ten.negative_prompt = "blur";
  ten.guidance_scale = 0.5;
  const std::string golden = "92eb825777a1b2d45b71c68d15fb14c73af37cca2122648252be88a74ec2f569";
  assert_str_eq(ten.fingerprint(), golden);

  kling::Request twin = plain;
  twin.params = {{"duration", ParamValue::of(std::string("10"))},
                 {"guidance_scale", ParamValue::of(0.5)},
                 {"negative_prompt", ParamValue::of(std::string("blur"))}};
  assert_str_eq(twin.fingerprint(), golden);
  // request-id names another generation (a task to resume), as before.
  kling::Request resume = twin;
  resume.request_id = "task-1";
  g_assert_true(resume.fingerprint() != golden);
}

// A JSON object's members in name order (the order of a body's keys says nothing).
std::string sorted_members(const std::string& json) {
  g_autoptr(JsonParser) parser = json_parser_new();
  g_assert_true(json_parser_load_from_data(parser, json.c_str(), -1, nullptr));
  JsonObject* o = json_node_get_object(json_parser_get_root(parser));
  std::map<std::string, std::string> members;
  g_autoptr(GList) names = json_object_get_members(o);
  for (GList* l = names; l; l = l->next) {
    g_autofree char* value =
        json_to_string(json_object_get_member(o, static_cast<const char*>(l->data)), FALSE);
    members[static_cast<const char*>(l->data)] = value;
  }
  std::string out;
  for (const auto& [name, value] : members) out += name + "=" + value + ";";
  return out;
}

// Over many ways of asking (named properties, params typed or as strings, both at
// once, the two built-in model kinds): two requests share a fingerprint exactly when
// their submit bodies (build_submit_body, the built-in schema: no catalogue on disk
// here) and their variations are the same.
void test_same_body_same_fingerprint() {
  using kling::ParamValue;
  struct Asked {
    const char* what;
    kling::Request request;
  };
  std::vector<Asked> asked;
  for (const char* model : {"kwaivgi/kling-v2.0-t2v-master", "kwaivgi/kling-v2.1-i2v-master"}) {
    const bool i2v = strstr(model, "i2v") != nullptr;
    for (unsigned variation : {0u, 1u}) {
      kling::Request base;
      base.model = model;
      base.prompt = "a red fox";
      base.api_key = "sk-test";
      base.variation = variation;
      auto add = [&](const char* what, auto change) {
        kling::Request r = base;
        if (i2v) r.image = "https://example.com/fox.png";
        change(r);
        asked.push_back({what, r});
      };
      auto param = [](kling::Request& r, const char* name, ParamValue v) {
        r.params.push_back({name, v});
      };
      add("plain", [](kling::Request&) {});
      add("duration=5 set", [](kling::Request& r) { r.duration_set = true; });
      add("duration=10", [](kling::Request& r) {
        r.duration = 10;
        r.duration_set = true;
      });
      add("params duration 10",
          [&](kling::Request& r) { param(r, "duration", ParamValue::of(int64_t(10))); });
      add("params duration \"10\"",
          [&](kling::Request& r) { param(r, "duration", ParamValue::of(std::string("10"))); });
      add("params duration 10.0",
          [&](kling::Request& r) { param(r, "duration", ParamValue::of(10.0)); });
      add("params duration 5",
          [&](kling::Request& r) { param(r, "duration", ParamValue::of(int64_t(5))); });
      add("duration=10, params duration 5", [&](kling::Request& r) {
        r.duration = 10;
        r.duration_set = true;
        param(r, "duration", ParamValue::of(int64_t(5)));
      });
      add("params prompt",
          [&](kling::Request& r) { param(r, "prompt", ParamValue::of(std::string("a cat"))); });
      add("negative-prompt", [](kling::Request& r) { r.negative_prompt = "blur"; });
      add("params negative_prompt", [&](kling::Request& r) {
        param(r, "negative_prompt", ParamValue::of(std::string("blur")));
      });
      add("guidance-scale=0.5", [](kling::Request& r) { r.guidance_scale = 0.5; });
      add("params guidance_scale \"0.5\"", [&](kling::Request& r) {
        param(r, "guidance_scale", ParamValue::of(std::string("0.5")));
      });
      add("params guidance_scale 0.25",
          [&](kling::Request& r) { param(r, "guidance_scale", ParamValue::of(0.25)); });
      if (i2v) {
        add("params image, no property", [&](kling::Request& r) {
          r.image.clear();
          param(r, "image", ParamValue::of(std::string("https://example.com/fox.png")));
        });
        add("params other image", [&](kling::Request& r) {
          r.image.clear();
          param(r, "image", ParamValue::of(std::string("https://example.com/cat.png")));
        });
      } else {
        add("aspect-ratio=1:1", [](kling::Request& r) {
          r.aspect_ratio = "1:1";
          r.aspect_ratio_set = true;
        });
        add("params aspect_ratio 1:1", [&](kling::Request& r) {
          param(r, "aspect_ratio", ParamValue::of(std::string("1:1")));
        });
        add("params aspect_ratio 16:9", [&](kling::Request& r) {
          param(r, "aspect_ratio", ParamValue::of(std::string("16:9")));
        });
      }
    }
  }
  std::vector<std::string> bodies, fingerprints;
  for (const Asked& a : asked) {
    const kling::ModelSchema* schema = kling::find_model(kling::builtin_models(), a.request.model);
    kling::SubmitBody body;
    g_assert_false(build_submit_body(a.request, schema, {}, &body).has_value());
    bodies.push_back(a.request.model + " " + sorted_members(body.json) + " variation " +
                     std::to_string(a.request.variation));
    fingerprints.push_back(a.request.fingerprint());
  }
  unsigned same = 0;
  for (size_t i = 0; i < asked.size(); i++)
    for (size_t j = i + 1; j < asked.size(); j++) {
      if ((bodies[i] == bodies[j]) != (fingerprints[i] == fingerprints[j]))
        g_error("\"%s\" and \"%s\" (%s): %s", asked[i].what, asked[j].what,
                bodies[i] == bodies[j] ? "one body" : "two bodies",
                fingerprints[i] == fingerprints[j] ? "one fingerprint" : "two fingerprints");
      same += bodies[i] == bodies[j];
    }
  g_assert_cmpuint(same, >, 20);  // the list does ask for the same body many ways
}

}  // namespace

#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)

int main(int argc, char** argv) {
  unset_kling_environment();
  // A catalogue of our own: another test's fake may have used the same port within the hour.
  const std::string cache_home = temp_dir();
  g_setenv("XDG_CACHE_HOME", cache_home.c_str(), TRUE);
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/core/fingerprint/fingerprint-without-params-unchanged",
                  test_fingerprint_without_params_unchanged);
  g_test_add_func("/core/fingerprint/same-body-same-fingerprint", test_same_body_same_fingerprint);
  ADD("/core/fingerprint/params-field-is-the-property", test_params_field_is_the_property);
  ADD("/core/fingerprint/prompt-in-params-is-not-sent", test_prompt_in_params_is_not_sent);
  ADD("/core/fingerprint/cache-found-at-start", test_cache_found_at_start);
  ADD("/core/fingerprint/fresh-catalogue-types-the-identity",
      test_fresh_catalogue_types_the_identity);
  ADD("/core/fingerprint/what-differs-still-differs", test_what_differs_still_differs);
  ADD("/core/fingerprint/unknown-model-values-as-given", test_unknown_model_values_as_given);
  return g_test_run();
}
