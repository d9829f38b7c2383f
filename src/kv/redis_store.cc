// RedisStore (redis_store.h): each operation's keys and arguments, its script run, and the
// change feed. The scripts are in redis_scripts.cc, their replies' decoding in redis_replies.cc,
// the start-up checks in redis_setup.cc.
#include "kv/redis_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kv/announcement.h"
#include "kv/redis_replies.h"
#include "kv/redis_scripts.h"
#include "kv/redis_setup.h"

namespace rendezvous::kv {
namespace {

using redis::CommandError;
using redis::Reply;

// Debian's Abseil has its own absl::string_view, which StrCat takes; std::string_view converts.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

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
  std::array<std::string, kRedisScriptCount> shas;
  for (int i = 0; i < kRedisScriptCount; ++i) {
    Reply sha =
        CallSync(*client, {"SCRIPT", "LOAD", RedisScriptBody(static_cast<RedisScript>(i))}, &e);
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

void RedisStore::RunScript(RedisScript which, std::vector<std::string> args,
                           absl::AnyInvocable<void(CommandError, const Reply&)> done) {
  // args: the KEYS count, then keys and ARGV. The first element is replaced by the SHA or body.
  std::vector<std::string_view> command;
  command.reserve(args.size() + 2);
  command.push_back("EVALSHA");
  command.push_back(script_sha_[static_cast<size_t>(which)]);
  for (const std::string& arg : args) command.push_back(arg);
  client_->Command(command, [this, which, args = std::move(args), done = std::move(done)](
                                CommandError error, const Reply& reply) mutable {
    if (error == CommandError::kOk && reply.IsError() && reply.str.rfind("NOSCRIPT", 0) == 0) {
      std::vector<std::string_view> eval;
      eval.push_back("EVAL");
      eval.push_back(RedisScriptBody(which));
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
  // The entry's v, n, x are the reply's elements first..first+2.
  auto answer = [done = std::move(done), now_us](CommandError error, const Reply& reply,
                                                 size_t first) mutable {
    done(DecodeGetReply(error, reply, first, now_us));
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
  RunScript(RedisScript::kGet, std::move(args),
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
  RunScript(RedisScript::kPut, std::move(args),
            [expires_at, done = std::move(done)](CommandError error, const Reply& reply) mutable {
              done(DecodePutReply(error, reply, expires_at));
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
  RunScript(RedisScript::kDelete, std::move(args),
            [done = std::move(done)](CommandError error, const Reply& reply) mutable {
              done(DecodeDeleteReply(error, reply));
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
  RunScript(RedisScript::kList, std::move(args),
            [now_us, done = std::move(done)](CommandError error, const Reply& reply) mutable {
              done(DecodeListReply(error, reply, now_us));
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
