// SPDX-License-Identifier: LGPL-2.1-or-later
// The threads of this process with a given name (/proc/self/task/*/comm): how
// the tests see that an element's own threads are gone. GStreamer and GLib keep
// idle threads of their own, so a plain count would not do.
#pragma once

#include <dirent.h>
#include <glib.h>

#include <string>

inline int count_threads_named(const std::string& wanted, std::string* names = nullptr) {
  int n = 0;
  DIR* dir = opendir("/proc/self/task");
  g_assert_nonnull(dir);
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    g_autofree char* path = g_strdup_printf("/proc/self/task/%s/comm", e->d_name);
    gchar* text = nullptr;
    if (!g_file_get_contents(path, &text, nullptr, nullptr)) continue;  // ended meanwhile
    const std::string name = g_strstrip(text);
    g_free(text);
    if (names) *names += name + " ";
    n += name == wanted;
  }
  closedir(dir);
  return n;
}
