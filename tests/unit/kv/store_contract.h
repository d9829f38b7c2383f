// The Store contract: behaviour every kv engine must show, written once and run against each.
//
// An engine's test file instantiates the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, StoreContractTest,
//                            ::testing::Values(StoreFactory{"Memory", MakeMemoryStore}),
//                            StoreFactoryName);
//
// The TEST_Ps live in store_contract_test.cc (and store_contract_concurrency_test.cc). The
// fixture's helpers call the asynchronous API and wait for the completion callback, so engines
// that complete inline and engines that complete on their own threads are tested alike. Time is a
// ManualClock; no test sleeps.
//
// Thread-safety: the helpers may be called from several threads at once (the concurrency tests do).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "kv/store.h"
#include "kv/write_plan.h"

namespace rendezvous::kv {

// The input limits every factory gives its store: LMDB's longest key and values longer than the
// defaults, so the suite can test arbitrary bytes and sizes.
inline constexpr InputLimits kContractLimits{.max_key_bytes = 511, .max_value_bytes = 64 * 1024};

struct StoreFactory {
  std::string name;  // a valid gtest name: letters, digits, underscores
  // A fresh, empty store allowing at most `max_entries` live entries. The store may own resources
  // (a temporary directory) that it releases when destroyed.
  std::function<std::unique_ptr<Store>(size_t max_entries)> make;
};

// Name generator for INSTANTIATE_TEST_SUITE_P.
std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info);

// How gtest prints the parameter (in --gtest_list_tests, which test discovery runs, and in failure
// messages): the engine's name. Without it gtest dumps the struct's bytes in hex for every test.
inline void PrintTo(const StoreFactory& factory, std::ostream* out) { *out << factory.name; }

// What a Get saw, copied out of the callback (whose views die with it).
struct GetOutcome {
  Status status = Status::kUnavailable;
  std::string value;
  uint64_t version = 0;
  absl::Time expires_at;
};

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  static constexpr size_t kDefaultMaxEntries = 1000;
  static constexpr absl::Duration kTtl = absl::Hours(2);

  void SetUp() override;
  void TearDown() override;

  // Replaces the store with a fresh one of the same engine.
  void MakeStore(size_t max_entries);
  Store& store() { return *store_; }

  // Synchronous wrappers; `now` is clock_.Now(). Put's entry expires at now + ttl.
  GetOutcome Get(std::string_view key);
  WriteResult Put(std::string_view key, std::string_view value, std::string_view secret = "",
                  Precondition precondition = {}, absl::Duration ttl = kTtl);
  WriteResult Put(const PutRequest& request);
  // A Put of a new or existing key by `creator` under a key quota of `quota` (0 = none).
  using Creator = std::array<uint8_t, 16>;
  WriteResult PutAs(const Creator& creator, uint32_t quota, std::string_view key,
                    absl::Duration ttl = kTtl, std::string_view value = "v");
  WriteResult Delete(std::string_view key, std::string_view secret = "",
                     Precondition precondition = {});
  WriteResult Delete(const DeleteRequest& request);

  // List of `name` at clock_.Now(); the result is copied out of the callback.
  ListResult List(std::string_view name, uint32_t limit = 100, uint64_t seed = 1);

  static Precondition IfMatch(uint64_t version) { return {Precondition::Kind::kIfMatch, version}; }
  static Precondition IfAbsent() { return {Precondition::Kind::kIfAbsent, 0}; }
  static Precondition IfExists() { return {Precondition::Kind::kIfExists, 0}; }

  common::ManualClock clock_;
  std::unique_ptr<Store> store_;
};

// gtest prints statuses by name.
void PrintTo(Status status, std::ostream* os);

}  // namespace rendezvous::kv
