// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/frames_chain.h"

#include <initializer_list>

namespace kling::live {

bool add_frames_chain(GstBin* bin, GstCaps* caps, bool with_rate, FramesChain* chain) {
  GstElement* convert = gst_element_factory_make("videoconvert", nullptr);
  GstElement* scale = gst_element_factory_make("videoscale", nullptr);
  GstElement* rate = with_rate ? gst_element_factory_make("videorate", nullptr) : nullptr;
  GstElement* filter = gst_element_factory_make("capsfilter", nullptr);
  GstElement* sink = gst_element_factory_make("appsink", nullptr);
  if (!convert || !scale || (with_rate && !rate) || !filter || !sink) {
    for (GstElement* e : {convert, scale, rate, filter, sink})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    return false;
  }
  g_object_set(scale, "add-borders", TRUE, nullptr);
  g_object_set(filter, "caps", caps, nullptr);
  gst_bin_add_many(bin, convert, scale, filter, sink, nullptr);
  if (rate) {
    gst_bin_add(bin, rate);
    gst_element_link_many(convert, scale, rate, filter, sink, nullptr);
  } else {
    gst_element_link_many(convert, scale, filter, sink, nullptr);
  }
  *chain = {convert, scale, rate, filter, GST_APP_SINK(sink)};
  return true;
}

bool pad_carries(GstPad* pad, const char* media) {
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  return s && g_str_has_prefix(gst_structure_get_name(s), media);
}

void link_once(GstPad* pad, GstElement* head) {
  g_autoptr(GstPad) sinkpad = gst_element_get_static_pad(head, "sink");
  if (!gst_pad_is_linked(sinkpad)) gst_pad_link(pad, sinkpad);
}

void link_video_pad(GstElement*, GstPad* pad, gpointer convert) {
  if (pad_carries(pad, "video/")) link_once(pad, GST_ELEMENT(convert));
}

}  // namespace kling::live
