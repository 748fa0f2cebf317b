// SPDX-License-Identifier: LGPL-2.1-or-later
// libFuzzer target for the reply parser: every API reply is untrusted input.
// The first two bytes pick the HTTP status (one of the statuses the API is
// known to send, or any value up to 999), the rest is the body. The body is
// also fed to parse_retry_after, as a header value would be, and to every
// other reader of JSON from the network or the disk (catalogue, quote, balance,
// upload ticket, the one JSON parser they share).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/util/json_util.h"
#include "core/wavespeed/api_client.h"
#include "core/wavespeed/image_upload.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/pricing.h"

namespace {

constexpr unsigned kKnownStatuses[] = {200, 201, 204, 206, 301, 302, 400, 401, 403,
                                       404, 408, 413, 429, 500, 502, 503, 504};

// Reads what a caller may read of a reply; a sanitizer catches any bad access.
size_t touch(const kling::api::Reply& r) {
  size_t n = r.message.size() + r.task.id.size() + r.task.model.size() + r.task.status.size() +
             r.task.get_url.size() + r.task.error.size() + r.task.created_at.size();
  for (const auto& url : r.task.outputs) {
    n += url.size();
    n += kling::is_http_url(url);
  }
  for (bool b : r.task.has_nsfw_contents) n += b;
  n += kling::api::is_final_status(r.task.status);
  n += kling::api::is_input_fault(r.task.code);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  unsigned status;
  if (data[0] < 0x80)
    status = kKnownStatuses[data[0] % (sizeof kKnownStatuses / sizeof kKnownStatuses[0])];
  else
    status = ((data[0] & 0x7f) << 8 | data[1]) % 1000;
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  kling::api::Reply reply = kling::api::parse_reply(status, body);
  volatile size_t sink = touch(reply);
  (void)sink;

  // A header value is a C string: cut at the first NUL, as libsoup would.
  std::string header(body.substr(0, body.find('\0')));
  auto wait = kling::api::parse_retry_after(header.c_str(), 1700000000);
  sink = wait.value_or(0);
  if (!reply.task.get_url.empty())
    sink = kling::api::same_origin(reply.task.get_url, "https://api.wavespeed.ai");

  std::string why;
  if (auto models = kling::parse_catalog(body, &why)) sink = models->size();
  if (auto quote = kling::money::parse_price(status, body, &why)) sink = quote->currency.size();
  sink = kling::money::parse_balance(status, body, &why).has_value();
  if (auto ticket = kling::parse_upload_ticket(body, &why)) sink = ticket->headers.size();
  g_autoptr(JsonNode) node = kling::json::parse(body, &why);
  sink = why.size() + (node != nullptr);
  return 0;
}
