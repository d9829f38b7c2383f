// Fixture helpers of the Store contract suite (store_contract.h).
#include "store_contract.h"

#include <chrono>
#include <future>
#include <ostream>
#include <utility>

namespace rendezvous::kv {
namespace {

// Long enough for a loaded sanitizer build; an engine that never calls back fails instead of
// hanging the test binary.
constexpr std::chrono::seconds kCallbackTimeout(60);

template <typename T>
T Await(std::future<T>& future, T if_lost) {
  if (future.wait_for(kCallbackTimeout) != std::future_status::ready) {
    ADD_FAILURE() << "the completion callback was not invoked";
    return if_lost;
  }
  return future.get();
}

WriteResult AwaitWrite(const std::function<void(WriteCallback)>& start) {
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  start([promise = std::move(promise)](const WriteResult& result) mutable {
    promise.set_value(result);
  });
  return Await(future, WriteResult{});
}

}  // namespace

std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void PrintTo(Status status, std::ostream* os) {
  switch (status) {
    case Status::kOk:
      *os << "kOk";
      return;
    case Status::kNotFound:
      *os << "kNotFound";
      return;
    case Status::kForbidden:
      *os << "kForbidden";
      return;
    case Status::kCapacityReached:
      *os << "kCapacityReached";
      return;
    case Status::kQuotaReached:
      *os << "kQuotaReached";
      return;
    case Status::kPreconditionFailed:
      *os << "kPreconditionFailed";
      return;
    case Status::kConflict:
      *os << "kConflict";
      return;
    case Status::kStorageFull:
      *os << "kStorageFull";
      return;
    case Status::kUnavailable:
      *os << "kUnavailable";
      return;
    case Status::kRateLimited:
      *os << "kRateLimited";
      return;
  }
  *os << "Status(" << static_cast<int>(status) << ")";
}

ListResult StoreContractTest::List(std::string_view name, uint32_t limit, uint64_t seed) {
  std::promise<ListResult> promise;
  std::future<ListResult> future = promise.get_future();
  ListRequest request;
  request.name = name;
  request.now = clock_.Now();
  request.limit = limit;
  request.seed = seed;
  store_->List(request, [promise = std::move(promise)](const ListResult& result) mutable {
    promise.set_value(result);
  });
  return Await(future, ListResult{});
}

void StoreContractTest::SetUp() { MakeStore(kDefaultMaxEntries); }

void StoreContractTest::TearDown() { store_.reset(); }

void StoreContractTest::MakeStore(size_t max_entries) {
  store_.reset();  // an engine may hold a file lock that its successor needs
  store_ = GetParam().make(max_entries);
  ASSERT_NE(store_, nullptr) << "factory " << GetParam().name << " made no store";
}

GetOutcome StoreContractTest::Get(std::string_view key) {
  std::promise<GetOutcome> promise;
  std::future<GetOutcome> future = promise.get_future();
  store_->Get(key, clock_.Now(), [promise = std::move(promise)](const GetResult& result) mutable {
    GetOutcome outcome;
    outcome.status = result.status;
    if (result.status == Status::kOk) {
      outcome.value = std::string(result.entry.value);  // the view dies with the callback
      outcome.version = result.entry.version;
      outcome.expires_at = result.entry.expires_at;
    }
    promise.set_value(std::move(outcome));
  });
  return Await(future, GetOutcome{});
}

WriteResult StoreContractTest::Put(std::string_view key, std::string_view value,
                                   std::string_view secret, Precondition precondition,
                                   absl::Duration ttl) {
  const absl::Time now = clock_.Now();
  PutRequest request;
  request.key = key;
  request.value = value;
  request.secret = secret;
  request.now = now;
  request.expires_at = now + ttl;
  request.precondition = precondition;
  return Put(request);
}

WriteResult StoreContractTest::Put(const PutRequest& request) {
  return AwaitWrite([&](WriteCallback done) { store_->Put(request, std::move(done)); });
}

WriteResult StoreContractTest::PutAs(const Creator& creator, uint32_t quota,
                                     std::string_view key, absl::Duration ttl,
                                     std::string_view value) {
  PutRequest request;
  request.key = key;
  request.value = value;
  request.now = clock_.Now();
  request.expires_at = request.now + ttl;
  request.creator = creator;
  request.max_entries_per_creator = quota;
  return Put(request);
}

WriteResult StoreContractTest::Delete(std::string_view key, std::string_view secret,
                                      Precondition precondition) {
  DeleteRequest request;
  request.key = key;
  request.secret = secret;
  request.now = clock_.Now();
  request.precondition = precondition;
  return Delete(request);
}

WriteResult StoreContractTest::Delete(const DeleteRequest& request) {
  return AwaitWrite([&](WriteCallback done) { store_->Delete(request, std::move(done)); });
}

}  // namespace rendezvous::kv
