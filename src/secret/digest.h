// SHA-256 of public data (not for secrets: see hasher.h), e.g. the hashes of the index page's
// inline script and style that its Content-Security-Policy allows. digest.cc includes sodium.h.
//
// Thread-safety: a pure function.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace rendezvous::secret {

std::array<uint8_t, 32> Sha256(std::string_view data);

}  // namespace rendezvous::secret
