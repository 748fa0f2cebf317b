// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: sync mode (enable_sync_mode): the submit's reply waits until the
// task is final, or past --sync-timeout-ms answers "processing" with code 5004.
#include "api_server.h"

namespace emu {

namespace {

constexpr guint kTickMs = 20;

void on_disconnected(SoupServerMessage*, gpointer wait) {
  static_cast<bool*>(wait)[0] = true;
}

}  // namespace

void ApiServer::wait_sync(SoupServerMessage* msg, const std::string& id) {
  auto wait = std::make_unique<SyncWait>();
  wait->msg = SOUP_SERVER_MESSAGE(g_object_ref(msg));
  wait->id = id;
  wait->deadline_us = g_get_monotonic_time() + int64_t(config_.sync_timeout_ms) * 1000;
  wait->disconnected =
      g_signal_connect(msg, "disconnected", G_CALLBACK(on_disconnected), &wait->gone);
  soup_server_message_pause(msg);
  sync_waits_.push_back(std::move(wait));
  if (!sync_timer_) sync_timer_ = g_timeout_add(kTickMs, on_sync_tick, this);
  sync_tick();  // a task already final (latency 0) answers at once
}

gboolean ApiServer::on_sync_tick(gpointer self) {
  auto* server = static_cast<ApiServer*>(self);
  if (server->sync_tick()) return G_SOURCE_CONTINUE;
  server->sync_timer_ = 0;
  return G_SOURCE_REMOVE;
}

bool ApiServer::sync_tick() {
  const int64_t now = g_get_monotonic_time();
  for (auto it = sync_waits_.begin(); it != sync_waits_.end();) {
    SyncWait& wait = **it;
    bool done = wait.gone;
    if (!done) {
      auto view = tasks_.view(wait.id);
      const bool final = !view || view->status == "completed" || view->status == "failed" ||
                         view->status == "deleted";
      if (final || now >= wait.deadline_us) {
        if (view && !final) {
          view->status = "processing";
          view->code = 5004;
          view->error = "Sync mode timed out after " + std::to_string(config_.sync_timeout_ms) +
                        " ms; the task goes on: poll urls.get for its result";
        }
        if (view)
          reply(wait.msg, SOUP_STATUS_OK, "application/json", task_json(*view));
        else
          reply_envelope_error(wait.msg, SOUP_STATUS_NOT_FOUND, "Prediction not found: " + wait.id);
        soup_server_message_unpause(wait.msg);
        done = true;
      }
    }
    if (done) {
      release_sync_wait(wait);
      it = sync_waits_.erase(it);
    } else {
      ++it;
    }
  }
  return !sync_waits_.empty();
}

void ApiServer::release_sync_wait(SyncWait& wait) {
  if (!wait.msg) return;
  g_signal_handler_disconnect(wait.msg, wait.disconnected);
  g_object_unref(wait.msg);
  wait.msg = nullptr;
}

}  // namespace emu
