// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the account endpoints of the API: the price of a run, the
// balance, and the model catalogue.
#include "api_server.h"

#include "catalog.h"
#include "json_text.h"

#include <cmath>

namespace emu {

bool ApiServer::refused(SoupServerMessage* msg, bool absent, bool failing) {
  if (absent)
    reply_bare_error(msg, SOUP_STATUS_NOT_FOUND, "404 page not found");
  else if (!authorized(msg))
    reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  else if (failing)
    reply_envelope_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Internal server error");
  else
    return false;
  return true;
}

double ApiServer::balance() const {
  // Whole cents: what the account shows.
  return std::round((config_.balance - tasks_.charged()) * 100.0) / 100.0;
}

void ApiServer::handle_price(SoupServerMessage* msg) {
  if (refused(msg, config_.no_price, config_.fail_price)) return;

  g_autoptr(JsonParser) parser = json_parser_new();
  std::string problem;
  JsonObject* body = body_object(msg, parser, &problem);
  if (!body) return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST, problem);
  JsonNode* id = json_object_get_member(body, "model_id");
  if (!id || !JSON_NODE_HOLDS_VALUE(id) || json_node_get_value_type(id) != G_TYPE_STRING)
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Missing required parameter: model_id");
  const ModelSpec* model = find_model(json_node_get_string(id));
  if (!model)
    return reply_envelope_error(msg, SOUP_STATUS_NOT_FOUND,
                                std::string("Model not found: ") + json_node_get_string(id));
  JsonNode* inputs = json_object_get_member(body, "inputs");
  if (inputs && !JSON_NODE_HOLDS_OBJECT(inputs) && !JSON_NODE_HOLDS_NULL(inputs))
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Invalid parameter: inputs must be an object");

  const double price = model_price(
      *model, config_.price,
      inputs && JSON_NODE_HOLDS_OBJECT(inputs) ? json_node_get_object(inputs) : nullptr);
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "model_id");
  json_builder_add_string_value(b, model->id.c_str());
  json_builder_set_member_name(b, "price");
  json_builder_add_double_value(b, price);
  json_builder_set_member_name(b, "discounted_price");
  json_builder_add_double_value(b, price);
  json_builder_set_member_name(b, "discount_rate");
  json_builder_add_double_value(b, 0.0);
  json_builder_set_member_name(b, "currency");
  json_builder_add_string_value(b, "USD");
  reply_success(msg, b);
}

void ApiServer::handle_balance(SoupServerMessage* msg) {
  if (refused(msg, config_.no_balance, config_.fail_balance)) return;

  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "balance");
  json_builder_add_double_value(b, balance());
  json_builder_set_member_name(b, "currency");
  json_builder_add_string_value(b, "USD");
  reply_success(msg, b);
}

void ApiServer::handle_models(SoupServerMessage* msg) {
  if (refused(msg, config_.no_models, config_.fail_models)) return;

  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b, true);
  for (const ModelSpec& model : models()) add_model_json(b, model, config_.price);
  reply_success(msg, b, true);
}

}  // namespace emu
