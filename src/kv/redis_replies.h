// How the Redis engine (kv/redis_store.h) reads the replies of its scripts (kv/redis_scripts.h,
// where each reply's layout is documented) and commands into the Store's results.
//
// A failed command is kUnavailable; Redis's out-of-memory refusal (maxmemory with noeviction) is
// kStorageFull; a reply of any unexpected shape is kUnavailable and logged (throttled), since it
// means Redis misbehaves or another program wrote under our prefix. Nothing a reply holds can
// crash the decoding.
//
// Thread-safety: stateless functions (the log throttle they share is thread-safe); may be called
// from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"
#include "redis/client.h"

namespace rendezvous::kv {

// Elements 3..6 of a charged script's reply: the decision when a charge ran, else nullopt.
std::optional<ratelimit::Decision> RateFrom(const redis::Reply& reply);

// A read: the HMGET of an entry's v, n, x (`first` 0) or the get script's reply (`first` 7, the
// fields after the charge). An entry expired by `now_us` (Unix microseconds) is kNotFound.
GetResult DecodeGetReply(redis::CommandError error, const redis::Reply& reply, size_t first,
                         int64_t now_us);
// The put script's reply; `expires_at` is the request's, returned with a stored entry.
WriteResult DecodePutReply(redis::CommandError error, const redis::Reply& reply,
                           absl::Time expires_at);
// The delete script's reply.
WriteResult DecodeDeleteReply(redis::CommandError error, const redis::Reply& reply);
// The list script's reply: the peers sorted by address, without those expired by `now_us`.
ListResult DecodeListReply(redis::CommandError error, const redis::Reply& reply, int64_t now_us);

}  // namespace rendezvous::kv
