// SPDX-License-Identifier: LGPL-2.1-or-later
// The request properties klinglivesrc forwards to each clip's klingsrc are taken
// without copying them: the output asks for them every frame, and a copy of every
// value (a params structure, strings) under the element's lock each time was work
// on the streaming thread that a property set once a day does not need. The list
// taken is the same one until a property is set; one taken before keeps its values.
#include <gst/gst.h>

#include "klinglive/forwarded_properties.h"

namespace {

void test_taken_without_a_copy_until_set() {
  kling::live::ForwardedSettings settings;
  GParamSpec* model = g_param_spec_string("model", "m", "m", "", G_PARAM_READWRITE);
  g_param_spec_ref_sink(model);
  GValue v = G_VALUE_INIT;
  g_value_init(&v, G_TYPE_STRING);
  g_value_set_string(&v, "kwaivgi/one");
  settings.set(model, &v);

  auto first = settings.snapshot();
  auto again = settings.snapshot();
  g_assert_true(first.get() == again.get());  // the same list: nothing copied
  g_assert_cmpuint(first->size(), ==, 1);

  g_value_set_string(&v, "kwaivgi/two");
  settings.set(model, &v);
  auto after = settings.snapshot();
  g_assert_true(after.get() != first.get());
  g_assert_cmpuint(after->size(), ==, 1);
  g_assert_cmpstr(g_value_get_string((*after)[0].second.get()), ==, "kwaivgi/two");
  // A clip started with the old list keeps its values.
  g_assert_cmpstr(g_value_get_string((*first)[0].second.get()), ==, "kwaivgi/one");
  g_value_unset(&v);
  g_param_spec_unref(model);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/forwarded-settings/taken-without-a-copy-until-set",
                  test_taken_without_a_copy_until_set);
  return g_test_run();
}
