// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/pricing.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cstring>

#include "core/util/json_util.h"
#include "core/util/url.h"
#include "core/wavespeed/api_client.h"

namespace kling::money {

namespace {

// A price or a balance: a number, or a string that is one.
std::optional<double> get_amount(JsonObject* obj, const char* name) {
  const auto v = json::number_member(obj, name);
  if (!v || !(*v >= 0 && *v < 1e12))  // negatives too: no price we could hold
    return std::nullopt;
  return v;
}

// data.`name`, which the reply must hold: without it, nothing and why.
std::optional<double> required_amount(JsonObject* data, const char* name, std::string* why) {
  auto amount = get_amount(data, name);
  if (!amount) *why = std::string("a reply without data.") + name;
  return amount;
}

// The `data` object of a 2xx envelope, or nullptr and why not.
JsonObject* data_of(JsonNode** tree, unsigned status, std::string_view body, std::string* why) {
  api::Reply reply = api::parse_reply(status, body);
  if (reply.kind == api::ReplyKind::ApiError || reply.kind == api::ReplyKind::Gateway) {
    *why = status ? "HTTP " + std::to_string(status) +
                        (reply.message.empty() ? "" : ": " + reply.message)
                  : reply.message;
    return nullptr;
  }
  std::string not_json;
  *tree = json::parse(body, &not_json);
  if (!*tree || !JSON_NODE_HOLDS_OBJECT(*tree)) {
    *why = "an unreadable reply" + (not_json.empty() ? std::string() : " (" + not_json + ")");
    return nullptr;
  }
  JsonObject* root = json_node_get_object(*tree);
  JsonObject* data = json::object_member(root, "data");
  if (!data) *why = "a reply without data";
  return data;
}

}  // namespace

std::string price_url(const std::string& api_url) {
  return without_trailing_slashes(api_url) + "/api/v3/model/price";
}
std::string balance_url(const std::string& api_url) {
  return without_trailing_slashes(api_url) + "/api/v3/balance";
}

std::string build_price_body(const std::string& model, const std::string& inputs) {
  g_autoptr(JsonNode) fields = json::parse(inputs, nullptr);  // the submit body we built
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "model_id");
  json_builder_add_string_value(b, model.c_str());
  json_builder_set_member_name(b, "inputs");
  if (fields)
    json_builder_add_value(b, json_node_copy(fields));
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  g_autofree char* text = json_generator_to_data(gen, nullptr);
  return text;
}

std::optional<Quote> parse_price(unsigned status, std::string_view body, std::string* why) {
  g_autoptr(JsonNode) tree = nullptr;
  JsonObject* data = data_of(&tree, status, body, why);
  if (!data) return std::nullopt;
  auto price = required_amount(data, "price", why);
  if (!price) return std::nullopt;
  Quote q;
  q.price = *price;
  q.discounted = get_amount(data, "discounted_price");
  if (std::string currency = json::string_member(data, "currency"); !currency.empty())
    q.currency = currency;
  return q;
}

std::optional<double> parse_balance(unsigned status, std::string_view body, std::string* why) {
  g_autoptr(JsonNode) tree = nullptr;
  JsonObject* data = data_of(&tree, status, body, why);
  if (!data) return std::nullopt;
  return required_amount(data, "balance", why);
}

std::string format(double amount, const std::string& currency) {
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(text, sizeof text, "%.2f", amount);  // a point whatever the locale
  if (currency.empty() || g_ascii_strcasecmp(currency.c_str(), "USD") == 0)
    return std::string("$") + text;
  return std::string(text) + " " + currency;
}

std::string Figures::describe() const {
  std::string text = quote ? "costs " + format(quote->amount(), quote->currency)
                           : "price unknown (" + quote_error + ")";
  text += balance ? ", balance " + format(*balance, quote ? quote->currency : "USD")
                  : ", balance unknown (" + balance_error + ")";
  return text;
}

std::optional<Error> check(const Figures& f, const Request& r) {
  auto refuse = [](std::string message) {
    return Error{ErrorKind::Settings, std::move(message), "nothing was submitted", 0, {}};
  };
  if (r.max_cost) {
    if (!f.quote)
      return refuse("max-cost is " + format(*r.max_cost) +
                    " but the price of this request could "
                    "not be had (" +
                    f.quote_error + "): nothing submitted");
    if (f.quote->amount() > *r.max_cost + 1e-9)
      return refuse("This request is quoted " + format(f.quote->amount(), f.quote->currency) +
                    ", above max-cost " + format(*r.max_cost) + ": nothing submitted");
  }
  if (f.quote && f.balance && *f.balance + 1e-9 < f.quote->amount())
    return refuse("The balance " + format(*f.balance, f.quote->currency) +
                  " is below this request's quote " + format(f.quote->amount(), f.quote->currency) +
                  ": nothing submitted (top up your WaveSpeed account)");
  return std::nullopt;
}

}  // namespace kling::money
