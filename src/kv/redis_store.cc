// RedisStore (redis_store.h): the rules as Lua scripts, and their arguments and replies.
#include "kv/redis_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "kv/announcement.h"

namespace rendezvous::kv {
namespace {

using redis::CommandError;
using redis::Reply;

// The key layout's version, stored in <prefix>format. A change to the layout that old servers
// would misread must change it.
constexpr char kFormat[] = "1";

constexpr int kPutScript = 0;
constexpr int kDeleteScript = 1;
constexpr int kGetScript = 2;
constexpr int kListScript = 3;
constexpr int kScriptCount = 4;

// The token bucket (GCRA, as ratelimit::Limiter, in microseconds) on Redis's clock (TIME), so
// servers with skewed clocks charge one bucket alike. The bucket is one string, the theoretical
// arrival time, that expires when the bucket is full again: an idle client leaves nothing behind.
// Returns {charged, allowed, remaining tokens, us until full, us until retry}; a cost of 0
// charges nothing, and -1 reports the bucket as it stands without charging it.
constexpr char kCharge[] = R"lua(
local function charge(bucket, cost, t, burst)
  if cost == 0 then return {0, 1, 0, 0, 0} end
  local time = redis.call('TIME')
  local rnow = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local tat = tonumber(redis.call('GET', bucket)) or rnow
  if tat < rnow then tat = rnow end
  if tat > rnow + burst then tat = rnow + burst end
  if cost < 0 then return {1, 1, math.floor((burst - (tat - rnow)) / t), tat - rnow, 0} end
  local new = tat + cost * t
  if cost * t > burst or new - rnow > burst then
    return {1, 0, math.floor((burst - (tat - rnow)) / t), tat - rnow, new - rnow - burst}
  end
  redis.call('SET', bucket, string.format('%d', new), 'PX',
             string.format('%d', math.ceil((new - rnow) / 1000)))
  return {1, 1, math.floor((burst - (new - rnow)) / t), new - rnow, 0}
end
)lua";

// Wraps an operation's body (which returns a table of up to 3 elements) into a script that
// charges the bucket KEYS[bucket_key] with ARGV[first_rate_arg..+2] (cost, T, burst) first and
// runs the body only if the charge passed. Replies {code, a, b, charged, remaining, until full,
// retry}; code 'R' when the charge was refused.
std::string Charged(int bucket_key, int first_rate_arg, const std::string& body) {
  const std::string rate_args =
      absl::StrCat("KEYS[", bucket_key, "], tonumber(ARGV[", first_rate_arg, "]), tonumber(ARGV[",
                   first_rate_arg + 1, "]), tonumber(ARGV[", first_rate_arg + 2, "])");
  return absl::StrCat(kCharge, "local rate = charge(", rate_args, ")\n",
                      "if rate[2] == 0 then return {'R', 0, 0, rate[1], rate[3], rate[4], "
                      "rate[5]} end\n"
                      "local function op()\n",
                      body,
                      "\nend\n"
                      "local r = op()\n"
                      "return {r[1], r[2] or 0, r[3] or 0, rate[1], rate[3], rate[4], rate[5], "
                      "r[4]}\n");
}

// Liveness and the owner rule are written once here and pasted into both scripts.
// cur = HMGET entry n x o c; an entry is live when it exists and x < 0 (never) or x > now.
constexpr char kLoadEntry[] = R"lua(
local cur = redis.call('HMGET', KEYS[1], 'n', 'x', 'o', 'c')
local live = false
if cur[1] then
  local x = tonumber(cur[2])
  live = x < 0 or x > now
end
local owner = ''
if live and cur[3] then owner = cur[3] end
if owner ~= '' and owner ~= digest then return {'F'} end
if (kind == 'm' and (not live or cur[1] ~= want)) or (kind == 'a' and live) or
   (kind == 'e' and not live) then
  return {'P'}
end
)lua";

// After a change of the name index `nkey` (and its change version `vkey`): both expire with the
// index's last member, or go when it is empty. The scores are on the servers' clock (`now`), so
// the expiry is relative, as the entries' own, and a minute late for safety.
constexpr char kKeepNames[] = R"lua(
local function keep_names(nkey, vkey)
  if redis.call('ZCARD', nkey) == 0 then
    redis.call('DEL', nkey, vkey)
    return
  end
  local top = redis.call('ZRANGE', nkey, -1, -1, 'WITHSCORES')
  local last = tonumber(top[2])
  if last == math.huge then
    redis.call('PERSIST', nkey)
    redis.call('PERSIST', vkey)
  else
    local ttl = string.format('%d', math.max(0, math.ceil((last - now) / 1000)) + 60000)
    redis.call('PEXPIRE', nkey, ttl)
    redis.call('PEXPIRE', vkey, ttl)
  end
end
)lua";

// KEYS: 1 entry, 2 capacity set, 3 the requester's quota set, 4 version counter.
// ARGV: 1 key, 2 value, 3 digest ('' = no secret), 4 now (us), 5 expires_at (us, -1 = never),
//       6 Redis TTL (ms), 7 precondition (n, m, a, e), 8 version for m, 9 creator (hex),
//       10 quota (0 = none), 11 max entries, 12 prefix. Charged: KEYS[5] bucket, ARGV 13..15.
//       Announcements: KEYS[6] name index, KEYS[7] its change version, ARGV[16] the address
//       ('' = the key announces nothing).
// Codes 'F', 'P', 'Q', 'C' or 'K' (then version, created).
const std::string& PutScript() {
  static const std::string script = Charged(
      5, 13,
      absl::StrCat("local now = tonumber(ARGV[4]); local digest = ARGV[3]; local kind = ARGV[7]; "
                   "local want = ARGV[8]\n",
                   kKeepNames, kLoadEntry, R"lua(
-- A signed record (kind 's', pkarr/record.h) replaces a live one only when its timestamp (bytes
-- 65..72, big-endian) is newer, or equal with the same bytes (a refresh); else 'X' (conflict).
-- A stored value shorter than 72 bytes is no record: the signed one replaces it. Compared byte
-- by byte: Lua's string order follows the server's collation locale.
if kind == 's' and live then
  local old = redis.call('HGET', KEYS[1], 'v')
  if old and #old >= 72 and old ~= ARGV[2] then
    for i = 65, 72 do
      local a, b = string.byte(old, i), string.byte(ARGV[2], i)
      if a ~= b then
        if b < a then return {'X'} end
        break
      end
      if i == 72 then return {'X'} end
    end
  end
end
local creator = ARGV[9]
local quota_set = KEYS[3]
-- Removes up to 128 members of `set` that expired by now, each with its entry and its place in
-- the capacity and quota sets. A member whose entry Redis already freed leaves this set (and the
-- capacity set); one whose key is live again belongs to another creator's set and only leaves this
-- one.
local function purge(set)
  local gone = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, 128)
  for _, member in ipairs(gone) do
    local entry = ARGV[12] .. 'e:' .. member
    local old = redis.call('HMGET', entry, 'x', 'c')
    local x = tonumber(old[1])
    if x and x >= 0 and x <= now then
      redis.call('DEL', entry)
      redis.call('ZREM', KEYS[2], member)
      redis.call('ZREM', ARGV[12] .. 'q:' .. old[2], member)
    elseif not x then
      redis.call('ZREM', set, member)
      redis.call('ZREM', KEYS[2], member)
    elseif set ~= KEYS[2] then
      redis.call('ZREM', set, member)
    end
  end
end
if live then
  -- An update keeps the creator recorded when the entry was created.
  creator = cur[4]
  quota_set = ARGV[12] .. 'q:' .. creator
else
  if cur[1] then
    -- The expired record under this key stops counting for its old creator.
    redis.call('ZREM', ARGV[12] .. 'q:' .. cur[4], ARGV[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
  -- At a limit, expired members are removed (entry, capacity place and quota place) before the
  -- count is final: expired entries never count. Below it they stay for SweepExpired to count.
  -- A purge takes at most 128 members, so one script never holds Redis for long.
  local quota = tonumber(ARGV[10])
  if quota > 0 and redis.call('ZCARD', quota_set) >= quota then
    purge(quota_set)
    if redis.call('ZCARD', quota_set) >= quota then return {'Q'} end
  end
  local max = tonumber(ARGV[11])
  if redis.call('ZCARD', KEYS[2]) >= max then
    purge(KEYS[2])
    if redis.call('ZCARD', KEYS[2]) >= max then return {'C'} end
  end
end
local version = string.format('%d', redis.call('INCR', KEYS[4]))
if owner == '' then owner = digest end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'n', version, 'x', ARGV[5], 'o', owner, 'c', creator)
local score = ARGV[5]
if tonumber(score) < 0 then
  score = '+inf'
else
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('ZADD', quota_set, score, ARGV[1])
if ARGV[16] ~= '' then
  redis.call('ZADD', KEYS[6], score, ARGV[16])
  redis.call('SET', KEYS[7], version)
  keep_names(KEYS[6], KEYS[7])
end
-- Every server's waiters of this key wake (the subscriber, below); in the script, so that the
-- message and the write are one step: no waiter can read the old value after hearing of the new.
redis.call('PUBLISH', ARGV[12] .. 'changes', version .. ' ' .. ARGV[1])
if live then return {'K', version, 0} end
return {'K', version, 1}
)lua"));
  return script;
}

// KEYS: 1 entry, 2 capacity set. ARGV: 1 key, 2 digest, 3 now (us), 4 precondition, 5 version,
// 6 prefix. Charged: KEYS[3] bucket, ARGV 7..9. Announcements: KEYS[4] name index, KEYS[5] its
// change version, KEYS[6] version counter, ARGV[10] the address ('' = none). Codes 'F', 'P', 'N'
// or 'K'.
const std::string& DeleteScript() {
  static const std::string script = Charged(
      3, 7,
      absl::StrCat("local now = tonumber(ARGV[3]); local digest = ARGV[2]; local kind = ARGV[4]; "
                   "local want = ARGV[5]\n",
                   kKeepNames, kLoadEntry, R"lua(
if not live then return {'N'} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[6] .. 'q:' .. cur[4], ARGV[1])
if ARGV[10] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[10])
  redis.call('SET', KEYS[5], string.format('%d', redis.call('INCR', KEYS[6])))
  keep_names(KEYS[4], KEYS[5])
end
redis.call('PUBLISH', ARGV[6] .. 'changes', '0 ' .. ARGV[1])
return {'K'}
)lua"));
  return script;
}

// KEYS: 1 entry, 2 bucket. ARGV: 1..3 cost, T, burst. Replies as Charged, with code 'G' and the
// entry's v, n, x fields (false: missing) in elements 7..9.
const std::string& GetScript() {
  static const std::string script = absl::StrCat(kCharge, R"lua(
local rate = charge(KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
if rate[2] == 0 then return {'R', 0, 0, rate[1], rate[3], rate[4], rate[5]} end
local e = redis.call('HMGET', KEYS[1], 'v', 'n', 'x')
return {'G', 0, 0, rate[1], rate[3], rate[4], rate[5], e[1], e[2], e[3]}
)lua");
  return script;
}

// KEYS: 1 name index, 2 its change version, 3 bucket. ARGV: 1 now (us), 2 limit, 3 the entries'
// key prefix ("<prefix>e:ip/"), 4 "/" .. name. Charged: ARGV 5..7. Reply code 'L', the live
// total, the change version ('0': none), then {address, v, n, x, ...} of the sampled entries
// still held (element 8).
const std::string& ListScript() {
  static const std::string script = Charged(3, 5, R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local total = redis.call('ZCARD', KEYS[1])
local changed = redis.call('GET', KEYS[2]) or '0'
local limit = tonumber(ARGV[2])
local members = {}
if total > 0 and limit > 0 then
  if total <= limit then
    members = redis.call('ZRANGE', KEYS[1], 0, -1)
  else
    members = redis.call('ZRANDMEMBER', KEYS[1], limit)
  end
end
local out = {}
for _, address in ipairs(members) do
  local e = redis.call('HMGET', ARGV[3] .. address .. ARGV[4], 'v', 'n', 'x')
  if e[1] then
    out[#out + 1] = address
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
    out[#out + 1] = e[3]
  end
end
return {'L', total, changed, out}
)lua");
  return script;
}

const std::string& ScriptBody(int which) {
  switch (which) {
    case kListScript:
      return ListScript();
    case kPutScript:
      return PutScript();
    case kDeleteScript:
      return DeleteScript();
    default:
      return GetScript();
  }
}

// Elements 3..6 of a charged script's reply: the decision when a charge ran.
std::optional<ratelimit::Decision> RateFrom(const Reply& reply) {
  if (reply.elements.size() < 7 || reply.elements[3].integer == 0) return std::nullopt;
  ratelimit::Decision decision;
  decision.allowed = reply.elements[0].str != "R";
  decision.remaining_tokens = reply.elements[4].integer;
  decision.until_full = absl::Microseconds(reply.elements[5].integer);
  decision.retry_after = absl::Microseconds(reply.elements[6].integer);
  return decision;
}

// Debian's Abseil has its own absl::string_view, which StrCat takes; std::string_view converts.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Microseconds are exact in Lua's doubles (2^53 us is 285 years), nanoseconds are not.
int64_t Micros(absl::Time t) { return t == absl::InfiniteFuture() ? -1 : absl::ToUnixMicros(t); }

std::string Hex(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

char PreconditionCode(Precondition::Kind kind) {
  switch (kind) {
    case Precondition::Kind::kIfMatch:
      return 'm';
    case Precondition::Kind::kIfAbsent:
      return 'a';
    case Precondition::Kind::kIfExists:
      return 'e';
    case Precondition::Kind::kSignedRecordNewer:
      return 's';
    case Precondition::Kind::kNone:
      break;
  }
  return 'n';
}

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

// One command, waited for. Start-up, sweeps and Size only: never on the request path. Always on
// a shared connection: a worker's thread that waits here could not read its own connection.
Reply CallSync(redis::Client& client, std::vector<std::string_view> args, CommandError* error) {
  std::promise<std::pair<CommandError, Reply>> promise;
  auto future = promise.get_future();
  client.SharedCommand(args,
                       [&promise](CommandError e, const Reply& r) { promise.set_value({e, r}); });
  auto [e, reply] = future.get();
  *error = e;
  return reply;
}

// "redis_version:7.0.15" in INFO's text -> true when at least 6.2 (ZADD GT, GETDEL, ...).
bool VersionAtLeast62(const std::string& info, std::string* version) {
  size_t at = info.find("redis_version:");
  if (at == std::string::npos) return false;
  size_t end = info.find_first_of("\r\n", at);
  *version = info.substr(at + 14, end - at - 14);
  int major = 0;
  int minor = 0;
  if (std::sscanf(version->c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 2);
}

// Durability is the Redis server's: say so at start when its settings lose acknowledged writes
// on a crash (no AOF) or, with -syncWrites, on power loss (AOF without appendfsync always).
// Managed services often disable CONFIG; then nothing can be checked and nothing is said.
void WarnAboutDurability(redis::Client& client, bool sync_writes, const std::string& where) {
  CommandError e = CommandError::kOk;
  Reply aof = CallSync(client, {"CONFIG", "GET", "appendonly"}, &e);
  if (e != CommandError::kOk || aof.type != Reply::Type::kArray || aof.elements.size() != 2) return;
  if (aof.elements[1].str != "yes") {
    common::LogWarning(absl::StrCat("redis at ", where,
                                    " has appendonly no: a crash of redis-server loses the writes "
                                    "since its last snapshot (set appendonly yes)"));
    return;
  }
  Reply fsync = CallSync(client, {"CONFIG", "GET", "appendfsync"}, &e);
  if (sync_writes && e == CommandError::kOk && fsync.type == Reply::Type::kArray &&
      fsync.elements.size() == 2 && fsync.elements[1].str != "always") {
    common::LogWarning(absl::StrCat("-syncWrites: redis at ", where, " has appendfsync ",
                                    fsync.elements[1].str,
                                    ", so a power loss can lose acknowledged writes "
                                    "(set appendfsync always)"));
  }
}

// Glob-escapes `text` for SCAN MATCH.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Makes sure the keys under `prefix` are ours: `<prefix>format` holds kFormat, or nothing at all
// is under the prefix yet (then the marker is set). Anything else is another program's data (or
// a future format) that our scripts would corrupt, so the start is refused. Returns "" or the
// reason.
std::string ClaimPrefix(redis::Client& client, const std::string& prefix,
                        const std::string& where) {
  const std::string format_key = prefix + "format";
  CommandError e = CommandError::kOk;
  auto check_marker = [&](bool* ours) -> std::string {
    Reply marker = CallSync(client, {"GET", format_key}, &e);
    *ours = false;
    if (e != CommandError::kOk || marker.IsError()) {
      return absl::StrCat("redis at ", where, " did not answer GET ", format_key);
    }
    if (marker.type == Reply::Type::kNil) return "";
    if (marker.type == Reply::Type::kString && marker.str == kFormat) {
      *ours = true;
      return "";
    }
    return absl::StrCat("redis at ", where, ": ", format_key, " is ",
                        common::EscapeForLog(marker.str, 40), ", this server writes format ",
                        kFormat, "; refusing to touch the keys under \"", prefix, "\"");
  };
  bool ours = false;
  if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
  // No marker: the prefix must be empty. SCAN walks the whole keyspace once, at first start only.
  const std::string pattern = GlobEscape(prefix) + "*";
  std::string cursor = "0";
  do {
    Reply page = CallSync(client, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, &e);
    if (e != CommandError::kOk || page.type != Reply::Type::kArray || page.elements.size() != 2) {
      return absl::StrCat("redis at ", where, " did not answer SCAN");
    }
    cursor = page.elements[0].str;
    for (const Reply& key : page.elements[1].elements) {
      if (key.str == format_key) continue;
      // Another server may have claimed the prefix since our GET.
      if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
      return absl::StrCat("redis at ", where, " holds keys under \"", prefix,
                          "\" that this server did not write (such as ",
                          common::EscapeForLog(key.str, 80),
                          "); use another database (redis://host:port/N) or remove them");
    }
  } while (cursor != "0");
  (void)CallSync(client, {"SET", format_key, kFormat, "NX"}, &e);
  if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
  return absl::StrCat("redis at ", where, " did not keep ", format_key);
}

}  // namespace

std::unique_ptr<RedisStore> RedisStore::Open(const RedisStoreOptions& options, std::string* error) {
  const std::string where = redis::EndpointForLog(options.client.endpoint);
  auto client = std::make_unique<redis::Client>(options.client);
  if (!client->WaitConnected(options.open_timeout)) {
    *error = absl::StrCat("cannot connect to redis at ", where,
                          " (is it running? is the password right?)");
    return nullptr;
  }
  CommandError e = CommandError::kOk;
  Reply info = CallSync(*client, {"INFO", "server"}, &e);
  std::string version;
  if (e != CommandError::kOk || info.type != Reply::Type::kString) {
    *error = absl::StrCat("redis at ", where, " did not answer INFO");
    return nullptr;
  }
  if (!VersionAtLeast62(info.str, &version)) {
    *error = absl::StrCat("redis at ", where, " is version ", version, "; 6.2 or newer is needed");
    return nullptr;
  }
  WarnAboutDurability(*client, options.sync_writes, where);
  if (std::string refused = ClaimPrefix(*client, options.prefix, where); !refused.empty()) {
    *error = std::move(refused);
    return nullptr;
  }
  std::array<std::string, kScriptCount> shas;
  for (int i = 0; i < kScriptCount; ++i) {
    Reply sha = CallSync(*client, {"SCRIPT", "LOAD", ScriptBody(i)}, &e);
    if (e != CommandError::kOk || sha.type != Reply::Type::kString) {
      *error = absl::StrCat("redis at ", where, " refused to load a script: ", sha.str);
      return nullptr;
    }
    shas[i] = sha.str;
  }
  // The hashing key: the first server to start creates it, every other one reads that one.
  const std::string key_name = options.prefix + "hashkey";
  secret::Key fresh = secret::Hasher::WithRandomKey().key();
  (void)CallSync(
      *client,
      {"SET", key_name, std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size()),
       "NX"},
      &e);
  Reply stored = CallSync(*client, {"GET", key_name}, &e);
  if (e != CommandError::kOk || stored.type != Reply::Type::kString ||
      stored.str.size() != secret::kKeyBytes) {
    *error = absl::StrCat("redis at ", where, ": ", key_name, " is missing or not a 32-byte key");
    return nullptr;
  }
  secret::Key key;
  std::copy(stored.str.begin(), stored.str.end(), key.begin());
  std::unique_ptr<RedisStore> store(
      new RedisStore(options, std::move(client), key, std::move(shas)));
  if (!store->subscriber_->WaitSubscribed(options.open_timeout)) {
    *error = absl::StrCat("cannot subscribe to ", options.prefix, "changes on redis at ", where,
                          " (may this user SUBSCRIBE?)");
    return nullptr;
  }
  return store;
}

RedisStore::RedisStore(const RedisStoreOptions& options, std::unique_ptr<redis::Client> client,
                       const secret::Key& key, std::array<std::string, 4> shas)
    : prefix_(options.prefix),
      max_entries_(options.max_entries),
      limits_(options.limits),
      client_(std::move(client)),
      hasher_(key),
      script_sha_(std::move(shas)) {
  // GCRA in whole microseconds (Redis TIME's unit): T = period / capacity, at least 1 us.
  const int64_t capacity = std::max<int64_t>(1, options.capacity_tokens);
  emission_interval_us_ =
      std::max<int64_t>(1, absl::ToInt64Microseconds(options.refill_period) / capacity);
  burst_us_ = emission_interval_us_ * capacity;
  reconnect_wait_ =
      absl::ToChronoNanoseconds(options.client.backoff_max + options.client.connect_timeout);
  redis::SubscriberOptions subscriber;
  subscriber.client = options.client;
  subscriber.client.connections = 1;
  subscriber.channel = prefix_ + "changes";
  // "<version> <key>": at most 20 digits, a space and a key.
  subscriber.max_message_bytes = limits_.max_key_bytes + 21;
  subscriber_ = std::make_unique<redis::Subscriber>(
      std::move(subscriber), [this](std::string_view message) { OnChangeMessage(message); },
      [this] { OnSubscribed(); });
}

RedisStore::~RedisStore() {
  stopping_.store(true, std::memory_order_relaxed);
  subscriber_.reset();  // joins its thread before the rest goes
}

void RedisStore::RunScript(int which, std::vector<std::string> args,
                           absl::AnyInvocable<void(CommandError, const Reply&)> done) {
  // args: the KEYS count, then keys and ARGV. The first element is replaced by the SHA or body.
  std::vector<std::string_view> command;
  command.reserve(args.size() + 2);
  command.push_back("EVALSHA");
  command.push_back(script_sha_[which]);
  for (const std::string& arg : args) command.push_back(arg);
  client_->Command(command, [this, which, args = std::move(args), done = std::move(done)](
                                CommandError error, const Reply& reply) mutable {
    if (error == CommandError::kOk && reply.IsError() && reply.str.rfind("NOSCRIPT", 0) == 0) {
      std::vector<std::string_view> eval;
      eval.push_back("EVAL");
      eval.push_back(ScriptBody(which));
      for (const std::string& arg : args) eval.push_back(arg);
      client_->Command(eval, std::move(done));
      return;
    }
    done(error, reply);
  });
}

void RedisStore::Get(std::string_view key, absl::Time now, GetCallback done) {
  ChargedGet(key, now, RateCharge{}, std::move(done));
}

void RedisStore::ChargedGet(std::string_view key, absl::Time now, const RateCharge& charge,
                            GetCallback done) {
  if (!ValidKey(key, limits_)) {
    done(GetResult{});  // no such entry can exist
    return;
  }
  const std::string entry = absl::StrCat(prefix_, "e:", std::string(key));
  const int64_t now_us = Micros(now);
  // reply.elements[first..first+2] are the entry's v, n, x.
  auto answer = [done = std::move(done), now_us](CommandError error, const Reply& reply,
                                                 size_t first) mutable {
    GetResult result;
    if (first > 0 && error == CommandError::kOk && reply.type == Reply::Type::kArray &&
        reply.elements.size() == 7 && reply.elements[0].str == "R") {
      result.rate = RateFrom(reply);
      result.status = Status::kRateLimited;
      done(result);
      return;
    }
    if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
        reply.elements.size() != first + 3) {
      (void)FailureStatus(error, reply);  // logs; a read has no kStorageFull
      result.status = Status::kUnavailable;
      done(result);
      return;
    }
    if (first > 0) result.rate = RateFrom(reply);
    const Reply& value = reply.elements[first];
    int64_t version = 0;
    int64_t expires_us = 0;
    if (value.type != Reply::Type::kString || !ParseInt(reply.elements[first + 1].str, &version) ||
        !ParseInt(reply.elements[first + 2].str, &expires_us) ||
        (expires_us >= 0 && expires_us <= now_us)) {
      result.status = Status::kNotFound;
      done(result);
      return;
    }
    result.status = Status::kOk;
    result.entry.value = value.str;
    result.entry.version = static_cast<uint64_t>(version);
    result.entry.expires_at =
        expires_us < 0 ? absl::InfiniteFuture() : absl::FromUnixMicros(expires_us);
    done(result);
  };
  if (charge.cost_tokens == 0 && !charge.report_only) {
    client_->Command({"HMGET", entry, "v", "n", "x"},
                     [answer = std::move(answer)](CommandError error, const Reply& reply) mutable {
                       answer(error, reply, 0);
                     });
    return;
  }
  std::vector<std::string> args = {"2", entry, BucketKey(charge)};
  AppendRateArgs(charge, args);
  RunScript(kGetScript, std::move(args),
            [answer = std::move(answer)](CommandError error, const Reply& reply) mutable {
              answer(error, reply, 7);
            });
}

std::string RedisStore::BucketKey(const RateCharge& charge) const {
  return absl::StrCat(prefix_, "rl:", Hex(charge.client.data(), charge.client.size()));
}

void RedisStore::AppendRateArgs(const RateCharge& charge, std::vector<std::string>& args) const {
  const int64_t cost = charge.cost_tokens > 0 ? charge.cost_tokens : charge.report_only ? -1 : 0;
  args.push_back(absl::StrCat(cost));
  args.push_back(absl::StrCat(emission_interval_us_));
  args.push_back(absl::StrCat(burst_us_));
}

void RedisStore::Put(const PutRequest& request, WriteCallback done) {
  if (!ValidKey(request.key, limits_) || !ValidValue(request.value, limits_)) {
    WriteResult refused;
    refused.status = Status::kUnavailable;  // the caller skipped its size checks
    done(refused);
    return;
  }
  std::string digest;
  if (!request.secret.empty()) {
    secret::Digest d = hasher_.Hash(request.secret);
    digest.assign(reinterpret_cast<const char*>(d.data()), d.size());
  }
  const std::string creator = Hex(request.creator.data(), request.creator.size());
  const int64_t expires_us = Micros(request.expires_at);
  // Redis frees the entry after the TTL the request asked for, on Redis's own clock.
  // (Unused for an entry that never expires; the cap keeps the conversion defined.)
  const int64_t ttl_ms = static_cast<int64_t>(std::ceil(
      std::clamp(absl::ToDoubleMilliseconds(request.expires_at - request.now), 1.0, 1e15)));
  std::string key(request.key);
  std::vector<std::string> args = {"7",
                                   absl::StrCat(prefix_, "e:", key),
                                   prefix_ + "all",
                                   absl::StrCat(prefix_, "q:", creator),
                                   prefix_ + "version",
                                   BucketKey(request.charge),
                                   key,
                                   std::string(request.value),
                                   digest,
                                   absl::StrCat(Micros(request.now)),
                                   absl::StrCat(expires_us),
                                   absl::StrCat(ttl_ms),
                                   std::string(1, PreconditionCode(request.precondition.kind)),
                                   absl::StrCat(request.precondition.version),
                                   creator,
                                   absl::StrCat(request.max_entries_per_creator),
                                   absl::StrCat(max_entries_),
                                   prefix_};
  AppendRateArgs(request.charge, args);
  AppendNameArgs(key, /*with_version_counter=*/false, args);
  const absl::Time expires_at = request.expires_at;
  RunScript(kPutScript, std::move(args),
            [expires_at, done = std::move(done)](CommandError error, const Reply& reply) mutable {
              WriteResult result;
              if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
                  reply.elements.size() != 7) {
                result.status = FailureStatus(error, reply);
                done(result);
                return;
              }
              result.rate = RateFrom(reply);
              const std::string& code = reply.elements[0].str;
              int64_t version = 0;
              if (code == "K" && ParseInt(reply.elements[1].str, &version)) {
                result.status = Status::kOk;
                result.version = static_cast<uint64_t>(version);
                result.expires_at = expires_at;
                result.created = reply.elements[2].integer == 1;
              } else if (code == "F") {
                result.status = Status::kForbidden;
              } else if (code == "P") {
                result.status = Status::kPreconditionFailed;
              } else if (code == "X") {
                result.status = Status::kConflict;
              } else if (code == "Q") {
                result.status = Status::kQuotaReached;
              } else if (code == "C") {
                result.status = Status::kCapacityReached;
              } else if (code == "R") {
                result.status = Status::kRateLimited;
              } else {
                result.status = FailureStatus(CommandError::kOk, reply);
              }
              done(result);
            });
}

void RedisStore::Delete(const DeleteRequest& request, WriteCallback done) {
  if (request.precondition.kind == Precondition::Kind::kSignedRecordNewer) {
    WriteResult refused;  // a signed record is never deleted by a condition on itself
    refused.status = Status::kPreconditionFailed;
    done(refused);
    return;
  }
  std::string digest;
  secret::Digest d{};
  if (!request.secret.empty()) {
    d = hasher_.Hash(request.secret);
    digest.assign(reinterpret_cast<const char*>(d.data()), d.size());
  }
  if (!ValidKey(request.key, limits_)) {
    WriteResult refused;  // no such entry can exist: answered as for a missing key
    refused.status = PlanDelete(nullptr, request, request.secret.empty() ? nullptr : &d).status;
    done(refused);
    return;
  }
  std::string key(request.key);
  std::vector<std::string> args = {"6",
                                   absl::StrCat(prefix_, "e:", key),
                                   prefix_ + "all",
                                   BucketKey(request.charge),
                                   key,
                                   digest,
                                   absl::StrCat(Micros(request.now)),
                                   std::string(1, PreconditionCode(request.precondition.kind)),
                                   absl::StrCat(request.precondition.version),
                                   prefix_};
  AppendRateArgs(request.charge, args);
  AppendNameArgs(key, /*with_version_counter=*/true, args);
  RunScript(kDeleteScript, std::move(args),
            [done = std::move(done)](CommandError error, const Reply& reply) mutable {
              WriteResult result;
              if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
                  reply.elements.size() != 7) {
                result.status = FailureStatus(error, reply);
                done(result);
                return;
              }
              result.rate = RateFrom(reply);
              const std::string& code = reply.elements[0].str;
              if (code == "R") {
                result.status = Status::kRateLimited;
              } else if (code == "K") {
                result.status = Status::kOk;
              } else if (code == "F") {
                result.status = Status::kForbidden;
              } else if (code == "P") {
                result.status = Status::kPreconditionFailed;
              } else if (code == "N") {
                result.status = Status::kNotFound;
              } else {
                result.status = FailureStatus(CommandError::kOk, reply);
              }
              done(result);
            });
}

void RedisStore::AppendNameArgs(std::string_view key, bool with_version_counter,
                                std::vector<std::string>& args) const {
  // The keys go after the script's other keys: insert them before the first argument.
  const size_t key_count = static_cast<size_t>(std::stoi(args[0]));
  const std::optional<Announcement> announcement = ParseAnnouncement(key);
  const absl::string_view name =
      announcement ? absl::string_view(announcement->name.data(), announcement->name.size())
                   : absl::string_view();
  std::vector<std::string> keys = {absl::StrCat(prefix_, "n:", name),
                                   absl::StrCat(prefix_, "nv:", name)};
  if (with_version_counter) keys.push_back(prefix_ + "version");
  args.insert(args.begin() + 1 + static_cast<std::ptrdiff_t>(key_count - keys.size()),
              keys.begin(), keys.end());
  args.push_back(announcement ? std::string(announcement->address) : std::string());
}

void RedisStore::List(const ListRequest& request, ListCallback done) {
  std::vector<std::string> args = {"3",
                                   absl::StrCat(prefix_, "n:", AbslView(request.name)),
                                   absl::StrCat(prefix_, "nv:", AbslView(request.name)),
                                   BucketKey(request.charge),
                                   absl::StrCat(Micros(request.now)),
                                   absl::StrCat(request.limit),
                                   absl::StrCat(prefix_, "e:", AbslView(kAnnouncementPrefix)),
                                   absl::StrCat("/", AbslView(request.name))};
  AppendRateArgs(request.charge, args);
  const int64_t now_us = Micros(request.now);
  RunScript(kListScript, std::move(args),
            [now_us, done = std::move(done)](CommandError error, const Reply& reply) mutable {
              ListResult result;
              if (error != CommandError::kOk || reply.type != Reply::Type::kArray ||
                  reply.elements.size() < 7) {
                result.status = FailureStatus(error, reply);
                done(result);
                return;
              }
              result.rate = RateFrom(reply);
              const std::string& code = reply.elements[0].str;
              int64_t changed = 0;
              if (code == "R") {
                result.status = Status::kRateLimited;
                done(result);
                return;
              }
              if (code != "L" || reply.elements.size() != 8 ||
                  !ParseInt(reply.elements[2].str, &changed)) {
                result.status = FailureStatus(CommandError::kOk, reply);
                done(result);
                return;
              }
              result.status = Status::kOk;
              result.total = static_cast<uint64_t>(reply.elements[1].integer);
              // A change counter and the live count: a write or delete bumps the first, an
              // expiry alone lowers the second.
              result.fingerprint = AddToFingerprint(static_cast<uint64_t>(changed), result.total);
              const std::vector<Reply>& out = reply.elements[7].elements;
              for (size_t i = 0; i + 3 < out.size(); i += 4) {
                int64_t version = 0;
                int64_t expires_us = 0;
                if (!ParseInt(out[i + 2].str, &version) || !ParseInt(out[i + 3].str, &expires_us) ||
                    (expires_us >= 0 && expires_us <= now_us)) {
                  continue;  // freed or rewritten with an earlier expiry since it was indexed
                }
                result.peers.push_back(ListedPeer{
                    out[i].str, out[i + 1].str, static_cast<uint64_t>(version),
                    expires_us < 0 ? absl::InfiniteFuture() : absl::FromUnixMicros(expires_us)});
              }
              std::sort(result.peers.begin(), result.peers.end(),
                        [](const ListedPeer& a, const ListedPeer& b) {
                          return a.address < b.address;
                        });
              done(result);
            });
}

size_t RedisStore::SweepExpired(absl::Time now) {
  CommandError error = CommandError::kOk;
  const std::string all = prefix_ + "all";
  const std::string max = absl::StrCat(Micros(now));
  Reply reply = CallSync(*client_, {"ZREMRANGEBYSCORE", all, "-inf", max}, &error);
  return error == CommandError::kOk && reply.type == Reply::Type::kInteger
             ? static_cast<size_t>(reply.integer)
             : 0;
}

Status RedisStore::Flush() { return Status::kOk; }

size_t RedisStore::Size() const {
  CommandError error = CommandError::kOk;
  Reply reply = CallSync(*client_, {"ZCARD", prefix_ + "all"}, &error);
  return error == CommandError::kOk && reply.type == Reply::Type::kInteger
             ? static_cast<size_t>(reply.integer)
             : 0;
}

void RedisStore::SetChangeListener(ChangeListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

void RedisStore::SetChangesLostListener(absl::AnyInvocable<void()> listener) {
  std::lock_guard lock(listener_mu_);
  lost_listener_ = std::move(listener);
}

void RedisStore::OnChangeMessage(std::string_view message) {
  // "<version> <key>", as the write scripts publish it; anything else (another program
  // publishing on our channel) is ignored.
  const size_t space = message.find(' ');
  if (space == std::string_view::npos || space == 0 || space > 20) return;
  uint64_t version = 0;
  for (char c : message.substr(0, space)) {
    if (c < '0' || c > '9') return;
    version = version * 10 + static_cast<uint64_t>(c - '0');
  }
  const std::string_view key = message.substr(space + 1);
  if (!ValidKey(key, limits_)) return;
  std::lock_guard lock(listener_mu_);
  if (listener_) listener_(key, version);
}

void RedisStore::OnSubscribed() {
  // After Redis restarts, the subscriber may be back before the command connections are: the
  // waiters woken now would read in vain (503). Wait for them, for at most a backoff and a
  // connect, on this thread (messages meanwhile wait in Redis's bounded output buffer).
  const auto deadline = std::chrono::steady_clock::now() + reconnect_wait_;
  while (client_->ConnectedCount() < client_->connection_count() &&
         !stopping_.load(std::memory_order_relaxed) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(listener_mu_);
  if (lost_listener_) lost_listener_();
}

}  // namespace rendezvous::kv
