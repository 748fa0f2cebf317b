// SPDX-License-Identifier: LGPL-2.1-or-later
// Marking generated clips (EU AI Act, Art. 50): the `disclosure` text drawn on
// every frame of a clip (a textoverlay in the clip's own pipeline, so the slate
// never carries it), and a tag event at every clip start naming the content
// generated, in a tag of the plugin's own (kling-generated: the model and the
// task id) plus the text in GST_TAG_COMMENT, for a muxer or a monitor downstream.
#pragma once

#include <gst/gst.h>

#include <string>

// The tag: a string "model=<model>, task-id=<id>" on content a Kling model made.
#define KLING_TAG_GENERATED "kling-generated"

namespace kling::live {

// Registers KLING_TAG_GENERATED (once, from the plugin's init).
void register_disclosure_tags();

// The tag event sent downstream at a clip's start (a new event, for the caller).
GstEvent* generated_tag_event(const std::string& model, const std::string& task_id,
                              const std::string& disclosure);

// A textoverlay drawing `text` on each frame, bottom right, or nullptr (no
// text, or the pango plugin missing: the caller says so).
GstElement* make_disclosure_overlay(const std::string& text);

}  // namespace kling::live
