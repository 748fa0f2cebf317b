// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc's instance data, shared by the element's files (gstklingsrc.cpp:
// states, pads, messages; gstklingsrc_properties.cpp: the properties;
// gstklingsrc_uri.cpp: the URI handler). Not installed.
#pragma once

#include <gst/base/gstbasesrc.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/kling_enums.h"
#include "core/session/element_session.h"
#include "klingsrc/gstklingsrc.h"

// What the properties hold; read under `settings_lock`, copied once in start().
struct GstKlingSrcSettings {
  kling::Request base;  // the fields a property sets as they are (defaults included)
  GstKlingDuration duration = GST_KLING_DURATION_5;
  GstKlingAspectRatio aspect_ratio = GST_KLING_ASPECT_RATIO_16_9;
  std::string api_key;                   // empty: WAVESPEED_API_KEY
  std::string api_url;                   // empty: WAVESPEED_BASE_URL or the default
  gdouble guidance_scale = -1.0;         // < 0: not sent
  std::optional<std::string> journal;    // unset: the default path; "none" or "": off
  std::optional<std::string> cache_dir;  // unset: KLING_CACHE_DIR; "": off
  // As set, for reading back; base.params holds its fields as the core takes them.
  std::unique_ptr<GstStructure, decltype(&gst_structure_free)> params{nullptr, gst_structure_free};
  gdouble max_cost = -1.0;      // < 0: KLING_MAX_COST, else no limit
  gdouble daily_budget = -1.0;  // < 0: KLING_DAILY_BUDGET, else no limit
};

struct GstKlingSrcPrivate {
  std::mutex settings_lock;
  GstKlingSrcSettings settings;
  // The core: which generation to reuse, resume or replay, its runner, its bytes.
  std::unique_ptr<kling::ElementSession> generation;
  std::mutex notify_lock;
  std::string notified_task_id;  // the task-id the last notify::task-id announced
  // Streaming thread only.
  bool duration_posted = false;
  bool tags_sent = false;
  guint64 reads = 0;
};

struct _GstKlingSrc {
  GstBaseSrc parent;
  GstKlingSrcPrivate* priv;
};

// The properties (gstklingsrc_properties.cpp): installs them with their set/get.
void gst_kling_src_install_properties(GObjectClass* gobject_class);
// The request the properties describe now, read under the settings lock.
kling::Request gst_kling_src_snapshot_request(GstKlingSrc* self);
// task-id's spec, for notify::task-id.
extern GParamSpec* gst_kling_src_task_id_pspec;

// The GstURIHandler interface (gstklingsrc_uri.cpp).
void gst_kling_src_uri_handler_init(gpointer g_iface, gpointer iface_data);
