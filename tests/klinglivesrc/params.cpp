// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc offers every request property of klingsrc, `params` (a boxed
// GstStructure) included, and what is set there reaches each request's submit
// body, as the emulator's request log shows.
#include <gst/gst.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/emulator_process.h"

namespace {

// Every writable property klingsrc installs itself, but the per-request ones, is on
// klinglivesrc with the same value type.
void test_every_request_property_is_offered() {
  g_autoptr(GstElement) src = gst_element_factory_make("klingsrc", nullptr);
  g_autoptr(GstElement) live = gst_element_factory_make("klinglivesrc", nullptr);
  g_assert_nonnull(src);
  g_assert_nonnull(live);
  const GType src_type = G_OBJECT_TYPE(src);
  guint n = 0;
  g_autofree GParamSpec** specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(src), &n);
  guint checked = 0;
  for (guint i = 0; i < n; i++) {
    GParamSpec* p = specs[i];
    const char* name = g_param_spec_get_name(p);
    if (p->owner_type != src_type || !(p->flags & G_PARAM_WRITABLE) || !strcmp(name, "prompt") ||
        !strcmp(name, "task-id") || !strcmp(name, "request-id"))
      continue;
    GParamSpec* live_spec = g_object_class_find_property(G_OBJECT_GET_CLASS(live), name);
    if (!live_spec) g_error("klinglivesrc has no \"%s\", a request property of klingsrc", name);
    g_assert_cmpstr(g_type_name(live_spec->value_type), ==, g_type_name(p->value_type));
    checked++;
  }
  g_assert_cmpuint(checked, >, 20);
}

// The submits' log lines in the emulator's request log, one a line.
std::vector<std::string> submit_lines(const Emulator& emu) {
  std::vector<std::string> out;
  g_auto(GStrv) lines = g_strsplit(emu.log().c_str(), "\n", -1);
  for (char** line = lines; *line; line++)
    if (strstr(*line, "\"method\":\"POST\"") && strstr(*line, "kling-v9-t2v-test") &&
        !strstr(*line, "/api/v3/model/price"))
      out.push_back(*line);
  return out;
}

// The one submit of `prompt` (the body is a JSON string inside the log line: its quotes are
// escaped), or "" while there is none.
std::string submit_of(const std::vector<std::string>& submits, const char* prompt) {
  const std::string key = std::string("\\\"prompt\\\":\\\"") + prompt + "\\\"";
  std::string found;
  for (const auto& line : submits)
    if (line.find(key) != std::string::npos) {
      if (!found.empty())
        g_error("%s was submitted twice:\n%s\n%s", prompt, found.c_str(), line.c_str());
      found = line;
    }
  return found;
}

// params set on klinglivesrc (a field with no property of its own) is in the submit body of
// the request it makes, typed by the model's schema; a request queued later carries it too.
void test_params_reaches_the_submit_body() {
  auto emu = start_emulator({});
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "klinglivesrc name=src ! video/x-raw,width=160,height=90 ! fakesink sync=true", nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_autoptr(GstStructure) params = gst_structure_from_string("p, cfg_scale=0.25", nullptr);
  g_object_set(src, "api-url", emu->api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", "model", "kwaivgi/kling-v9-t2v-test", "params", params, "prompt",
               "a fox with params", nullptr);
  // Read back as set.
  GstStructure* back = nullptr;
  g_object_get(src, "params", &back, nullptr);
  g_assert_nonnull(back);
  g_assert_true(gst_structure_is_equal(back, params));
  gst_structure_free(back);

  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  gboolean queued = FALSE;
  g_signal_emit_by_name(src, "queue", "a second fox", &queued);
  g_assert_true(queued);
  // The event: both submits in the log, whole lines (ahead=2 generates both at once, either
  // first). The bound only reports one that never comes.
  std::vector<std::string> submits;
  for (gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
       submit_of(submits, "a fox with params").empty() ||
       submit_of(submits, "a second fox").empty();
       submits = submit_lines(*emu)) {
    if (g_get_monotonic_time() > end)
      g_error("both submits not in the emulator's log within 60 s: %zu", submits.size());
    g_usleep(20 * 1000);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  submits = submit_lines(*emu);  // and no other after them
  for (const auto& line : submits) g_test_message("submit: %s", line.c_str());
  g_assert_cmpuint(submits.size(), ==, 2);
  for (const char* prompt : {"a fox with params", "a second fox"})
    g_assert_nonnull(strstr(submit_of(submits, prompt).c_str(), "\\\"cfg_scale\\\":0.25"));
}

// A fleet's ledger set on klinglivesrc reads back as klingsrc's does: without its password
// (a pipeline's graph dump prints it).
void test_journal_reads_back_without_a_password() {
  g_autoptr(GstElement) live = gst_element_factory_make("klinglivesrc", nullptr);
  g_object_set(live, "journal", "postgresql://fleet:pw-fleet-secret@db.example:5432/kling",
               nullptr);
  g_autofree char* journal = nullptr;
  g_object_get(live, "journal", &journal, nullptr);
  g_assert_cmpstr(journal, ==, "postgresql://fleet@db.example:5432/kling");
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/params/every-request-property-is-offered",
                  test_every_request_property_is_offered);
  g_test_add_func("/klinglivesrc/params/reaches-the-submit-body",
                  test_params_reaches_the_submit_body);
  g_test_add_func("/klinglivesrc/params/journal-reads-back-without-a-password",
                  test_journal_reads_back_without_a_password);
  return g_test_run();
}
