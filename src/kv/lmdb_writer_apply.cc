// The group-commit writer (lmdb_writer.h): one operation inside the writer's transaction. The
// planner (write_plan.h) decides; these are its steps: look up the record, remove it, count and
// purge for the quota and capacity rules, write the new record, and keep the quota, creators and
// names databases in step with every record created or removed. Runs on the writer thread only.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kv/announcement.h"
#include "kv/lmdb_writer.h"
#include "kv/write_plan.h"

namespace rendezvous::kv {
namespace {

FoundRecord ToFound(const EntryHeader& header) {
  return FoundRecord{header.version, header.expires_at, header.owned, header.owner, header.creator,
                     /*value=*/{}};
}

// The part of a PutRequest / DeleteRequest the planner reads, rebuilt from a queued op (whose
// strings the op owns).
PutRequest ToPutRequest(const LmdbWriter::Op& op) {
  PutRequest request;
  request.key = op.key;
  request.value = op.value;
  request.now = op.now;
  request.expires_at = op.expires_at;
  request.precondition = op.precondition;
  request.creator = op.creator;
  request.max_entries_per_creator = op.max_entries_per_creator;
  return request;
}

DeleteRequest ToDeleteRequest(const LmdbWriter::Op& op) {
  DeleteRequest request;
  request.key = op.key;
  request.now = op.now;
  request.precondition = op.precondition;
  return request;
}

}  // namespace

int LmdbWriter::Lookup(MDB_txn* txn, std::string_view key, bool* found, bool* damaged,
                       EntryHeader* header, std::string_view* value_out) {
  MDB_val k = ToVal(key);
  MDB_val v;
  const int rc = mdb_get(txn, env_.entries_dbi(), &k, &v);
  *found = rc == 0;
  *damaged = false;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  std::string_view value;
  *damaged = !DecodeEntry(ToView(v), header, &value);
  if (value_out != nullptr) *value_out = value;
  return 0;
}

int LmdbWriter::ApplyPut(MDB_txn* txn, Op& op) {
  op.result = WriteResult{};
  bool found = false;
  bool damaged = false;
  EntryHeader old;
  std::string_view old_value;  // read by the planner only, before this transaction writes
  if (const int rc = Lookup(txn, op.key, &found, &damaged, &old, &old_value); rc != 0) return rc;
  if (damaged) return 0;  // kUnavailable: never overwrite what we cannot read
  FoundRecord found_record = found ? ToFound(old) : FoundRecord{};
  found_record.value = old_value;
  const PutRequest request = ToPutRequest(op);
  const WritePlan plan =
      PlanPut(found ? &found_record : nullptr, request, op.has_secret ? &op.digest : nullptr);
  if (plan.remove_found) {
    MDB_val k = ToVal(op.key);
    if (const int rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr); rc != 0) return rc;
    if (const int rc = AdjustQuota(txn, old.creator, op.key, -1); rc != 0) return rc;
    found = false;
  }
  Status status = plan.status;
  if (status == Status::kOk && plan.creates) {
    if (const int rc = Admit(txn, op, &found, &status); rc != 0) return rc;
  }
  if (status != Status::kOk) {
    op.result.status = status;
    return 0;
  }

  EntryHeader next;
  next.version = state_.next_version++;
  next.expires_at = TimeFromUnixNanos(TimeToUnixNanos(plan.record.expires_at));  // as a reload sees
  next.owned = plan.record.owned;
  next.owner = plan.record.owner;
  next.creator = plan.record.creator;
  if (plan.creates) {
    if (const int rc = AdjustQuota(txn, next.creator, op.key, +1); rc != 0) return rc;
  }
  // MDB_RESERVE: encode straight into the page instead of assembling a buffer first.
  MDB_val k = ToVal(op.key);
  MDB_val v{kEntryHeaderBytes + op.value.size(), nullptr};
  if (const int rc = mdb_put(txn, env_.entries_dbi(), &k, &v, MDB_RESERVE); rc != 0) return rc;
  char* out = static_cast<char*>(v.mv_data);
  EncodeEntryHeader(next, out);
  if (!op.value.empty()) std::memcpy(out + kEntryHeaderBytes, op.value.data(), op.value.size());
  NoteExpiry(next.expires_at);

  op.result.status = Status::kOk;
  op.result.version = next.version;
  op.result.expires_at = next.expires_at;
  op.result.created = plan.creates;
  return 0;
}

int LmdbWriter::Admit(MDB_txn* txn, const Op& op, bool* found, Status* status) {
  uint32_t creator_held = 0;
  if (op.max_entries_per_creator != 0) {
    if (const int rc = QuotaCount(txn, op.creator, &creator_held); rc != 0) return rc;
    if (!QuotaAllows(creator_held, op.max_entries_per_creator)) {
      // At its quota, the creator's expired records are not entries in use: remove them.
      if (const int rc = PurgeCreator(txn, op.creator, op.now); rc != 0) return rc;
      if (const int rc = QuotaCount(txn, op.creator, &creator_held); rc != 0) return rc;
    }
  }
  size_t store_held = 0;
  if (QuotaAllows(creator_held, op.max_entries_per_creator)) {
    if (const int rc = MakeRoom(txn, op.key, op.now, found, &store_held); rc != 0) return rc;
  }
  // Both counts are what is left after the purges; the planner decides on them.
  *status = AdmitCreation(creator_held, op.max_entries_per_creator, store_held, max_entries_);
  return 0;
}

int LmdbWriter::PurgeCreator(MDB_txn* txn, const std::array<uint8_t, 16>& creator, absl::Time now) {
  // Collect first: deleting records while a cursor walks the index it changes is not worth the
  // subtlety, and the list is bounded by the creator's quota.
  std::vector<std::string> expired;
  MDB_cursor* cursor = nullptr;
  if (const int rc = mdb_cursor_open(txn, env_.creators_dbi(), &cursor); rc != 0) return rc;
  MDB_val c{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val key;
  int rc = mdb_cursor_get(cursor, &c, &key, MDB_SET_KEY);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &c, &key, MDB_NEXT_DUP)) {
    MDB_val k = key;
    MDB_val v;
    const int get_rc = mdb_get(txn, env_.entries_dbi(), &k, &v);
    if (get_rc == MDB_NOTFOUND) continue;
    if (get_rc != 0) {
      rc = get_rc;
      break;
    }
    EntryHeader header;
    std::string_view value;
    if (DecodeEntry(ToView(v), &header, &value) && header.expires_at <= now) {
      expired.emplace_back(ToView(key));
    }
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  for (const std::string& record_key : expired) {
    MDB_val k = ToVal(record_key);
    if ((rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr)) != 0) return rc;
    if ((rc = AdjustQuota(txn, creator, record_key, -1)) != 0) return rc;
  }
  return 0;
}

int LmdbWriter::ApplyDelete(MDB_txn* txn, Op& op) {
  op.result = WriteResult{};
  bool found = false;
  bool damaged = false;
  EntryHeader old;
  if (const int rc = Lookup(txn, op.key, &found, &damaged, &old); rc != 0) return rc;
  if (damaged) return 0;  // kUnavailable
  const FoundRecord found_record = found ? ToFound(old) : FoundRecord{};
  const WritePlan plan = PlanDelete(found ? &found_record : nullptr, ToDeleteRequest(op),
                                    op.has_secret ? &op.digest : nullptr);
  if (plan.remove_found) {
    MDB_val k = ToVal(op.key);
    if (const int rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr); rc != 0) return rc;
    if (const int rc = AdjustQuota(txn, old.creator, op.key, -1); rc != 0) return rc;
  }
  op.result.status = plan.status;
  return 0;
}

int LmdbWriter::MakeRoom(MDB_txn* txn, std::string_view key, absl::Time now, bool* found,
                         size_t* held) {
  MDB_stat stat{};
  if (const int rc = mdb_stat(txn, env_.entries_dbi(), &stat); rc != 0) return rc;
  size_t records = stat.ms_entries;
  auto fits = [&] { return CapacityAllows(records - (*found ? 1 : 0), max_entries_); };
  *held = records - (*found ? 1 : 0);
  // Nothing can have expired before the earliest expiry: refuse without a scan.
  if (fits() || now < state_.earliest_expiry) return 0;

  MDB_cursor* cursor = nullptr;
  if (const int rc = mdb_cursor_open(txn, env_.entries_dbi(), &cursor); rc != 0) return rc;
  const std::string start = state_.purge_resume_key;
  bool wrapped = start.empty();  // a walk from the first key covers everything in one pass
  bool complete = false;
  absl::Time earliest_kept = absl::InfiniteFuture();
  MDB_val k = ToVal(start);
  MDB_val v;
  int rc = mdb_cursor_get(cursor, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (;;) {
    if (rc == MDB_NOTFOUND) {
      if (wrapped) {
        complete = true;
        break;
      }
      wrapped = true;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
      continue;
    }
    if (rc != 0) break;
    const std::string_view record_key = ToView(k);
    if (wrapped && !start.empty() && record_key >= start) {  // byte order, as LMDB's
      complete = true;
      break;
    }
    EntryHeader header;
    std::string_view value;
    if (DecodeEntry(ToView(v), &header, &value)) {  // damaged records are never removed
      if (header.expires_at <= now) {
        if (record_key == key) *found = false;
        state_.purge_resume_key.assign(record_key);  // SET_RANGE finds its successor
        if ((rc = DeleteAtCursor(txn, cursor, ToView(k), ToView(v))) != 0) break;
        --records;
        if (fits()) break;
      } else {
        earliest_kept = std::min(earliest_kept, header.expires_at);
      }
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);  // after a delete: the next record
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  if (complete) {
    state_.earliest_expiry = earliest_kept;  // every record was seen: the bound is exact
    state_.purge_resume_key.clear();
  }
  *held = records - (*found ? 1 : 0);
  return 0;
}

int LmdbWriter::QuotaCount(MDB_txn* txn, const std::array<uint8_t, 16>& creator, uint32_t* count) {
  MDB_val k{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val v;
  const int rc = mdb_get(txn, env_.quota_dbi(), &k, &v);
  *count = 0;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  if (v.mv_size == 4) *count = DecodeUint32(static_cast<const char*>(v.mv_data));
  return 0;
}

int LmdbWriter::AdjustQuota(MDB_txn* txn, const std::array<uint8_t, 16>& creator,
                            std::string_view key, int delta) {
  uint32_t count = 0;
  if (const int rc = QuotaCount(txn, creator, &count); rc != 0) return rc;
  MDB_val c{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val k = ToVal(key);
  // The listing index changes with the same record events as the creators index.
  if (const std::optional<Announcement> announcement = ParseAnnouncement(key)) {
    MDB_val name = ToVal(announcement->name);
    MDB_val address = ToVal(announcement->address);
    const int rc = delta < 0 ? mdb_del(txn, env_.names_dbi(), &name, &address)
                             : mdb_put(txn, env_.names_dbi(), &name, &address, 0);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  if (delta < 0) {
    const int rc = mdb_del(txn, env_.creators_dbi(), &c, &k);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  } else if (const int rc = mdb_put(txn, env_.creators_dbi(), &c, &k, 0); rc != 0) {
    return rc;
  }
  if (delta < 0 && count <= 1) {
    const int rc = mdb_del(txn, env_.quota_dbi(), &c, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }
  char bytes[4];
  EncodeUint32(delta < 0 ? count - 1 : count + 1, bytes);
  MDB_val v{sizeof(bytes), bytes};
  return mdb_put(txn, env_.quota_dbi(), &c, &v, 0);
}

int LmdbWriter::DeleteAtCursor(MDB_txn* txn, MDB_cursor* cursor, std::string_view key,
                               std::string_view record) {
  EntryHeader header;
  std::string_view value;
  // Callers only delete records they decoded; the header and key are copied before the page
  // changes.
  const bool decoded = DecodeEntry(record, &header, &value);
  const std::string key_copy(key);
  if (const int rc = mdb_cursor_del(cursor, 0); rc != 0) return rc;
  return decoded ? AdjustQuota(txn, header.creator, key_copy, -1) : 0;
}

void LmdbWriter::NoteExpiry(absl::Time expires_at) {
  state_.earliest_expiry = std::min(state_.earliest_expiry, expires_at);
  if (state_.sweeping) state_.sweep_earliest = std::min(state_.sweep_earliest, expires_at);
}

}  // namespace rendezvous::kv
