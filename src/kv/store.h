// Store: the key-value engine interface the HTTP handlers talk to.
//
// Every rule that must hold atomically lives *inside* the store: the owner-secret check and claim,
// the `-maxNumKV` capacity check, preconditions (If-Match / If-None-Match), expiry. The handlers
// never read-then-write, so two concurrent first claims of a key cannot both win and the entry
// count can never pass the limit. The rules are decided once, for every engine, by the write
// planner (write_plan.h); an engine runs it inside its own atomic step.
//
// Input limits, the same on every engine (write_plan.h InputLimits; the HTTP layer checks them
// first and answers its own errors): a key is 1 to max_key_bytes bytes, a value at most
// max_value_bytes bytes. Outside them, Get answers kNotFound, Delete answers as for a missing key
// (kNotFound, or kPreconditionFailed for If-Match / If-Match: *), and Put answers kUnavailable
// without writing anything.
//
// Asynchrony: every operation reports through a completion callback, which an engine may invoke
// inline (the memory engine always does, LMDB does for reads) or later from one of its own threads
// (LMDB's group-commit writer, a network backend). Callers must not assume either. A callback is
// invoked exactly once. It must be short and must not call back into the same store: an engine
// may hold an internal lock while it runs (that is what lets GetResult hand out a view instead of
// a copy).
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "ratelimit/limiter.h"

namespace rendezvous::kv {

// Outcome of an operation. Client-caused outcomes are mapped to HTTP in exactly one place
// (http/errors.cc); the store knows nothing of HTTP.
enum class Status : uint8_t {
  kOk = 0,
  kNotFound,            // no live (unexpired) entry under the key
  kForbidden,           // the entry is owned and the secret given does not match (or is empty)
  kCapacityReached,     // creating the entry would exceed the configured maximum of live entries
  kQuotaReached,        // creating the entry would exceed its creator's quota of live entries
  kPreconditionFailed,  // an If-Match / If-None-Match condition did not hold
  // kSignedRecordNewer: the live record under the key is newer than the one written, or has the
  // same timestamp and other bytes (nothing was changed)
  kConflict,
  kStorageFull,         // the disk or the engine's map is full; reads still work
  kUnavailable,         // the engine failed (I/O error, backend down); nothing was changed
  kRateLimited,         // the request's RateCharge was refused; nothing was read or changed
  // Keep kRateLimited last: http/stats.h sizes its per-status table from it.
};

// A rate-limit charge run inside the operation, by an engine shared by many servers
// (ChargesRateLimit): the client's token bucket lives in the engine, so that it is one bucket
// across all servers, and is charged in the same atomic step (one round trip) as the operation,
// which runs only if the charge passes. cost_tokens 0: no charge (the caller limits, or nobody).
struct RateCharge {
  std::array<uint8_t, 16> client{};  // ratelimit::ClientKey bytes
  int64_t cost_tokens = 0;
  // With cost 0: report the client's bucket as it stands (GetResult::rate) without charging it,
  // for an answer whose token was paid earlier (a long poll woken later). ChargedGet only.
  bool report_only = false;
};

// A write condition, evaluated atomically with the write.
struct Precondition {
  enum class Kind : uint8_t {
    kNone,
    kIfMatch,   // the live entry's version must equal `version` (absent entry: fails)
    kIfAbsent,  // there must be no live entry (If-None-Match: *)
    kIfExists,  // there must be a live entry, whatever its version (If-Match: *)
    // Put only (signed keys, pkarr/record.h): the value is a verified signed record, written
    // only when no live entry exists, when the live entry's record has an older timestamp (or is
    // not a record at all), or when it holds the same bytes (an idempotent refresh of the
    // expiry). Otherwise kConflict. A Delete with this kind answers kPreconditionFailed.
    kSignedRecordNewer,
  };
  Kind kind = Kind::kNone;
  uint64_t version = 0;
};

// A live entry as seen by Get. The views are valid only during the callback.
struct EntryView {
  std::string_view value;
  uint64_t version = 0;  // changes on every successful write of the key; never 0 for a live entry
  absl::Time expires_at;
};

struct GetResult {
  Status status = Status::kNotFound;  // kOk, kNotFound or kUnavailable
  EntryView entry;                    // meaningful only when status == kOk
  // Set when the engine ran a RateCharge: its decision (status is kRateLimited when refused).
  std::optional<ratelimit::Decision> rate;
};

// Create or replace a value. The strings are read during the call only; an engine that completes
// later copies what it needs.
struct PutRequest {
  std::string_view key;
  std::string_view value;
  // The owner secret sent by the client; empty means "none". Rules (as the original server):
  // - live entry with an owner: the secret must match, else kForbidden (the value is unchanged);
  // - live entry without an owner, or no live entry: a non-empty secret claims the entry.
  // The engine stores only a keyed hash of the secret and compares hashes in constant time.
  std::string_view secret;
  absl::Time now;         // for expiry checks
  absl::Time expires_at;  // the new absolute expiry of the entry (every write refreshes it)
  Precondition precondition;
  // Key quota (-maxKeysPerIP): who creates the entry (the client's ratelimit::ClientKey bytes:
  // an IPv4 address or an IPv6 prefix) and how many live entries one creator may hold (0 =
  // unlimited). Only a creation counts against the quota; an update or claim of a live entry
  // keeps the creator recorded when it was created. The count falls again when the entry is
  // deleted or its expired record is removed (sweep, capacity purge, a new write over it), so a
  // client that stops writing gets its slots back as its keys expire. An expired entry never
  // counts against its creator's quota, nor against the capacity limit: a creation that finds a
  // limit reached first removes the expired entries that hold it (no background sweep needed).
  std::array<uint8_t, 16> creator{};
  uint32_t max_entries_per_creator = 0;
  RateCharge charge;  // only for an engine that ChargesRateLimit
};

struct DeleteRequest {
  std::string_view key;
  std::string_view secret;  // required (and must match) when the entry is owned
  absl::Time now;
  Precondition precondition;
  RateCharge charge;  // only for an engine that ChargesRateLimit
};

struct WriteResult {
  Status status = Status::kUnavailable;
  uint64_t version = 0;                     // the entry's new version (Put with kOk)
  absl::Time expires_at;                    // the entry's expiry (Put with kOk)
  bool created = false;                     // Put kOk: true when no live entry existed before
  std::optional<ratelimit::Decision> rate;  // as GetResult::rate
};

// Who announced a name (announcement.h): the live records under "ip/<address>/<name>".
struct ListRequest {
  std::string_view name;  // read during the call only
  absl::Time now;         // records with expires_at <= now are neither listed nor counted
  uint32_t limit = 100;   // list at most this many (a uniform random sample when more are live)
  uint64_t seed = 0;      // drives the sample; the caller draws it (engines stay deterministic)
  RateCharge charge;      // only for an engine that ChargesRateLimit
};

struct ListedPeer {
  std::string address;  // canonical text, as in the key
  std::string value;
  uint64_t version = 0;
  absl::Time expires_at;
};

struct ListResult {
  Status status = Status::kUnavailable;  // kOk, kUnavailable or kRateLimited
  uint64_t total = 0;                    // live announcers of the name, exact
  // min(limit, total) distinct live announcers (fewer only when a record went away during the
  // call on an engine without one snapshot: see each engine), in ascending address order.
  std::vector<ListedPeer> peers;
  // Changes whenever the set of live announcers or the value of one of them changes (a write, a
  // delete, an expiry); equal fingerprints mean the same listing up to a 2^-64 chance. The HTTP
  // layer turns it, with `total`, into the listing's ETag. How it is derived is the engine's
  // business (a sum of mixed versions, or a per-name change counter).
  uint64_t fingerprint = 0;
  std::optional<ratelimit::Decision> rate;  // as GetResult::rate
};

using GetCallback = absl::AnyInvocable<void(const GetResult&)>;
using ListCallback = absl::AnyInvocable<void(const ListResult&)>;
using WriteCallback = absl::AnyInvocable<void(const WriteResult&)>;
// Called after a write commits (Put or Delete with kOk), with the key and its new version (0 for a
// delete). Runs on the thread that completed the write; must be short and must not call the store.
using ChangeListener = absl::AnyInvocable<void(std::string_view key, uint64_t version)>;

class Store {
 public:
  virtual ~Store() = default;

  // Looks up the live entry under `key`. An entry whose expires_at <= now is never returned.
  virtual void Get(std::string_view key, absl::Time now, GetCallback done) = 0;

  // Creates or replaces the entry under `key` subject to the owner, capacity and precondition
  // rules above. On kOk the entry's version changes and its expiry becomes request.expires_at.
  // Checks run in this order, the first failure wins: owner (kForbidden), precondition
  // (kPreconditionFailed, or kConflict for kSignedRecordNewer), then for a new key the creator's
  // quota (kQuotaReached) and capacity (kCapacityReached). Quota comes first so that a client
  // over its quota hears about its own limit, and never triggers a capacity purge on its behalf. A Put over an expired entry is a
  // creation (created = true; the old owner's claim and the old creator's count are gone).
  virtual void Put(const PutRequest& request, WriteCallback done) = 0;

  // Removes the live entry under `key`: kOk, kNotFound, kForbidden (owned and the secret does
  // not match), kPreconditionFailed.
  // Checks run in this order: owner, precondition (kIfMatch of a missing key fails here), then
  // existence (kNotFound).
  virtual void Delete(const DeleteRequest& request, WriteCallback done) = 0;

  // Frees entries that expired at or before `now`. Called periodically from a background thread;
  // must not hold any lock that requests need for long (work in small chunks). Returns how many
  // entries were removed. One call frees every entry that had expired at `now`.
  virtual size_t SweepExpired(absl::Time now) = 0;

  // Makes every acknowledged write durable (fsync for disk engines; no-op in memory). Blocking:
  // call from a background thread or at shutdown. Returns kOk or kUnavailable.
  [[nodiscard]] virtual Status Flush() = 0;

  // Number of entries held, expired-but-not-yet-removed ones included.
  virtual size_t Size() const = 0;

  // Whether this engine holds the clients' token buckets and charges a request's RateCharge
  // inside its operation (Redis: one bucket across every server). Otherwise the caller limits
  // with its own ratelimit::Limiter and the charge fields are ignored.
  virtual bool ChargesRateLimit() const { return false; }
  // Get with a charge: for an engine that ChargesRateLimit, charges first and looks up only if
  // the charge passed. Others ignore the charge.
  virtual void ChargedGet(std::string_view key, absl::Time now, const RateCharge& charge,
                          GetCallback done) {
    (void)charge;
    Get(key, now, std::move(done));
  }

  // Lists the live announcers of request.name (see ListRequest and ListResult). Charges
  // request.charge first on an engine that ChargesRateLimit. Costs O(announcers of that name),
  // never a scan of the store. The default answers kUnavailable (an engine without the index).
  virtual void List(const ListRequest& request, ListCallback done) {
    (void)request;
    ListResult result;
    done(result);
  }

  // Installs the single change listener (for long-poll/watch). Call before serving.
  virtual void SetChangeListener(ChangeListener listener) = 0;
  // Installs the listener told that changes may have gone unreported: an engine that hears of
  // other servers' writes (Redis pub/sub) calls it after it could not hear for a while (the
  // subscription was lost and is back), so that every waiter reads its key again. Runs on an
  // engine's thread; the same rules as ChangeListener. Engines that see every write themselves
  // never call it.
  virtual void SetChangesLostListener(absl::AnyInvocable<void()> listener) { (void)listener; }
};

}  // namespace rendezvous::kv
