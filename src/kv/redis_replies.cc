// Decoding of the Redis engine's replies (redis_replies.h).
#include "kv/redis_replies.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "common/log.h"
#include "kv/announcement.h"

namespace rendezvous::kv {
namespace {

using redis::CommandError;
using redis::Reply;

bool ParseInt(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  *out = value;
  return true;
}

// A failed command or an unexpected reply: kStorageFull for Redis's out-of-memory refusal, else
// kUnavailable (logged, since it means Redis misbehaves or someone wrote under our prefix).
Status FailureStatus(CommandError error, const Reply& reply) {
  if (error != CommandError::kOk) return Status::kUnavailable;
  if (reply.IsError() && reply.str.rfind("OOM", 0) == 0) return Status::kStorageFull;
  static common::LogThrottle throttle(absl::Seconds(10));
  if (throttle.ShouldLog(absl::Now())) {
    common::LogError(
        absl::StrCat("redis: unexpected reply: ", common::EscapeForLog(reply.str, 200)));
  }
  return Status::kUnavailable;
}

// A write script's reply has 7 elements: the code, two values, then the charge (RateFrom).
bool IsWriteReply(CommandError error, const Reply& reply) {
  return error == CommandError::kOk && reply.type == Reply::Type::kArray &&
         reply.elements.size() == 7;
}

// A write script's one-letter reply code and the status it stands for.
struct CodeStatus {
  char code;
  Status status;
};

// A write script's reply whose code is one of `codes` (the ones the script returns, but a put's
// 'K', which carries a version). Any other code is an unexpected reply.
WriteResult DecodeWriteCode(CommandError error, const Reply& reply,
                            absl::Span<const CodeStatus> codes) {
  WriteResult result;
  if (!IsWriteReply(error, reply)) {
    result.status = FailureStatus(error, reply);
    return result;
  }
  result.rate = RateFrom(reply);
  const std::string& code = reply.elements[0].str;
  for (const CodeStatus& known : codes) {
    if (code.size() == 1 && code[0] == known.code) {
      result.status = known.status;
      return result;
    }
  }
  result.status = FailureStatus(CommandError::kOk, reply);
  return result;
}

}  // namespace

std::optional<ratelimit::Decision> RateFrom(const Reply& reply) {
  if (reply.elements.size() < 7 || reply.elements[3].integer == 0) return std::nullopt;
  ratelimit::Decision decision;
  decision.allowed = reply.elements[0].str != "R";
  decision.remaining_tokens = reply.elements[4].integer;
  decision.until_full = absl::Microseconds(reply.elements[5].integer);
  decision.retry_after = absl::Microseconds(reply.elements[6].integer);
  return decision;
}

GetResult DecodeGetReply(CommandError error, const Reply& reply, size_t first, int64_t now_us) {
  GetResult result;
  if (first > 0 && error == CommandError::kOk && reply.type == Reply::Type::kArray &&
      reply.elements.size() == 7 && reply.elements[0].str == "R") {
    result.rate = RateFrom(reply);
    result.status = Status::kRateLimited;
    return result;
  }
  if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
      reply.elements.size() != first + 3) {
    (void)FailureStatus(error, reply);  // logs; a read has no kStorageFull
    result.status = Status::kUnavailable;
    return result;
  }
  if (first > 0) result.rate = RateFrom(reply);
  const Reply& value = reply.elements[first];
  int64_t version = 0;
  int64_t expires_us = 0;
  if (value.type != Reply::Type::kString || !ParseInt(reply.elements[first + 1].str, &version) ||
      !ParseInt(reply.elements[first + 2].str, &expires_us) ||
      (expires_us >= 0 && expires_us <= now_us)) {
    result.status = Status::kNotFound;
    return result;
  }
  result.status = Status::kOk;
  result.entry.value = value.str;
  result.entry.version = static_cast<uint64_t>(version);
  result.entry.expires_at =
      expires_us < 0 ? absl::InfiniteFuture() : absl::FromUnixMicros(expires_us);
  return result;
}

WriteResult DecodePutReply(CommandError error, const Reply& reply, absl::Time expires_at) {
  int64_t version = 0;
  if (IsWriteReply(error, reply) && reply.elements[0].str == "K" &&
      ParseInt(reply.elements[1].str, &version)) {
    WriteResult result;
    result.rate = RateFrom(reply);
    result.status = Status::kOk;
    result.version = static_cast<uint64_t>(version);
    result.expires_at = expires_at;
    result.created = reply.elements[2].integer == 1;
    return result;
  }
  static constexpr CodeStatus kPutRefusals[] = {
      {'F', Status::kForbidden},    {'P', Status::kPreconditionFailed}, {'X', Status::kConflict},
      {'Q', Status::kQuotaReached}, {'C', Status::kCapacityReached},    {'R', Status::kRateLimited},
  };
  return DecodeWriteCode(error, reply, kPutRefusals);
}

WriteResult DecodeDeleteReply(CommandError error, const Reply& reply) {
  static constexpr CodeStatus kDeleteCodes[] = {
      {'R', Status::kRateLimited},        {'K', Status::kOk},       {'F', Status::kForbidden},
      {'P', Status::kPreconditionFailed}, {'N', Status::kNotFound},
  };
  return DecodeWriteCode(error, reply, kDeleteCodes);
}

ListResult DecodeListReply(CommandError error, const Reply& reply, int64_t now_us) {
  ListResult result;
  if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
      reply.elements.size() < 7) {
    result.status = FailureStatus(error, reply);
    return result;
  }
  result.rate = RateFrom(reply);
  const std::string& code = reply.elements[0].str;
  int64_t changed = 0;
  if (code == "R") {
    result.status = Status::kRateLimited;
    return result;
  }
  if (code != "L" || reply.elements.size() != 8 || !ParseInt(reply.elements[2].str, &changed)) {
    result.status = FailureStatus(CommandError::kOk, reply);
    return result;
  }
  result.status = Status::kOk;
  result.total = static_cast<uint64_t>(reply.elements[1].integer);
  // A change counter and the live count: a write or delete bumps the first, an expiry alone
  // lowers the second.
  result.fingerprint = AddToFingerprint(static_cast<uint64_t>(changed), result.total);
  const std::vector<Reply>& out = reply.elements[7].elements;
  for (size_t i = 0; i + 3 < out.size(); i += 4) {
    int64_t version = 0;
    int64_t expires_us = 0;
    if (!ParseInt(out[i + 2].str, &version) || !ParseInt(out[i + 3].str, &expires_us) ||
        (expires_us >= 0 && expires_us <= now_us)) {
      continue;  // freed or rewritten with an earlier expiry since it was indexed
    }
    result.peers.push_back(
        ListedPeer{out[i].str, out[i + 1].str, static_cast<uint64_t>(version),
                   expires_us < 0 ? absl::InfiniteFuture() : absl::FromUnixMicros(expires_us)});
  }
  std::sort(result.peers.begin(), result.peers.end(),
            [](const ListedPeer& a, const ListedPeer& b) { return a.address < b.address; });
  return result;
}

}  // namespace rendezvous::kv
