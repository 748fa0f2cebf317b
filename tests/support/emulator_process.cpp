// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/emulator_process.h"

#include <glib.h>
#include <sys/prctl.h>

#include <csignal>

#include "support/catalog_fixture.h"

Emulator::~Emulator() {
  if (process) {
    g_subprocess_send_signal(process, SIGTERM);
    g_subprocess_wait(process, nullptr, nullptr);
    g_object_unref(process);
  }
}

std::string Emulator::log() const {
  gchar* data = nullptr;
  g_file_get_contents(log_path.c_str(), &data, nullptr, nullptr);
  std::string out = data ? data : "";
  g_free(data);
  // A last line without its newline is still being written: it is read next time.
  out.erase(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  return out;
}

std::unique_ptr<Emulator> start_emulator(std::vector<std::string> flags, int latency_ms) {
  auto emu = std::make_unique<Emulator>();
  g_autofree char* dir = g_dir_make_tmp("kling-e2e-XXXXXX", nullptr);
  emu->output_dir = dir;
  emu->log_path = emu->output_dir + "/requests.jsonl";
  std::vector<std::string> args = {g_getenv("KLING_EMULATOR"),
                                   "--latency-ms",
                                   std::to_string(latency_ms),
                                   "--video-scale",
                                   "4",
                                   "--cdn-host",
                                   "127.0.0.2",
                                   "--request-log",
                                   emu->log_path,
                                   "--output-dir",
                                   emu->output_dir};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup(
      launcher, [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGTERM); }, nullptr, nullptr);
  g_autoptr(GError) error = nullptr;
  emu->process = g_subprocess_launcher_spawnv(launcher, argv.data(), &error);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(emu->process));
  for (int i = 0; i < 2; i++) {
    g_autofree char* line = g_data_input_stream_read_line(out, nullptr, nullptr, nullptr);
    g_assert_nonnull(line);
    if (g_str_has_prefix(line, "API: ")) emu->api = line + 5;
  }
  g_assert_false(emu->api.empty());
  forget_catalogue(emu->api);
  return emu;
}
