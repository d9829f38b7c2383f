// The admin listener's routes: /metrics is the registry in Prometheus text, /healthz answers
// while the process runs, /readyz follows shutdown and the store (probing it at most once per
// second), and everything else is 404.
#include "http/admin_routes.h"

#include <deque>
#include <string>

#include "common/clock.h"
#include "common/prometheus_text.h"
#include "common/stats.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/router.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;
using testing::HasHeader;
using testing::MethodCall;

// Answers every Get with `status`, inline or (held) when told; counts the Gets.
class ProbeStore final : public kv::Store {
 public:
  void Get(std::string_view key, absl::Time now, kv::GetCallback done) override {
    ++gets;
    last_key = std::string(key);
    if (hold) {
      held.push_back(std::move(done));
      return;
    }
    kv::GetResult result;
    result.status = status;
    done(result);
  }
  void Put(const kv::PutRequest&, kv::WriteCallback) override {}
  void Delete(const kv::DeleteRequest&, kv::WriteCallback) override {}
  size_t SweepExpired(absl::Time) override { return 0; }
  kv::Status Flush() override { return kv::Status::kOk; }
  size_t Size() const override { return 0; }
  void SetChangeListener(kv::ChangeListener) override {}

  kv::Status status = kv::Status::kNotFound;
  bool hold = false;
  std::deque<kv::GetCallback> held;
  int gets = 0;
  std::string last_key;
};

class AdminRoutesTest : public ::testing::Test {
 protected:
  Response Send(const Call& call) {
    Response response;
    int done_calls = 0;
    router_.Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
    EXPECT_EQ(done_calls, 1);
    return response;
  }

  common::ManualClock clock_;
  common::StatsRegistry stats_;
  ProbeStore store_;
  AdminRoutes admin_{stats_, store_, clock_};
  Router router_{admin_.Routes(), admin_.NotFound(), clock_, nullptr};
};

TEST_F(AdminRoutesTest, MetricsIsTheRegistryAsPrometheusText) {
  stats_.AddCounter("demo_total", "Demo.").Increment(7);
  const Response response = Send(Get("/metrics"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kNone);
  EXPECT_TRUE(HasHeader(response, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_EQ(response.body, "# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total 7\n");
  // A scrape through this Router counts nothing: the registry is unchanged by it.
  EXPECT_EQ(Send(Get("/metrics")).body, response.body);
}

TEST_F(AdminRoutesTest, HeadOfMetricsIsMarkedHead) {
  const Response response = Send(MethodCall("HEAD", "/metrics"));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.head);
}

TEST_F(AdminRoutesTest, HealthzAnswersOk) {
  const Response response = Send(Get("/healthz"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok\n");
}

TEST_F(AdminRoutesTest, OtherMethodsAre405WithAllow) {
  for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
    const Response response = Send(MethodCall("POST", path));
    EXPECT_EQ(response.status, 405) << path;
    EXPECT_TRUE(HasHeader(response, "Allow: GET, HEAD\r\n")) << path;
  }
  EXPECT_EQ(store_.gets, 0);
}

TEST_F(AdminRoutesTest, EveryOtherPathIs404AndNeverAKey) {
  for (const char* path : {"/", "/metricsx", "/metrics/", "/somekey", "/ip/x"}) {
    const Response response = Send(Get(path));
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(response.body, "Not Found\n") << path;
  }
  EXPECT_EQ(store_.gets, 0);
}

TEST_F(AdminRoutesTest, ReadyzIs200WhenTheStoreAnswersEvenNotFound) {
  const Response response = Send(Get("/readyz"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ready\n");
  EXPECT_EQ(store_.last_key, kReadinessProbeKey);
}

TEST_F(AdminRoutesTest, ReadyzIs503WhileTheStoreIsUnavailable) {
  store_.status = kv::Status::kUnavailable;
  EXPECT_EQ(Send(Get("/readyz")).status, 503);
  clock_.Advance(absl::Seconds(2));
  store_.status = kv::Status::kOk;
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
}

TEST_F(AdminRoutesTest, ReadyzIs503OnceShutdownBegan) {
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
  admin_.SetShuttingDown();
  const Response response = Send(Get("/readyz"));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "shutting down\n");
  EXPECT_EQ(Send(Get("/healthz")).status, 200);  // the process still runs
}

TEST_F(AdminRoutesTest, ReadyzProbesTheStoreAtMostOncePerSecond) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Send(Get("/readyz")).status, 200);
  EXPECT_EQ(store_.gets, 1);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
  EXPECT_EQ(store_.gets, 1);
  clock_.Advance(absl::Milliseconds(2));
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
  EXPECT_EQ(store_.gets, 2);
}

TEST_F(AdminRoutesTest, ReadyzAnswersWhenTheProbeAnswersAndIs503WhenItHangs) {
  EXPECT_EQ(Send(Get("/readyz")).status, 200);  // a first, cached answer
  clock_.Advance(absl::Seconds(2));
  store_.hold = true;
  Response held;
  int held_done = 0;
  router_.Handle(Get("/readyz").ToRequest(), held, [&held_done] { ++held_done; });
  EXPECT_EQ(held_done, 0);  // waits for the store
  // Meanwhile: the last result, without a second probe.
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
  EXPECT_EQ(store_.gets, 2);
  // The probe hangs past its timeout: not ready, still without asking again.
  clock_.Advance(kReadinessProbeTimeout + absl::Milliseconds(1));
  const Response hung = Send(Get("/readyz"));
  EXPECT_EQ(hung.status, 503);
  EXPECT_EQ(hung.body, "store not answering\n");
  EXPECT_EQ(store_.gets, 2);
  // The store answers at last: the held request completes, and readiness is back.
  kv::GetResult result;
  result.status = kv::Status::kOk;
  store_.held.front()(result);
  EXPECT_EQ(held_done, 1);
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(Send(Get("/readyz")).status, 200);
}

}  // namespace
}  // namespace rendezvous::http
