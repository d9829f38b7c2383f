// RedisStore: the kv::Store engine on a Redis (or Valkey) server shared by many rendezvous servers.
//
// Every request is one round trip, its rate-limit charge included (ChargesRateLimit): a script
// first charges the client's token bucket and runs the operation only if that passed.
// Every write is a Lua script that runs the owner, precondition, quota and
// capacity rules and the write itself atomically inside Redis (Redis runs one script at a time), so
// servers racing on one key or on the last free slot cannot both win. The rules are a second copy
// of the C++ ones (kv/write_plan.h); the store contract suite keeps the two equal. A Get without
// a charge is one HMGET.
//
// Key layout, all under a prefix (default "rdv:"):
//   <prefix>e:<key>       hash: v value, n version (decimal), x expires_at in Unix microseconds
//                         (-1: never), o owner digest (32 bytes, "" when unowned), c creator (hex)
//                         Redis expiry (PEXPIRE) frees it; `x` decides liveness against the
//                         request's clock, so an expired value is never served even before Redis
//                         frees it, and servers need not share a clock with Redis.
//   <prefix>all           sorted set of every entry's key, scored by x: the -maxNumKV count
//   <prefix>q:<creator>   sorted set of one creator's keys, scored by x: the -maxKeysPerIP count
//                         At its limit, a set's expired members (score <= now) are removed, with
//                         their entries and their places in the other set, before the count
//                         decides, so expired entries never refuse a creation.
//   <prefix>n:<name>      sorted set of the addresses announcing <name> (the keys
//                         "ip/<address>/<name>", kv/announcement.h), scored by x; written by the
//                         put and delete scripts with the entry. Its expired members (score <=
//                         now) are dropped by the list script, so the entries' other removals
//                         (purges, Redis expiry) need not touch it. The key expires a minute
//                         after its last member.
//   <prefix>nv:<name>     the version of the last write or delete of one of <name>'s announcements:
//                         with the live count, the listing's fingerprint. Expires with n:<name>.
//                         (Announcements written before this layout, or by an older server, are
//                         not indexed until written again.)
//   <prefix>version       INCR counter: versions unique and increasing across all servers
//   <prefix>hashkey       the 32-byte owner hashing key, created once (SET NX) and shared
//   <prefix>rl:<client>   string: a client's token bucket (GCRA's theoretical arrival time, in
//                         Redis TIME microseconds), with PEXPIRE at the moment it is full again
//   <prefix>format        the layout's version ("1"). Open refuses a database that has keys
//                         under the prefix but no such marker (another program's data), or a
//                         marker of another version.
//   <prefix>changes       pub/sub channel (no key): every committed Put and Delete publishes
//                         "<version> <key>" (version 0: deleted) from inside its script.
//
// Change feed (SetChangeListener): each server keeps one more connection, subscribed to
// <prefix>changes (redis/subscriber.h), and calls the listener for every message: its own writes
// and every other server's, in commit order, exactly once each (its own writes are heard through
// the channel too, never directly, so a waiter is not woken twice by one write). Redis does not
// keep messages for an absent subscriber: after every (re)subscription the changes-lost listener
// runs, so that each waiter reads its key again.
//
// Owner digests are compared with Lua string equality, which is not constant-time. That is safe
// here: a digest is a keyed hash of the client's secret, so a client cannot steer its digest's
// bytes to learn a stored digest byte by byte.
//
// Completion: callbacks run on the thread that issued the operation when it is one of the HTTP
// workers the client is attached to (redis::Client::AttachWorkers: that worker's own Redis
// connection), else on the Redis client's threads. Redis down, stalled or overloaded:
// kUnavailable at once or within the client's command timeout; Redis out of memory (maxmemory with
// noeviction): kStorageFull.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kv/store.h"
#include "kv/write_plan.h"
#include "redis/client.h"
#include "redis/subscriber.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

enum class RedisScript;  // kv/redis_scripts.h

struct RedisStoreOptions {
  redis::ClientOptions client;
  std::string prefix = "rdv:";
  size_t max_entries = 100000;  // live entries at most (-maxNumKV); 0 refuses new keys
  InputLimits limits;           // refused alike by every engine (store.h)
  // The clients' token buckets (-maxRequests per -resetDuration), charged inside the operations
  // (ChargesRateLimit) so that a client has one bucket across every server.
  int64_t capacity_tokens = 11;
  absl::Duration refill_period = absl::Minutes(1);
  absl::Duration open_timeout = absl::Seconds(5);  // to connect and set up at start
  // -syncWrites: Open warns unless Redis fsyncs every write (appendfsync always), since
  // durability is Redis's (the server cannot make Redis fsync).
  bool sync_writes = false;
};

class RedisStore final : public Store {
 public:
  // Connects, checks that the server is Redis 6.2 or newer and that the keys under the prefix are
  // ours (<prefix>format), loads the scripts and creates or reads the shared hashing key. Returns
  // null with one line in `error` on failure.
  static std::unique_ptr<RedisStore> Open(const RedisStoreOptions& options, std::string* error);
  ~RedisStore() override;

  void Get(std::string_view key, absl::Time now, GetCallback done) override;
  // One EVALSHA that charges the bucket and reads the entry (a plain HMGET without a charge).
  void ChargedGet(std::string_view key, absl::Time now, const RateCharge& charge,
                  GetCallback done) override;
  bool ChargesRateLimit() const override { return true; }
  void Put(const PutRequest& request, WriteCallback done) override;
  void Delete(const DeleteRequest& request, WriteCallback done) override;
  // Drops expired members from the capacity set (Redis frees the entries themselves). Blocking.
  size_t SweepExpired(absl::Time now) override;
  // Nothing to do: durability is the Redis server's (appendonly/appendfsync). Returns kOk.
  [[nodiscard]] Status Flush() override;
  // The capacity set's size. Blocking (one round trip); 0 when Redis does not answer.
  size_t Size() const override;
  // The listeners run on the subscriber's thread, one call at a time.
  void SetChangeListener(ChangeListener listener) override;
  // One script: drops the name's expired members, counts the rest, samples with ZRANDMEMBER and
  // reads the sampled entries, after the charge.
  void List(const ListRequest& request, ListCallback done) override;
  void SetChangesLostListener(absl::AnyInvocable<void()> listener) override;

  // For the wiring (app/): the client, to attach it to the HTTP workers' io_contexts.
  redis::Client& client() { return *client_; }
  // Shared connections to Redis that serve now (metrics: 0 means Redis is unreachable).
  size_t connected_count() const { return client_->ConnectedCount(); }
  // Whether the change feed's subscription is live (metrics: 0 means writes of other servers go
  // unheard by this server's long polls until it is back).
  bool subscribed() const { return subscriber_->subscribed(); }

 private:
  RedisStore(const RedisStoreOptions& options, std::unique_ptr<redis::Client> client,
             const secret::Key& key, std::array<std::string, 4> shas);
  // The KEYS entry and the three ARGV entries of a charge (bucket, cost, T, burst).
  std::string BucketKey(const RateCharge& charge) const;
  void AppendRateArgs(const RateCharge& charge, std::vector<std::string>& args) const;
  // The listing index's keys (inserted last among the script's keys, whose count args[0] says
  // already includes them) and the announcing address ('' when `key` announces nothing),
  // appended after the other arguments.
  void AppendNameArgs(std::string_view key, bool with_version_counter,
                      std::vector<std::string>& args) const;
  // The subscriber's callbacks.
  void OnChangeMessage(std::string_view message);
  void OnSubscribed();
  // Sends EVALSHA, falling back to EVAL once when Redis lost its script cache (a restart).
  void RunScript(RedisScript which, std::vector<std::string> args,
                 absl::AnyInvocable<void(redis::CommandError, const redis::Reply&)> done);

  const std::string prefix_;
  const size_t max_entries_;
  const InputLimits limits_;
  std::unique_ptr<redis::Client> client_;
  const secret::Hasher hasher_;
  // Indexed by RedisScript (kPut, kDelete, kGet, kList).
  const std::array<std::string, 4> script_sha_;
  int64_t emission_interval_us_ = 1;             // GCRA's T
  int64_t burst_us_ = 1;                         // capacity * T
  std::chrono::nanoseconds reconnect_wait_{0};  // OnSubscribed's wait for a command connection
  std::atomic<bool> stopping_{false};
  std::mutex listener_mu_;  // the listeners are set while the subscriber may call them
  ChangeListener listener_;                    // guarded by listener_mu_
  absl::AnyInvocable<void()> lost_listener_;   // guarded by listener_mu_
  // Last: stopped (its thread joined) before the listeners and the client go.
  std::unique_ptr<redis::Subscriber> subscriber_;
};

}  // namespace rendezvous::kv
