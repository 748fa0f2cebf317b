// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc as GStreamer registers it: it exists, cycles without a key and
// describes itself in one sentence.
#include <gst/gst.h>

#include <cstring>

#include "support/klingsrc_case.h"

namespace {

void test_element_exists() {
  g_autoptr(GstElementFactory) factory = gst_element_factory_find("klingsrc");
  g_assert_nonnull(factory);
  g_autoptr(GstElement) e = gst_element_factory_make("klingsrc", nullptr);
  // No key anywhere: NULL -> READY -> NULL works and posts nothing remote.
  g_assert_cmpint(gst_element_set_state(e, GST_STATE_READY), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_cmpint(gst_element_set_state(e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
}

void test_factory_description_is_one_sentence() {
  GstElementFactory* factory = gst_element_factory_find("klingsrc");
  g_assert_nonnull(factory);
  const char* description =
      gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_DESCRIPTION);
  g_assert_cmpuint(strlen(description), <, 120);
  g_assert_null(strstr(description, ". "));
  gst_object_unref(factory);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  g_test_add_func("/klingsrc/element/exists-and-cycles-without-key", test_element_exists);
  g_test_add_func("/klingsrc/element/description-is-one-sentence",
                  test_factory_description_is_one_sentence);
  return g_test_run();
}
