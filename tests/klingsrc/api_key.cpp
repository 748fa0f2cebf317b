// SPDX-License-Identifier: LGPL-2.1-or-later
// The API key: never readable from the element, never in a pipeline dump,
// never in the debug log; a ledger server's password neither, nor in an error.
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

// A fleet's ledger server that cannot be reached (nothing listens on port 1): the run fails
// closed, a RESOURCE error naming the ledger; its password is never read back, dumped,
// logged or put in the error, as the key is not.
void test_unreachable_ledger_server_fails_closed_without_its_password(Fixture* f, gconstpointer) {
  const char* secret = "pw-fleet-secret";
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_MEMDUMP);
  gst_debug_add_log_function(capture_log, nullptr, nullptr);
  gst_debug_remove_log_function(gst_debug_log_default);
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", "postgresql://fleet:pw-fleet-secret@127.0.0.1:1/kling",
               nullptr);
  g_autofree char* journal = nullptr;
  g_object_get(run->src, "journal", &journal, nullptr);
  g_assert_cmpstr(journal, ==, "postgresql://fleet@127.0.0.1:1/kling");
  g_autofree char* dot =
      gst_debug_bin_to_dot_data(GST_BIN(run->pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
  g_assert_false(contains(dot, secret));
  play_to_end(*run);
  gst_debug_remove_log_function(capture_log);
  gst_debug_add_log_function(gst_debug_log_default, nullptr, nullptr);
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_NONE);
  g_assert_nonnull(run->error);
  g_assert_true(run->error->domain == GST_RESOURCE_ERROR);
  g_assert_true(contains(run->error->message, "ledger postgresql://fleet@127.0.0.1:1/kling"));
  g_assert_false(contains(run->error->message, secret));
  g_assert_false(contains(run->debug, secret));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);  // neither quoted nor submitted
  std::lock_guard<std::mutex> lock(log_mutex);
  g_assert_false(contains(captured_log, secret));
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/key/not-readable-not-in-dot-dump", test_key_not_readable);
  add_case("/klingsrc/key/never-in-logs", test_key_never_logged);
  add_case("/klingsrc/key/unreachable-ledger-server-fails-closed-without-its-password",
           test_unreachable_ledger_server_fails_closed_without_its_password);
  return g_test_run();
}
