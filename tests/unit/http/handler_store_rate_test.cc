// A store that charges the rate limit itself (kv::Store::ChargesRateLimit, as the Redis engine):
// the Handler skips its own Limiter, passes the charge with the operation and answers with the
// store's decision, so that handlers on many servers share one bucket.
#include <optional>
#include <string>

#include "../pkarr/test_signer.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/request_cost.h"
#include "pkarr/zbase32.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::Post;
using testing::Put;

// The MemoryStore behind a Limiter of its own: one bucket per client for every Handler using it.
class ChargingStore final : public kv::Store {
 public:
  ChargingStore(kv::Store& backend, const common::Clock& clock, int64_t capacity_tokens)
      : backend_(backend),
        clock_(clock),
        limiter_(ratelimit::Limiter::Options{.capacity_tokens = capacity_tokens,
                                             .refill_period = absl::Hours(1),
                                             .table_slots = 1024}) {}

  bool ChargesRateLimit() const override { return true; }
  void Get(std::string_view key, absl::Time now, kv::GetCallback done) override {
    backend_.Get(key, now, std::move(done));
  }
  void ChargedGet(std::string_view key, absl::Time now, const kv::RateCharge& charge,
                  kv::GetCallback done) override {
    const std::optional<ratelimit::Decision> rate = Charge(charge);
    if (rate && !rate->allowed) {
      kv::GetResult refused;
      refused.status = kv::Status::kRateLimited;
      refused.rate = rate;
      return done(refused);
    }
    backend_.Get(key, now, [rate, done = std::move(done)](const kv::GetResult& result) mutable {
      kv::GetResult with_rate = result;
      with_rate.rate = rate;
      done(with_rate);
    });
  }
  void List(const kv::ListRequest& request, kv::ListCallback done) override {
    const std::optional<ratelimit::Decision> rate = Charge(request.charge);
    if (rate && !rate->allowed) {
      kv::ListResult refused;
      refused.status = kv::Status::kRateLimited;
      refused.rate = rate;
      return done(refused);
    }
    backend_.List(request, [rate, done = std::move(done)](const kv::ListResult& result) mutable {
      kv::ListResult with_rate = result;
      with_rate.rate = rate;
      done(with_rate);
    });
  }
  void Put(const kv::PutRequest& request, kv::WriteCallback done) override {
    ++charged_writes_;
    Write(Charge(request.charge), std::move(done),
          [&](kv::WriteCallback inner) { backend_.Put(request, std::move(inner)); });
  }
  void Delete(const kv::DeleteRequest& request, kv::WriteCallback done) override {
    Write(Charge(request.charge), std::move(done),
          [&](kv::WriteCallback inner) { backend_.Delete(request, std::move(inner)); });
  }
  size_t SweepExpired(absl::Time) override { return 0; }
  kv::Status Flush() override { return kv::Status::kOk; }
  size_t Size() const override { return backend_.Size(); }
  void SetChangeListener(kv::ChangeListener listener) override {
    backend_.SetChangeListener(std::move(listener));
  }

  int charged_writes() const { return charged_writes_; }

 private:
  std::optional<ratelimit::Decision> Charge(const kv::RateCharge& charge) {
    if (charge.cost_tokens == 0 && !charge.report_only) return std::nullopt;
    return limiter_.Take(ratelimit::ClientKey{charge.client}, charge.cost_tokens, clock_.Now());
  }
  template <typename Run>
  void Write(std::optional<ratelimit::Decision> rate, kv::WriteCallback done, Run run) {
    if (rate && !rate->allowed) {
      kv::WriteResult refused;
      refused.status = kv::Status::kRateLimited;
      refused.rate = rate;
      return done(refused);
    }
    run([rate, done = std::move(done)](const kv::WriteResult& result) mutable {
      kv::WriteResult with_rate = result;
      with_rate.rate = rate;
      done(with_rate);
    });
  }

  kv::Store& backend_;
  const common::Clock& clock_;
  ratelimit::Limiter limiter_;
  int charged_writes_ = 0;
};

class StoreRateTest : public ::testing::Test {
 protected:
  static HarnessOptions Options() {
    HarnessOptions options;
    options.max_requests = 5;  // the handlers' own limiters: never charged here
    options.reset = absl::Hours(1);
    return options;
  }
  kv::MemoryStore backend_{kv::MemoryStore::Options{}};
  common::ManualClock shared_clock_;
  ChargingStore store_{backend_, shared_clock_, 5};
  Harness a_{Options(), &store_};
  Harness b_{Options(), &store_};
};

// A parked long poll, answered later (the waker is the test calling Drain).
struct Waiting {
  Call call;
  Response response;
  int done = 0;
};

HarnessOptions ManualWaker() {
  HarnessOptions options;
  options.max_requests = 5;
  options.reset = absl::Hours(1);
  options.handler.waker_thread = false;
  return options;
}

// On a shared engine (Redis) waits work as anywhere: the wait's first read pays its token in the
// store's bucket, and the answer after the wake reports that bucket without charging again.
TEST(StoreRateWaitTest, AWaitIsChargedOnceByTheStoreAndWokenByAWrite) {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  common::ManualClock clock;
  ChargingStore store{backend, clock, 5};
  Harness harness{ManualWaker(), &store};
  Waiting waiting{Get("/k"), {}, 0};
  waiting.call.prefer = "wait=30";
  harness.handler().Handle(waiting.call.ToRequest(), waiting.response,
                           [&waiting] { ++waiting.done; });
  ASSERT_EQ(waiting.done, 0);  // parked, not answered at once
  EXPECT_EQ(harness.key_handler().waiters()->size(), 1u);
  ASSERT_EQ(harness.Send(Post("/k", "v").From("192.0.2.9")).status, 200);
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_EQ(waiting.response.body, "v");
  EXPECT_NE(waiting.response.extra_headers.find("Preference-Applied: wait=30\r\n"),
            std::string::npos);
  // 5 tokens, 1 paid by the wait's first read and none by its answer.
  EXPECT_NE(waiting.response.extra_headers.find("RateLimit-Remaining: 4\r\n"), std::string::npos)
      << waiting.response.extra_headers;
  EXPECT_NE(harness.Send(Get("/k")).extra_headers.find("RateLimit-Remaining: 3\r\n"),
            std::string::npos);
}

TEST(StoreRateWaitTest, AWaitRefusedByTheStoresChargeIs429AtOnceAndParksNothing) {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  common::ManualClock clock;
  ChargingStore store{backend, clock, 5};
  Harness harness{ManualWaker(), &store};
  for (int i = 0; i < 5; ++i) ASSERT_EQ(harness.Send(Get("/x")).status, 404);
  Waiting waiting{Get("/k"), {}, 0};
  waiting.call.prefer = "wait=30";
  harness.handler().Handle(waiting.call.ToRequest(), waiting.response,
                           [&waiting] { ++waiting.done; });
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 429);
  EXPECT_NE(waiting.response.extra_headers.find("Retry-After: "), std::string::npos);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

// Listing waits too: the first list pays the wait's token in the store's bucket; a wake that finds
// the listing unchanged (a wake of all) and the answer after an announcement only report it.
TEST(StoreRateWaitTest, AListingWaitIsChargedOnceByTheStoreAndWokenByAnAnnouncement) {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  common::ManualClock clock;
  ChargingStore store{backend, clock, 5};
  Harness harness{ManualWaker(), &store};
  ASSERT_EQ(harness.Send(Post("/ip/chat", "a").From("10.0.0.1")).status, 200);
  const Response listed = harness.Send(Get("/ip/*/chat").From("192.0.2.50"));
  const std::string etag = testing::HeaderValue(listed, "ETag");
  ASSERT_FALSE(etag.empty());
  Waiting waiting{Get("/ip/*/chat"), {}, 0};
  waiting.call.prefer = "wait=30";
  waiting.call.IfNoneMatch(etag);
  harness.handler().Handle(waiting.call.ToRequest(), waiting.response,
                           [&waiting] { ++waiting.done; });
  ASSERT_EQ(waiting.done, 0);  // parked, not answered at once
  harness.key_handler().waiters()->WakeAll();
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  EXPECT_EQ(waiting.done, 0);  // listed again, unchanged: parked again
  ASSERT_EQ(harness.Send(Post("/ip/chat", "b").From("10.0.0.2")).status, 200);
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_NE(waiting.response.body.find("\"total\":2"), std::string::npos);
  // 5 tokens, 1 paid by the wait's first list and none by the re-list or the answer.
  EXPECT_NE(waiting.response.extra_headers.find("RateLimit-Remaining: 4\r\n"), std::string::npos)
      << waiting.response.extra_headers;
  EXPECT_NE(harness.Send(Get("/ip/*/chat")).extra_headers.find("RateLimit-Remaining: 3\r\n"),
            std::string::npos);
}

TEST(StoreRateWaitTest, AListingWaitRefusedByTheStoresChargeIs429AtOnce) {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  common::ManualClock clock;
  ChargingStore store{backend, clock, 5};
  Harness harness{ManualWaker(), &store};
  for (int i = 0; i < 5; ++i) ASSERT_EQ(harness.Send(Get("/x")).status, 404);
  Waiting waiting{Get("/ip/*/chat"), {}, 0};
  waiting.call.prefer = "wait=30";
  waiting.call.IfNoneMatch("\"1\"");
  harness.handler().Handle(waiting.call.ToRequest(), waiting.response,
                           [&waiting] { ++waiting.done; });
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 429);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

TEST_F(StoreRateTest, HandlersOnOneChargingStoreShareOneBucket) {
  EXPECT_EQ(a_.Send(Post("/k", "v")).status, 200);  // 3 tokens
  const Response second = b_.Send(Get("/k"));       // 1 token
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.extra_headers.find("RateLimit-Remaining: 1\r\n"), std::string::npos)
      << second.extra_headers;
  EXPECT_EQ(a_.Send(Get("/k")).status, 200);
  const Response refused = b_.Send(Get("/k"));
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.extra_headers.find("Retry-After: "), std::string::npos);
  EXPECT_NE(refused.extra_headers.find("RateLimit-Remaining: 0\r\n"), std::string::npos);
  // Another client is charged apart.
  EXPECT_EQ(a_.Send(Get("/k").From("192.0.2.1")).status, 200);
}

TEST_F(StoreRateTest, AWriteRefusedByTheChargeChangesNothing) {
  for (int i = 0; i < 4; ++i) ASSERT_EQ(a_.Send(Get("/x")).status, 404);
  EXPECT_EQ(b_.Send(Post("/k", "v")).status, 429);  // 1 token left, a POST costs 3
  EXPECT_EQ(store_.charged_writes(), 1);
  EXPECT_EQ(backend_.Size(), 0u);
}

// /pk/ on a shared engine: the store charges the one bucket, as for keys.
TEST_F(StoreRateTest, SignedRecordsAreChargedToTheOneBucketAcrossHandlers) {
  const pkarr::testing::TestSigner signer(21);
  const std::string target = "/pk/" + pkarr::EncodePublicKey(signer.public_key());
  constexpr uint64_t kTimestamp = 1741107004412159;
  const Response stored = a_.Send(Put(target, signer.Record(kTimestamp, "a")));  // 3 tokens
  EXPECT_EQ(stored.status, 204);
  EXPECT_NE(stored.extra_headers.find("RateLimit-Remaining: 2\r\n"), std::string::npos)
      << stored.extra_headers;
  const Response read = b_.Send(Get(target));  // 1 token
  EXPECT_EQ(read.status, 200);
  EXPECT_NE(read.extra_headers.find("RateLimit-Remaining: 1\r\n"), std::string::npos)
      << read.extra_headers;
  // b's own limiter has all its tokens; the shared bucket has 1 and refuses a write (3).
  const Response refused = b_.Send(Put(target, signer.Record(kTimestamp + 1, "b")));
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.extra_headers.find("Retry-After: "), std::string::npos);
  EXPECT_NE(refused.extra_headers.find("RateLimit-Remaining: 1\r\n"), std::string::npos)
      << refused.extra_headers;
  EXPECT_EQ(a_.Send(Get(target)).body, signer.Record(kTimestamp, "a"));  // not replaced
}

// This server's own limiter still gates the verification of a write (the shared bucket decides
// only after the signature was checked).
TEST_F(StoreRateTest, AWriteThisServerCannotPayIsRefusedBeforeItsSignatureIsChecked) {
  const pkarr::testing::TestSigner signer(22);
  const std::string target = "/pk/" + pkarr::EncodePublicKey(signer.public_key());
  constexpr uint64_t kTimestamp = 1741107004412159;
  EXPECT_EQ(a_.Send(Put(target, signer.Record(kTimestamp, "a"))).status, 204);
  EXPECT_EQ(a_.pk_handler().verifications(), 1u);
  // a's limiter (5 tokens) holds 2 now, less than a write: refused before the verification.
  const Response refused = a_.Send(Put(target, signer.Record(kTimestamp + 1, "b")));
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.extra_headers.find("Retry-After: "), std::string::npos);
  EXPECT_EQ(a_.pk_handler().verifications(), 1u);
}

}  // namespace
}  // namespace rendezvous::http
