// SPDX-License-Identifier: LGPL-2.1-or-later
// g_assert_cmpstr keeps the pointers it is given: bind temporaries first.
#pragma once

#include <glib.h>

#include <string>

#define assert_str_eq(a, b)                      \
  do {                                           \
    const std::string _a = (a), _b = (b);        \
    g_assert_cmpstr(_a.c_str(), ==, _b.c_str()); \
  } while (0)
