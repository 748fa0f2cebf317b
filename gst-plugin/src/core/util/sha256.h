// SPDX-License-Identifier: LGPL-2.1-or-later
// SHA-256 of a stream of bytes, for the cache entries of whole videos. Nettle's
// (its fat build picks the processor's SHA instructions when it has them): about
// 3.5x GLib's GChecksum here (145 vs 480 ms for 256 MiB), which is most of what
// a cache entry costs to write and to verify.
#pragma once

#include <nettle/sha2.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace kling {

class Sha256 {
 public:
  Sha256() { sha256_init(&ctx_); }
  void update(const void* data, size_t size) {
    sha256_update(&ctx_, size, static_cast<const uint8_t*>(data));
  }
  // Lowercase hex of the bytes so far (as GChecksum spells it); more may follow.
  std::string hex() const {
    sha256_ctx done = ctx_;  // sha256_digest() resets the context it is given
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&done, sizeof digest, digest);
    static const char kHex[] = "0123456789abcdef";
    std::string out(2 * sizeof digest, '0');
    for (size_t i = 0; i < sizeof digest; i++) {
      out[2 * i] = kHex[digest[i] >> 4];
      out[2 * i + 1] = kHex[digest[i] & 0xf];
    }
    return out;
  }

 private:
  sha256_ctx ctx_;
};

}  // namespace kling
