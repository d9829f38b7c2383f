#include "kv/write_rules.h"

namespace rendezvous::kv {

Status CheckWrite(const LiveEntry* live, bool has_secret, const secret::Digest& digest,
                  const Precondition& precondition) {
  if (live != nullptr && live->owned && (!has_secret || !secret::Equal(digest, *live->owner))) {
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
  }
  return Status::kOk;
}

}  // namespace rendezvous::kv
