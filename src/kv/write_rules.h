// The owner and precondition rules of a write, shared by every engine so they cannot drift apart.
//
// Engines call CheckWrite inside whatever makes their write atomic (a shard lock, a write
// transaction), with what they know of the live entry. Pure function; thread-safe.
#pragma once

#include <cstdint>

#include "kv/store.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

// What a write needs to know of the live (unexpired) entry under its key.
struct LiveEntry {
  bool owned = false;
  const secret::Digest* owner = nullptr;  // when owned
  uint64_t version = 0;
};

// The owner rule, then the precondition (kv/store.h documents this order). `live` is null when
// no live entry exists. `digest` is the hash of the request's secret, meaningful only when
// `has_secret`: an empty secret never matches an owner. Returns kOk, kForbidden or
// kPreconditionFailed.
[[nodiscard]] Status CheckWrite(const LiveEntry* live, bool has_secret,
                                const secret::Digest& digest, const Precondition& precondition);

}  // namespace rendezvous::kv
