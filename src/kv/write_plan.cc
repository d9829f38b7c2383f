// The write planner shared by every engine. See write_plan.h for the steps an engine runs.
#include "kv/write_plan.h"

#include "pkarr/record.h"

namespace rendezvous::kv {
namespace {

// The owner rule, then the precondition. `live` is null when no live record exists.
// `incoming` is the value a Put writes (empty for a Delete).
Status CheckOwnerAndPrecondition(const FoundRecord* live, const secret::Digest* digest,
                                 const Precondition& precondition, bool is_put,
                                 std::string_view incoming) {
  if (live != nullptr && live->owned &&
      (digest == nullptr || !secret::Equal(*digest, live->owner))) {
    return Status::kForbidden;
  }
  switch (precondition.kind) {
    case Precondition::Kind::kNone:
      break;
    case Precondition::Kind::kIfMatch:
      if (live == nullptr || live->version != precondition.version) {
        return Status::kPreconditionFailed;
      }
      break;
    case Precondition::Kind::kIfAbsent:
      if (live != nullptr) return Status::kPreconditionFailed;
      break;
    case Precondition::Kind::kIfExists:
      if (live == nullptr) return Status::kPreconditionFailed;
      break;
    case Precondition::Kind::kSignedRecordNewer:
      if (!is_put) return Status::kPreconditionFailed;
      if (live == nullptr) break;
      switch (pkarr::CompareWithStored(live->value, incoming)) {
        case pkarr::Order::kNewer:
        case pkarr::Order::kSameIdempotent:
          break;
        case pkarr::Order::kConflict:
        case pkarr::Order::kOlder:
          return Status::kConflict;
      }
      break;
  }
  return Status::kOk;
}

}  // namespace

WritePlan PlanPut(const FoundRecord* found, const PutRequest& request,
                  const secret::Digest* digest) {
  const bool live = found != nullptr && found->expires_at > request.now;
  WritePlan plan;
  // A dead record is removed even when the write is refused: it is of no use to anyone, and
  // removing it gives its creator's quota unit back at once.
  plan.remove_found = found != nullptr && !live;
  plan.status = CheckOwnerAndPrecondition(live ? found : nullptr, digest, request.precondition,
                                          /*is_put=*/true, request.value);
  if (plan.status != Status::kOk) return plan;
  plan.creates = !live;
  RecordToStore& record = plan.record;
  record.expires_at = request.expires_at;
  record.creator = live ? found->creator : request.creator;
  if (live && found->owned) {
    record.owned = true;  // the secret matched: the owner stays
    record.owner = found->owner;
  } else if (digest != nullptr) {
    record.owned = true;  // a new entry, or an unowned live one, is claimed by its writer
    record.owner = *digest;
  }
  return plan;
}

WritePlan PlanDelete(const FoundRecord* found, const DeleteRequest& request,
                     const secret::Digest* digest) {
  const bool live = found != nullptr && found->expires_at > request.now;
  WritePlan plan;
  plan.status = CheckOwnerAndPrecondition(live ? found : nullptr, digest, request.precondition,
                                          /*is_put=*/false, {});
  if (plan.status == Status::kOk && !live) plan.status = Status::kNotFound;
  plan.remove_found = found != nullptr && (!live || plan.status == Status::kOk);
  return plan;
}

Status AdmitCreation(uint64_t creator_held, uint32_t max_entries_per_creator, uint64_t store_held,
                     uint64_t max_entries) {
  if (!QuotaAllows(creator_held, max_entries_per_creator)) return Status::kQuotaReached;
  if (!CapacityAllows(store_held, max_entries)) return Status::kCapacityReached;
  return Status::kOk;
}

}  // namespace rendezvous::kv
