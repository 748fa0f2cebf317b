// SPDX-License-Identifier: LGPL-2.1-or-later
// What the element tells the application: progress messages (COMPLETE before
// the first byte), kling/task messages, and notify::task-id once when it changes.
#include <gst/gst.h>

#include <mutex>
#include <string>
#include <vector>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_progress_and_task_messages(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  bool submit = false, poll = false, id_in_text = false;
  for (const auto& p : run->progress) {
    submit |= p.code == "submit";
    poll |= p.code == "poll";
    id_in_text |= contains(p.text, f->fake->task_id);
    g_assert_false(contains(p.text, f->fake->key));
  }
  g_assert_true(submit);
  g_assert_true(poll);
  g_assert_true(id_in_text);
  // gst-launch waits for a COMPLETE before playing: it must come before the first byte.
  g_assert_true(run->saw_progress_complete);
  g_assert_false(run->buffer_before_complete);
  assert_str_eq(run->last_task_status, "completed");
  assert_str_eq(run->last_task_output, f->fake->output_url());
  g_assert_true(contains(run->task_messages.back(), "inference-time=(gint64)4321"));
  g_assert_true(contains(run->task_messages.back(), "has-nsfw-contents=(boolean)< false >"));
  gchar* id = nullptr;
  g_object_get(run->src, "task-id", &id, nullptr);
  g_assert_cmpstr(id, ==, f->fake->task_id.c_str());
  g_free(id);
}

struct Notified {
  std::mutex mutex;
  std::vector<std::string> ids;  // task-id read in each notify::task-id
};

void on_task_id(GObject* object, GParamSpec*, gpointer data) {
  auto* notified = static_cast<Notified*>(data);
  gchar* id = nullptr;
  g_object_get(object, "task-id", &id, nullptr);  // no lock of the element is held here
  std::lock_guard<std::mutex> lock(notified->mutex);
  notified->ids.push_back(id ? id : "");
  g_free(id);
}

void test_task_id_notifies_when_it_changes(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  Notified notified;
  g_signal_connect(run->src, "notify::task-id", G_CALLBACK(on_task_id), &notified);
  bounded("a run with notify::task-id", 30, [&] { play_to_end(*run); });
  g_assert_true(run->eos);
  std::lock_guard<std::mutex> lock(notified.mutex);
  g_assert_cmpuint(notified.ids.size(), ==, 1);  // once: "" -> the id, not on every status
  assert_str_eq(notified.ids[0], f->fake->task_id);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/messages/progress-before-first-byte-and-task-message",
           test_progress_and_task_messages);
  add_case("/klingsrc/messages/task-id-notifies-when-it-changes",
           test_task_id_notifies_when_it_changes, 1024 * 1024 + 17);
  return g_test_run();
}
