// WritePlan: the whole decision of a Put or Delete, computed once for every engine.
//
// An engine never decides a rule of store.h itself. Inside whatever makes its write atomic (the
// memory engine's shard lock, LMDB's write transaction, or, for a network engine, client-side
// between WATCH and EXEC of an optimistic transaction) it runs these steps:
//
//   1. look up the record stored under the key (live or expired) -> FoundRecord or nothing;
//   2. plan = PlanPut / PlanDelete(found, request, digest of the request's secret);
//   3. if plan.remove_found: remove the found record, giving back one unit of capacity and one
//      unit of the quota of the creator the record names;
//   4. stop with plan.status unless it is kOk;
//   5. if plan.creates (Put only): take one unit of the request creator's quota (when
//      request.max_entries_per_creator != 0), then one unit of capacity, with AdmitCreation
//      deciding on the counts. A count that is at its limit may still hold expired entries: the
//      engine first removes the creator's expired entries (quota) or any expired entries
//      (capacity), then counts again. Expired entries therefore never cost a live one its place,
//      and no background sweep is needed for that;
//   6. write plan.record with the value and a version of its own (a fresh, increasing number).
//
// A network engine cannot hold a lock across steps 1-6: it reads the record and the counts under
// WATCH, plans here, and commits steps 3-6 in MULTI/EXEC; a conflicting change aborts the EXEC and
// the whole sequence is retried. That is why nothing here calls an engine: every input is a plain
// value, and the output says what to do.
//
// Input limits (ValidKey / ValidValue) are also decided here, so every engine answers oversize
// input alike (store.h says how).
//
// Thread-safety: pure functions on their arguments.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "kv/store.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

// The client a record counts against (PutRequest::creator).
using Creator = std::array<uint8_t, 16>;

// A record as the engine found it under the key, expired or not.
struct FoundRecord {
  uint64_t version = 0;
  absl::Time expires_at;
  bool owned = false;
  secret::Digest owner{};  // meaningful only when owned
  Creator creator{};
  // The stored value's bytes, read only during planning (Precondition::kSignedRecordNewer
  // compares timestamps in them). Engines that hold the value in their lock or transaction pass
  // it; a network engine (Redis) must fetch it under WATCH with the rest of the record.
  std::string_view value;
};

// What a successful Put stores, besides the value bytes and the version the engine assigns.
struct RecordToStore {
  absl::Time expires_at;
  bool owned = false;
  secret::Digest owner{};
  Creator creator{};  // whose quota the record counts against
};

struct WritePlan {
  // kOk: go on with the write. Anything else is the answer; only remove_found is still done.
  Status status = Status::kOk;
  // Remove the found record (it expired, or it is the target of a successful Delete), giving back
  // its unit of capacity and its creator's quota unit. Done whatever `status` is.
  bool remove_found = false;
  // Put with kOk: no live entry existed, so this write creates one and must pass AdmitCreation.
  // WriteResult::created.
  bool creates = false;
  // Put with kOk: what to write.
  RecordToStore record;
};

// The rules of a Put, in this order (the first failure wins): owner (kForbidden), precondition
// (kPreconditionFailed; kConflict for kSignedRecordNewer, decided by pkarr::CompareWithStored on
// found->value and request.value). The quota and capacity checks that follow for a creation are
// AdmitCreation's. `found` is null when nothing is stored under the key; `digest` is the hash of
// request.secret, null when the secret is empty (an empty secret never matches an owner).
// - A live owned record keeps its owner; a live unowned one is claimed by a non-empty secret.
// - An update keeps the creator recorded at creation; a creation records request.creator.
// - A Put over an expired record is a creation: the old owner's claim and creator are gone.
[[nodiscard]] WritePlan PlanPut(const FoundRecord* found, const PutRequest& request,
                                const secret::Digest* digest);

// The rules of a Delete, in this order: owner (kForbidden), precondition (kPreconditionFailed;
// kIfMatch or kIfExists of a missing key fails here), existence (kNotFound). An expired record
// is removed whatever the answer.
[[nodiscard]] WritePlan PlanDelete(const FoundRecord* found, const DeleteRequest& request,
                                   const secret::Digest* digest);

// Step 5 for engines that can read their counts (LMDB, a network engine): `creator_held` is how
// many entries request.creator holds and `store_held` how many the store holds, both after the
// expired ones were removed. Quota first, so that a client over its quota hears about its own
// limit and never makes the engine purge on its behalf for capacity. Returns kOk,
// kQuotaReached or kCapacityReached.
[[nodiscard]] Status AdmitCreation(uint64_t creator_held, uint32_t max_entries_per_creator,
                                   uint64_t store_held, uint64_t max_entries);

// The two halves of AdmitCreation, for an engine that takes its units one at a time (the memory
// engine reserves capacity with an atomic compare-and-swap).
[[nodiscard]] inline bool QuotaAllows(uint64_t creator_held, uint32_t max_entries_per_creator) {
  return max_entries_per_creator == 0 || creator_held < max_entries_per_creator;
}
[[nodiscard]] inline bool CapacityAllows(uint64_t store_held, uint64_t max_entries) {
  return store_held < max_entries;
}

// The input limits every engine applies (see Store::Get, Put and Delete): a key is 1 to
// `max_key_bytes` bytes, a value at most `max_value_bytes` bytes.
struct InputLimits {
  size_t max_key_bytes = 100;
  size_t max_value_bytes = 1000;
};
[[nodiscard]] inline bool ValidKey(std::string_view key, const InputLimits& limits) {
  return !key.empty() && key.size() <= limits.max_key_bytes;
}
[[nodiscard]] inline bool ValidValue(std::string_view value, const InputLimits& limits) {
  return value.size() <= limits.max_value_bytes;
}

}  // namespace rendezvous::kv
