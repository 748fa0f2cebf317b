// SPDX-License-Identifier: LGPL-2.1-or-later
// A plain driver for the libFuzzer target, built with any compiler and run as a
// meson test: every seed of the corpus, then a fixed number of inputs mutated
// from them with a fixed-seed PRNG (the same inputs on every run). A crash or a
// sanitizer report fails the test. To get the input that failed, run it again
// with FUZZ_REPLAY_DUMP=FILE (each input is written there before it runs), then
// replay that one file (`fuzz-replay FILE`) or give it to the real fuzzer.
#include <glib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Fragments that make mutated replies reach deep into the parser.
const char* const kTokens[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "200",
    "\"code\":",
    "\"data\":",
    "\"message\":",
    "\"error\":",
    "\"status\":",
    "\"outputs\":",
    "\"urls\":{\"get\":",
    "\"has_nsfw_contents\":",
    "\"timings\":{\"inference\":",
    "\"id\":",
    "\"completed\"",
    "\"failed\"",
    "\"5004\"",
    "9223372036854775808",
    "\\u0000",
    "\\ud800",
    "<html>",
    "\xc3",
    "\xff",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    " ",
};

std::string mutate(std::string in, std::mt19937& rng) {
  auto pick = [&](size_t n) {
    return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng) : 0;
  };
  const int steps = 1 + static_cast<int>(pick(6));
  for (int s = 0; s < steps; s++) {
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!in.empty()) in[pick(in.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:  // random byte
        if (!in.empty()) in[pick(in.size())] = static_cast<char>(pick(256));
        break;
      case 2:  // erase a span
        if (!in.empty()) {
          size_t at = pick(in.size());
          in.erase(at, pick(in.size() - at + 1));
        }
        break;
      case 3:  // insert a token
        in.insert(pick(in.size() + 1), kTokens[pick(G_N_ELEMENTS(kTokens))]);
        break;
      case 4:  // duplicate a span
        if (!in.empty()) {
          size_t at = pick(in.size()), len = pick(MIN(in.size() - at, size_t{64}) + 1);
          in.insert(pick(in.size() + 1), in.substr(at, len));
        }
        break;
      case 5:  // truncate
        in.resize(pick(in.size() + 1));
        break;
      default:  // new status bytes
        if (in.size() >= 2) {
          in[0] = static_cast<char>(pick(256));
          in[1] = static_cast<char>(pick(256));
        }
        break;
    }
  }
  return in;
}

bool run_one(const std::string& input) {
  static const char* dump = g_getenv("FUZZ_REPLAY_DUMP");
  if (dump) g_file_set_contents(dump, input.data(), static_cast<gssize>(input.size()), nullptr);
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `replay-main FILE...`: run those inputs only (a crash reproducer).
  if (argc > 1 && !g_file_test(argv[1], G_FILE_TEST_IS_DIR)) {
    for (int i = 1; i < argc; i++) {
      gchar* data = nullptr;
      gsize size = 0;
      if (!g_file_get_contents(argv[i], &data, &size, nullptr)) {
        fprintf(stderr, "cannot read %s\n", argv[i]);
        return 2;
      }
      run_one(std::string(data, size));
      g_free(data);
    }
    return 0;
  }

  const char* dir_path = argc > 1 ? argv[1] : g_getenv("FUZZ_CORPUS");
  if (!dir_path) {
    fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS] | %s FILE...\n", argv[0], argv[0]);
    return 2;
  }
  const long mutations = argc > 2 ? strtol(argv[2], nullptr, 10) : 20000;

  GError* error = nullptr;
  GDir* dir = g_dir_open(dir_path, 0, &error);
  if (!dir) {
    fprintf(stderr, "%s\n", error->message);
    g_error_free(error);
    return 2;
  }
  std::vector<std::string> names;
  while (const char* name = g_dir_read_name(dir)) names.emplace_back(name);
  g_dir_close(dir);
  std::sort(names.begin(), names.end());  // the same order on every machine

  std::vector<std::string> seeds;
  for (const auto& name : names) {
    gchar* path = g_build_filename(dir_path, name.c_str(), nullptr);
    gchar* data = nullptr;
    gsize size = 0;
    if (g_file_get_contents(path, &data, &size, nullptr)) {
      seeds.emplace_back(data, size);
      g_free(data);
    }
    g_free(path);
  }
  if (seeds.empty()) {
    fprintf(stderr, "no seeds in %s\n", dir_path);
    return 2;
  }
  for (const auto& seed : seeds) run_one(seed);

  std::mt19937 rng(0x6b6c696e);  // "klin": fixed, so a failure reproduces
  for (long i = 0; i < mutations; i++) {
    const std::string& base = seeds[static_cast<size_t>(i) % seeds.size()];
    std::string input = mutate(base, rng);
    run_one(input);
  }
  printf("fuzz-replay: %zu seeds and %ld mutations ran clean\n", seeds.size(), mutations);
  return 0;
}
