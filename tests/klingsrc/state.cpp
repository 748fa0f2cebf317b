// SPDX-License-Identifier: LGPL-2.1-or-later
// State changes at every moment of a generation: NULL during a submit, a poll,
// a backoff or a download is prompt; EOS while polling says the task goes on;
// playing again after a stop never pays twice and resumes the same task.
#include <gio/gio.h>
#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

// What an uncancelled stop would wait out (the hung reply: request-timeout; the backoff:
// Retry-After) is an hour, so NULL returning at all shows the wait was cut; the bound only
// reports a hang, it measures nothing (a busy machine cannot fail it).
constexpr unsigned kHour = 3600;
constexpr unsigned kHangBound = 60;

void null_ends_the_wait(Run& run, const char* during) {
  bounded(during, kHangBound, [&] {
    g_assert_cmpint(gst_element_set_state(run.pipeline, GST_STATE_NULL), ==,
                    GST_STATE_CHANGE_SUCCESS);
  });
}

std::unique_ptr<Run> make_patient_run(FakeWaveSpeed& fake) {
  auto run = make_run(fake);
  g_object_set(run->src, "request-timeout", kHour, "timeout", 0u, nullptr);
  return run;
}

void test_null_during_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_patient_run(*f->fake);
  play_until(*run, *f->fake, "api", "GET", 2);
  null_ends_the_wait(*run, "NULL while polling");
  // Stopped: no poll after NULL returned; the paid task is not cancelled remotely.
  const int polls = f->fake->count("api", "GET");
  g_usleep(100 * 1000);  // five poll intervals
  g_assert_cmpint(f->fake->count("api", "GET"), ==, polls);
  g_assert_cmpint(f->fake->count("api", "DELETE"), ==, 0);
}

void test_null_during_hung_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> { return FakeReply::hung(); };
  auto run = make_patient_run(*f->fake);
  play_until(*run, *f->fake, "api", "POST", 1);
  g_usleep(50 * 1000);
  null_ends_the_wait(*run, "NULL during a submit never answered");
}

void test_null_during_hung_download(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply::hung();
  };
  auto run = make_patient_run(*f->fake);
  play_until(*run, *f->fake, "cdn", "GET", 1);
  g_usleep(50 * 1000);
  null_ends_the_wait(*run, "NULL during a download never answered");
}

void test_null_during_backoff(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r{503, "<html>busy</html>", "text/html"};
    r.headers["Retry-After"] = std::to_string(kHour);
    return r;
  };
  auto run = make_patient_run(*f->fake);
  play_until(*run, *f->fake, "api", "GET", 1);
  g_usleep(100 * 1000);  // now in the hour's wait
  null_ends_the_wait(*run, "NULL during a Retry-After of an hour");
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 1);
}

// gst-launch -e sends EOS on Ctrl-C: the pipeline ends at once and says the task goes on.
void test_eos_while_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_run(*f->fake);
  play_until(*run, *f->fake, "api", "GET", 2);
  gst_element_send_event(run->pipeline, gst_event_new_eos());
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  // Uncancelled, the polling would never end: the bound only reports that.
  GstMessage* msg = gst_bus_timed_pop_filtered(
      bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);
  g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
  gst_message_unref(msg);
  size_t said = 0;
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    g_assert_true(run->progress.back().type == GST_PROGRESS_TYPE_CANCELED);
    g_assert_true(contains(run->progress.back().text, "request-id=" + f->fake->task_id));
    said = run->progress.size();
  }
  gst_element_set_state(run->pipeline, GST_STATE_NULL);  // said once, not again at stop
  std::lock_guard<std::mutex> lock(run->mutex);
  g_assert_cmpuint(run->progress.size(), ==, said);
}

// NULL while a submit is in flight: the task may exist. Playing again must not pay twice.
void test_no_resubmit_after_unanswered_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> { return FakeReply::hung(); };
  auto run = make_run(*f->fake);
  play_until(*run, *f->fake, "api", "POST", 1);
  g_usleep(50 * 1000);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "avoid a second charge");
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);

  // The user who wants it anyway says so.
  f->fake->on_submit = nullptr;
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  g_clear_error(&run->error);
  g_object_set(run->src, "resume-unfinished", FALSE, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// A submit that never left the machine (nothing listens) made no task: trying again is fine.
void test_unsent_submit_is_not_held_against_a_rerun(Fixture* f, gconstpointer) {
  g_autoptr(GSocket) sock =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(sock, any, TRUE, nullptr));  // a port of ours, never listened on
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(sock, nullptr);
  const std::string url =
      "http://127.0.0.1:" +
      std::to_string(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-url", url.c_str(), "retries", 1u, nullptr);
  for (int cycle = 0; cycle < 2; cycle++) {
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Could not submit");
    g_assert_false(contains(run->error->message, "second charge"));
    g_assert_true(progress_says(*run, "no task was made"));
    gst_element_set_state(run->pipeline, GST_STATE_NULL);
    g_clear_error(&run->error);
  }
}

// An application that restarts the pipeline from a bus sync handler (on the
// element's own worker thread): no deadlock, no second submit, the whole video.
struct Restart {
  GstElement* pipeline;
  std::atomic<bool> done{false};
};

GstBusSyncReply restart_on_first_poll(GstBus*, GstMessage* msg, gpointer data) {
  auto* r = static_cast<Restart*>(data);
  GstProgressType type;
  gchar *code = nullptr, *text = nullptr;
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_PROGRESS) return GST_BUS_PASS;
  gst_message_parse_progress(msg, &type, &code, &text);
  const bool polling = g_str_equal(code, "poll") && type == GST_PROGRESS_TYPE_CONTINUE;
  g_free(code);
  g_free(text);
  if (polling && !r->done.exchange(true)) {
    gst_element_set_state(r->pipeline, GST_STATE_NULL);
    gst_element_set_state(r->pipeline, GST_STATE_PLAYING);
  }
  return GST_BUS_PASS;
}

void test_restart_from_a_sync_handler(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 3;
  auto run = make_run(*f->fake);
  Restart restart{run->pipeline};
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  gst_bus_set_sync_handler(bus, restart_on_first_poll, &restart, nullptr);
  play_to_end(*run, 20);
  g_assert_no_error(run->error);
  g_assert_true(restart.done);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
}

void test_no_second_submit_across_state_cycles(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  GstState state;
  for (int cycle = 0; cycle < 2; cycle++) {
    gst_element_set_state(run->pipeline, GST_STATE_PAUSED);
    g_assert_cmpint(gst_element_get_state(run->pipeline, &state, nullptr, 20 * GST_SECOND), ==,
                    GST_STATE_CHANGE_SUCCESS);
    gst_element_set_state(run->pipeline, GST_STATE_READY);
  }
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_resume_after_stop_while_polling(Fixture* f, gconstpointer) {
  auto run = stopped_while_polling(f);
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    run->bytes.clear();
  }
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/state/null-during-backoff-is-prompt", test_null_during_backoff);
  add_case("/klingsrc/state/eos-while-polling-ends-and-says-the-task-goes-on",
           test_eos_while_polling);
  add_case("/klingsrc/state/null-during-polling-is-prompt", test_null_during_polling);
  add_case("/klingsrc/state/no-resubmit-after-an-unanswered-submit",
           test_no_resubmit_after_unanswered_submit);
  add_case("/klingsrc/state/unsent-submit-is-not-held-against-a-rerun",
           test_unsent_submit_is_not_held_against_a_rerun);
  add_case("/klingsrc/state/restart-from-a-sync-handler-on-the-worker",
           test_restart_from_a_sync_handler);
  add_case("/klingsrc/state/null-during-hung-submit-is-prompt", test_null_during_hung_submit);
  add_case("/klingsrc/state/null-during-hung-download-is-prompt", test_null_during_hung_download);
  add_case("/klingsrc/state/no-second-submit-across-ready-paused-cycles",
           test_no_second_submit_across_state_cycles);
  add_case("/klingsrc/state/stop-while-polling-then-play-resumes-same-task",
           test_resume_after_stop_while_polling);
  return g_test_run();
}
