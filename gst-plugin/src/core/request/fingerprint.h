// SPDX-License-Identifier: LGPL-2.1-or-later
// What names a request on the ledger and in the video cache (its fingerprint):
// the body its submit will carry, so that the same generation asked for two ways
// (`params` "duration=10" or the duration property, a value written as a string
// where the model's schema types it, `prompt` repeated in params) is paid once.
// Computed at start(), before any network: typed by the model's schema as it is
// known offline (the origin's catalogue on disk, however old, else the built-in table);
// computed again by the task's worker once it has the catalogue, and the ledger and
// the cache entry use that one (SubmitGate::rename): one body, one request, whatever
// was on disk at start.
//
// A field left out and the same field sent with the schema's default stay two
// identities: that default is the catalogue's description, not a promise of what the
// API fills in (nor of what it will fill in once the catalogue changes), and for a
// named property (guidance_scale) merging them would rename requests already on disk.
#pragma once

#include <string>

#include "core/request/request.h"
#include "core/wavespeed/model_catalog.h"

namespace kling {

// `request`'s fingerprint with `schema` typing its fields (nullptr: unknown model,
// fields as given). Request::fingerprint() is this with the schema known offline.
std::string request_identity(const Request& request, const ModelSchema* schema);

}  // namespace kling
