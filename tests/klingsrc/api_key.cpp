// SPDX-License-Identifier: LGPL-2.1-or-later
// The API key: never readable from the element, never in a pipeline dump,
// never in the debug log.
#include <gst/gst.h>

#include <mutex>
#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_key_not_readable(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  GParamSpec* pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(run->src), "api-key");
  g_assert_nonnull(pspec);
  g_assert_false(pspec->flags & G_PARAM_READABLE);
  g_autofree char* dot =
      gst_debug_bin_to_dot_data(GST_BIN(run->pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
  g_assert_false(contains(dot, f->fake->key));
}

std::mutex log_mutex;
std::string captured_log;

void capture_log(GstDebugCategory*, GstDebugLevel, const gchar*, const gchar*, gint, GObject*,
                 GstDebugMessage* message, gpointer) {
  std::lock_guard<std::mutex> lock(log_mutex);
  const gchar* text = gst_debug_message_get(message);
  if (text) captured_log += text;
}

void test_key_never_logged(Fixture* f, gconstpointer) {
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_MEMDUMP);
  gst_debug_add_log_function(capture_log, nullptr, nullptr);
  gst_debug_remove_log_function(gst_debug_log_default);  // capture only, keep stderr quiet
  auto run = make_run(*f->fake);
  play_to_end(*run);
  gst_debug_remove_log_function(capture_log);
  gst_debug_add_log_function(gst_debug_log_default, nullptr, nullptr);
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_NONE);
  g_assert_true(run->eos);
  std::lock_guard<std::mutex> lock(log_mutex);
  g_assert_true(contains(captured_log, f->fake->task_id));  // logging did happen
  g_assert_false(contains(captured_log, f->fake->key));
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/key/not-readable-not-in-dot-dump", test_key_not_readable);
  add_case("/klingsrc/key/never-in-logs", test_key_never_logged);
  return g_test_run();
}
