// The Lua scripts of the Redis engine (kv/redis_store.h) and the encodings of their arguments.
//
// Each script is one operation of the Store run atomically inside Redis (Redis runs one script at
// a time): the put and delete scripts apply the write rules (owner, precondition, quota,
// capacity; a second copy of kv/write_plan.h that the store contract suite keeps equal), and
// every script first charges the client's token bucket. Each script's KEYS, ARGV and reply are
// documented with its text in redis_scripts.cc; the reply decoding is in kv/redis_replies.h.
// RedisStore loads the scripts at Open (SCRIPT LOAD) and runs them by SHA (EVALSHA), sending the
// text again (EVAL) when Redis lost its script cache.
//
// Thread-safety: every function here is pure or returns a text built once, on first use, behind
// a thread-safe static; all may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "kv/store.h"

namespace rendezvous::kv {

// The scripts, in the order of RedisStore's table of SHAs.
enum class RedisScript { kPut = 0, kDelete = 1, kGet = 2, kList = 3 };
inline constexpr int kRedisScriptCount = 4;

// The Lua text of `script`, built once. The reference stays valid for the process's lifetime.
const std::string& RedisScriptBody(RedisScript script);

// Times travel as Unix microseconds: exact in Lua's doubles (2^53 us is 285 years), nanoseconds
// are not. absl::InfiniteFuture() (never expires) is -1.
int64_t Micros(absl::Time t);

// Lowercase hex of `size` bytes: how a creator or a client (rate-limit bucket) appears in key
// names and arguments.
std::string Hex(const uint8_t* bytes, size_t size);

// The one-letter precondition argument of the put and delete scripts: 'n' none, 'm' if-match,
// 'a' if-absent, 'e' if-exists, 's' signed record newer.
char PreconditionCode(Precondition::Kind kind);

}  // namespace rendezvous::kv
