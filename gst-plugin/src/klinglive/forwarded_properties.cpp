// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/forwarded_properties.h"

#include <gst/gst.h>

#include <cstring>

#include "core/ledger/ledger.h"

namespace kling::live {

namespace {

// Per request, or the live element's own: never a default for every request.
bool not_forwarded(const char* name) {
  for (const char* own : {"prompt", "task-id", "request-id"})
    if (!strcmp(name, own)) return true;
  return false;
}

// The same property under the same name, changeable while playing (a default
// for the requests to come).
GParamSpec* copy_pspec(GParamSpec* p) {
  const char* name = g_param_spec_get_name(p);
  const char* nick = g_param_spec_get_nick(p);
  const char* blurb = g_param_spec_get_blurb(p);
  GParamFlags flags = GParamFlags((p->flags & G_PARAM_READWRITE) | G_PARAM_STATIC_STRINGS |
                                  GST_PARAM_MUTABLE_PLAYING);
  if (G_IS_PARAM_SPEC_STRING(p))
    return g_param_spec_string(name, nick, blurb, G_PARAM_SPEC_STRING(p)->default_value, flags);
  if (G_IS_PARAM_SPEC_BOOLEAN(p))
    return g_param_spec_boolean(name, nick, blurb, G_PARAM_SPEC_BOOLEAN(p)->default_value, flags);
  if (G_IS_PARAM_SPEC_UINT(p)) {
    auto* u = G_PARAM_SPEC_UINT(p);
    return g_param_spec_uint(name, nick, blurb, u->minimum, u->maximum, u->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_INT(p)) {
    auto* i = G_PARAM_SPEC_INT(p);
    return g_param_spec_int(name, nick, blurb, i->minimum, i->maximum, i->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_UINT64(p)) {
    auto* u = G_PARAM_SPEC_UINT64(p);
    return g_param_spec_uint64(name, nick, blurb, u->minimum, u->maximum, u->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_INT64(p)) {
    auto* i = G_PARAM_SPEC_INT64(p);
    return g_param_spec_int64(name, nick, blurb, i->minimum, i->maximum, i->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_DOUBLE(p)) {
    auto* d = G_PARAM_SPEC_DOUBLE(p);
    return g_param_spec_double(name, nick, blurb, d->minimum, d->maximum, d->default_value, flags);
  }
  if (G_IS_PARAM_SPEC_ENUM(p))
    return g_param_spec_enum(name, nick, blurb, p->value_type, G_PARAM_SPEC_ENUM(p)->default_value,
                             flags);
  if (G_IS_PARAM_SPEC_FLAGS(p))
    return g_param_spec_flags(name, nick, blurb, p->value_type,
                              G_PARAM_SPEC_FLAGS(p)->default_value, flags);
  if (G_IS_PARAM_SPEC_OBJECT(p))
    return g_param_spec_object(name, nick, blurb, p->value_type, flags);
  if (G_IS_PARAM_SPEC_BOXED(p))  // `params`, a GstStructure
    return g_param_spec_boxed(name, nick, blurb, p->value_type, flags);
  // A kind not copied here would silently go missing on klinglivesrc: say so.
  g_critical("klinglivesrc cannot forward klingsrc's property \"%s\" (a %s)", name,
             G_PARAM_SPEC_TYPE_NAME(p));
  return nullptr;
}

}  // namespace

guint install_forwarded_properties(GObjectClass* klass, GType src_type, guint first_id) {
  GObjectClass* src_class = static_cast<GObjectClass*>(g_type_class_ref(src_type));
  guint n = 0, count = 0;
  GParamSpec** specs = g_object_class_list_properties(src_class, &n);
  for (guint i = 0; i < n; i++) {
    GParamSpec* p = specs[i];
    // klingsrc's own, writable ones: not GstBaseSrc's (blocksize, do-timestamp...).
    if (p->owner_type != src_type || !(p->flags & G_PARAM_WRITABLE) ||
        not_forwarded(g_param_spec_get_name(p)))
      continue;
    if (GParamSpec* copy = copy_pspec(p))
      g_object_class_install_property(klass, first_id + count++, copy);
  }
  g_free(specs);
  g_type_class_unref(src_class);
  return count;
}

void ForwardedSettings::set(GParamSpec* pspec, const GValue* value) {
  Value copy(value);  // outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto values = std::make_shared<PropertyValues>();
  for (const auto& [name, v] : *values_)
    if (name != pspec->name) values->emplace_back(name, v);
  values->emplace_back(pspec->name, std::move(copy));
  values_ = std::move(values);
}

void ForwardedSettings::get(GParamSpec* pspec, GValue* value) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, v] : *values_)
    if (name == pspec->name) {
      g_value_copy(v.get(), value);
      // As klingsrc reads it back: a ledger server's password is never shown.
      if (!strcmp(pspec->name, "journal") && g_value_get_string(value))
        g_value_set_string(value, kling::Ledger::display_name(g_value_get_string(value)).c_str());
      return;
    }
  g_param_value_set_default(pspec, value);
}

std::shared_ptr<const PropertyValues> ForwardedSettings::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  return values_;
}

std::string ForwardedSettings::get_string(const char* name, bool* set) {
  std::lock_guard<std::mutex> lock(mutex_);
  *set = false;
  for (const auto& [n, v] : *values_)
    if (n == name && G_VALUE_HOLDS_STRING(v.get())) {
      *set = true;
      const char* s = g_value_get_string(v.get());
      return s ? s : "";
    }
  return "";
}

}  // namespace kling::live
