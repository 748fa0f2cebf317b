// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc's request properties, offered on klinglivesrc as the defaults of
// every queued request and set by name on each child klingsrc. Copied from
// klingsrc's class at class_init, so a property klingsrc gains (a money guard,
// a new field) appears here with no code.
#pragma once

#include <glib-object.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kling::live {

// An owned GValue.
class Value {
 public:
  explicit Value(const GValue* v) {
    g_value_init(&v_, G_VALUE_TYPE(v));
    g_value_copy(v, &v_);
  }
  Value(const Value& o) : Value(&o.v_) {}
  Value& operator=(const Value& o) {
    if (this != &o) {
      g_value_unset(&v_);
      g_value_init(&v_, G_VALUE_TYPE(&o.v_));
      g_value_copy(&o.v_, &v_);
    }
    return *this;
  }
  ~Value() { g_value_unset(&v_); }
  const GValue* get() const { return &v_; }

 private:
  GValue v_ = G_VALUE_INIT;
};

using PropertyValues = std::vector<std::pair<std::string, Value>>;

// Installs a copy of each of klingsrc's own request properties on `klass`,
// with ids from `first_id` on. Returns how many.
guint install_forwarded_properties(GObjectClass* klass, GType src_type, guint first_id);

// Values set on the live element, by name (thread-safe). Kept as one immutable
// list, replaced when a property is set: taking it is a reference, not a copy of
// every value, however often the output asks.
class ForwardedSettings {
 public:
  void set(GParamSpec* pspec, const GValue* value);
  // The value set, or the property's default.
  void get(GParamSpec* pspec, GValue* value);
  // Every value set, as now; the same list until a property is set again.
  std::shared_ptr<const PropertyValues> snapshot();
  // A value set (as a string) or nullptr.
  std::string get_string(const char* name, bool* set);

 private:
  std::mutex mutex_;
  std::shared_ptr<const PropertyValues> values_ = std::make_shared<PropertyValues>();
};

}  // namespace kling::live
