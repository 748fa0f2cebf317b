// SPDX-License-Identifier: LGPL-2.1-or-later
// The price before the charge: the quote and balance endpoints as pure functions
// (URLs, the quote body, replies parsed), and the checks a quote must pass before
// a submit: max-cost and the balance. (The daily budget is summed by the Ledger.)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/request/request.h"
#include "core/util/error.h"

namespace kling::money {

struct Quote {
  double price = 0;                  // data.price
  std::optional<double> discounted;  // data.discounted_price, when given
  std::string currency = "USD";
  // What the run is expected to cost: the discounted price when there is one.
  double amount() const { return discounted && *discounted > 0 ? *discounted : price; }
};

std::string price_url(const std::string& api_url);
std::string balance_url(const std::string& api_url);
// {"model_id": MODEL, "inputs": <the submit body>}: quoted with every field sent.
std::string build_price_body(const std::string& model, const std::string& submit_body);

// The quote in a reply, or nullopt and why not ("HTTP 404: ...", "no data.price").
std::optional<Quote> parse_price(unsigned http_status, std::string_view body, std::string* why);
std::optional<double> parse_balance(unsigned http_status, std::string_view body, std::string* why);

// "$1.30" for US dollars, "1.30 EUR" otherwise.
std::string format(double amount, const std::string& currency = "USD");

// What was learnt before a submit.
struct Figures {
  std::optional<Quote> quote;
  std::string quote_error;  // why there is no quote
  std::optional<double> balance;
  std::string balance_error;
  // "costs $1.30, balance $12.40", or what is unknown and why.
  std::string describe() const;
};

// The refusal a quote and balance earn before any submit, or nullopt to go on.
// A quote above max-cost, or none while max-cost is set: SETTINGS. A balance
// below the quote: SETTINGS. An unknown balance or quote without limits: go on.
std::optional<Error> check(const Figures& figures, const Request& request);

}  // namespace kling::money
