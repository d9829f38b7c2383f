// The Lua scripts of the Redis engine (redis_scripts.h): their text, and for each one its KEYS,
// ARGV and reply.
#include "kv/redis_scripts.h"

#include "absl/strings/str_cat.h"

namespace rendezvous::kv {
namespace {

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

}  // namespace

const std::string& RedisScriptBody(RedisScript script) {
  switch (script) {
    case RedisScript::kList:
      return ListScript();
    case RedisScript::kPut:
      return PutScript();
    case RedisScript::kDelete:
      return DeleteScript();
    case RedisScript::kGet:
      break;
  }
  return GetScript();
}

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

}  // namespace rendezvous::kv
