// The GET path allocates nothing once a connection's Response has grown (issue 5): counted with a
// replacement of the global operator new in this test binary.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/response.h"

// The sanitizers bring their own allocator hooks; the count is taken in the plain build only, and
// the test does not exist in sanitizer builds (rather than being skipped there).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

namespace {
// Test-only global state: operator new cannot reach anything else.
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

// g++ 12 takes free() inside a replacement operator delete for a mismatch; it is the pairing the
// replacement operator new above makes.
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

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;
using testing::Harness;
using testing::Post;

// Allocations made by one Handle() of `request` into the warm `response`, serialized into the
// warm `out`.
long AllocationsOf(Harness& harness, const Request& request, Response& response, std::string& out) {
  int done_calls = 0;
  allocations = 0;
  counting = true;
  harness.handler().Handle(request, response, [&done_calls] { ++done_calls; });
  out.clear();
  AppendResponse(response, "Sun, 06 Nov 1994 08:49:37 GMT", true, 11, out);
  counting = false;
  EXPECT_EQ(done_calls, 1);
  return allocations;
}

TEST(AllocationTest, AGetOnAReusedResponseAllocatesNothing) {
  Harness harness;
  harness.Send(Post("/some/key", std::string(500, 'v')));
  const Call get = Get("/some%2Fkey");
  const Call conditional = Get("/some/key").IfNoneMatch("W/\"0\", \"1\", \"2\"");
  const Call missing = Get("/missing");
  const Request requests[] = {get.ToRequest(), conditional.ToRequest(), missing.ToRequest()};
  Response response;
  std::string out;
  {  // the counter counts
    allocations = 0;
    counting = true;
    std::string* block = new std::string(100, 'x');
    counting = false;
    delete block;
    ASSERT_GE(allocations, 2);
  }
  for (const Request& request : requests) AllocationsOf(harness, request, response, out);  // warm
  for (const Request& request : requests) {
    EXPECT_EQ(AllocationsOf(harness, request, response, out), 0) << request.target;
  }
  EXPECT_EQ(response.status, 404);
}

}  // namespace
}  // namespace rendezvous::http

#endif  // no sanitizer
