// A steady keep-alive connection allocates nothing per request once its buffers have grown:
// counted with a replacement of the global operator new in this test binary.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "net/connection.h"

// The sanitizers bring their own allocator hooks; the count is taken in the plain build only, and
// the test does not exist in sanitizer builds (rather than being skipped there).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

namespace {
// Test-only global state: operator new cannot reach anything else.
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
void operator delete(void* block) noexcept { std::free(block); }
void operator delete(void* block, size_t) noexcept { std::free(block); }
#pragma GCC diagnostic pop

namespace rendezvous::net {
namespace {

class Host final : public ConnectionHost {
 public:
  void PostCompletion() override {}
  std::string_view CurrentDate() override { return "Thu, 01 Jan 2026 00:00:00 GMT"; }
};

// Answers inline with a small value, timed (as a key answer is), allocating nothing itself.
class ValueHandler final : public http::RequestHandler {
 public:
  void Handle(const http::Request&, http::Response& response, http::Done done) override {
    response.Reset();
    response.content_type = http::ContentType::kOctetStream;
    response.body.assign("value");
    response.in_flight.now = absl::FromUnixSeconds(1'767'225'600);
    done();
  }
};

TEST(ConnectionAllocationTest, PipelinedGetsOnAWarmConnectionAllocateNothing) {
  const ServerOptions options;
  Host host;
  ValueHandler handler;
  Connection connection(options, handler, host, common::IpAddress::FromV4(1), 0);
  std::string batch;
  for (int i = 0; i < 8; ++i) batch += "GET /some/key HTTP/1.1\r\nHost: h\r\n\r\n";
  auto round = [&] {
    const boost::asio::mutable_buffer buffer = connection.ReadBuffer();
    ASSERT_GE(buffer.size(), batch.size());
    std::memcpy(buffer.data(), batch.data(), batch.size());
    connection.OnRead(batch.size(), 0);
    ASSERT_TRUE(connection.HasOutput());
    EXPECT_NE(connection.StartWrite(0).find("value"), std::string_view::npos);
    connection.OnWriteDone(0);
  };
  round();  // warms the buffers
  round();
  allocations = 0;
  counting = true;
  for (int i = 0; i < 10; ++i) round();
  counting = false;
  EXPECT_EQ(allocations, 0);
}

}  // namespace
}  // namespace rendezvous::net

#endif
