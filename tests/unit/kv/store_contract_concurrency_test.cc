// Store contract, part 3: the rules that must hold atomically, exercised by racing threads. These
// are the tests the ThreadSanitizer build is for; they start every thread on a latch so that the
// racing calls really overlap.
#include <algorithm>
#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "store_contract.h"

namespace rendezvous::kv {
namespace {

// Runs body(i) on `n` threads released together, and joins them.
template <typename Body>
void RunTogether(int n, Body body) {
  std::latch start(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (std::thread& t : threads) t.join();
}

TEST_P(StoreContractTest, ThreadsRacingToClaimAKeyHaveExactlyOneWinner) {
  constexpr int kThreads = 16;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    const std::string key = "contested" + std::to_string(round);
    std::vector<Status> statuses(kThreads, Status::kUnavailable);
    RunTogether(kThreads, [&](int i) {
      statuses[i] = Put(key, "value" + std::to_string(i), "secret" + std::to_string(i)).status;
    });
    const auto winner = std::find(statuses.begin(), statuses.end(), Status::kOk);
    ASSERT_NE(winner, statuses.end());
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), Status::kOk), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), Status::kForbidden), kThreads - 1);
    const int w = static_cast<int>(winner - statuses.begin());
    EXPECT_EQ(Get(key).value, "value" + std::to_string(w));
    EXPECT_EQ(Put(key, "mine", "secret" + std::to_string(w)).status, Status::kOk);
    EXPECT_EQ(Put(key, "theirs", "secret" + std::to_string((w + 1) % kThreads)).status,
              Status::kForbidden);
  }
}

TEST_P(StoreContractTest, ThreadsCreatingKeysPastCapacityCreateExactlyMaxEntries) {
  constexpr size_t kMax = 100;
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 40;
  MakeStore(kMax);
  std::vector<std::vector<Status>> statuses(kThreads);
  RunTogether(kThreads, [&](int t) {
    for (int k = 0; k < kKeysPerThread; ++k) {
      statuses[t].push_back(Put("t" + std::to_string(t) + "k" + std::to_string(k), "v").status);
    }
  });
  size_t created = 0;
  size_t refused = 0;
  for (const auto& per_thread : statuses) {
    created += std::count(per_thread.begin(), per_thread.end(), Status::kOk);
    refused += std::count(per_thread.begin(), per_thread.end(), Status::kCapacityReached);
  }
  EXPECT_EQ(created, kMax);
  EXPECT_EQ(refused, kThreads * kKeysPerThread - kMax);
  EXPECT_EQ(store().Size(), kMax);
  size_t found = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kKeysPerThread; ++k) {
      found += Get("t" + std::to_string(t) + "k" + std::to_string(k)).status == Status::kOk;
    }
  }
  EXPECT_EQ(found, kMax);
}

TEST_P(StoreContractTest, CapacityHoldsWhileKeysAreCreatedAndDeletedConcurrently) {
  constexpr size_t kMax = 10;
  constexpr int kWriters = 6;
  constexpr int kIterations = 200;
  MakeStore(kMax);
  std::atomic<bool> done{false};
  std::atomic<size_t> largest{0};
  std::thread watcher([&] {
    while (!done.load()) {
      const size_t size = store().Size();
      size_t seen = largest.load();
      while (size > seen && !largest.compare_exchange_weak(seen, size)) {
      }
      std::this_thread::yield();
    }
  });
  RunTogether(kWriters, [&](int t) {
    for (int i = 0; i < kIterations; ++i) {
      const std::string key = "w" + std::to_string(t) + "k" + std::to_string(i % 3);
      const Status put = Put(key, "v").status;
      if (put == Status::kOk) {
        EXPECT_EQ(Delete(key).status, Status::kOk);
      } else {
        EXPECT_EQ(put, Status::kCapacityReached);
      }
    }
  });
  done.store(true);
  watcher.join();
  EXPECT_LE(largest.load(), kMax);
  EXPECT_EQ(store().Size(), 0u);
}

TEST_P(StoreContractTest, ReadersRacingWritersSeeOnlyWholeValues) {
  const std::string small(100, 'a');
  const std::string large(900, 'b');
  ASSERT_EQ(Put("k", small).status, Status::kOk);
  constexpr int kIterations = 300;
  std::atomic<int> torn{0};
  RunTogether(4, [&](int t) {
    for (int i = 0; i < kIterations; ++i) {
      if (t < 2) {
        EXPECT_EQ(Put("k", (i + t) % 2 ? large : small).status, Status::kOk);
      } else {
        const GetOutcome got = Get("k");
        if (got.status != Status::kOk || (got.value != small && got.value != large)) ++torn;
      }
    }
  });
  EXPECT_EQ(torn.load(), 0);
}

TEST_P(StoreContractTest, SweepingWhileWritingLosesNoLiveEntry) {
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(Put("old" + std::to_string(i), "v", "", {}, absl::Seconds(1)).status, Status::kOk);
  }
  clock_.Advance(absl::Seconds(1));
  std::atomic<size_t> swept{0};
  RunTogether(3, [&](int t) {
    if (t == 0) {
      for (int i = 0; i < 20; ++i) swept += store().SweepExpired(clock_.Now());
    } else {
      for (int i = 0; i < kKeys / 2; ++i) {
        EXPECT_EQ(Put("new" + std::to_string(t) + "_" + std::to_string(i), "v").status,
                  Status::kOk);
      }
    }
  });
  swept += store().SweepExpired(clock_.Now());
  EXPECT_EQ(swept.load(), static_cast<size_t>(kKeys));
  EXPECT_EQ(store().Size(), static_cast<size_t>(kKeys));
  for (int t = 1; t < 3; ++t) {
    for (int i = 0; i < kKeys / 2; ++i) {
      EXPECT_EQ(Get("new" + std::to_string(t) + "_" + std::to_string(i)).status, Status::kOk);
    }
  }
}

}  // namespace
}  // namespace rendezvous::kv
