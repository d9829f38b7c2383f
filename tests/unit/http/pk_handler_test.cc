// /pk/<key>: signed records through the public Router, on a real MemoryStore and Limiter.
#include <string>

#include "../pkarr/test_signer.h"
#include "common/http_date.h"
#include "handler_harness.h"
#include "http/pk_handler.h"
#include "pkarr/record.h"

namespace rendezvous::http {
namespace {

using pkarr::testing::TestSigner;
using testing::Call;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::MethodCall;
using testing::Put;

// 2025-03-04T16:50:04.412159Z, as microseconds.
constexpr uint64_t kTimestamp = 1741107004412159;

std::string Target(const TestSigner& signer) {
  return "/pk/" + pkarr::EncodePublicKey(signer.public_key());
}

bool HasHeader(const Response& response, std::string_view line) {
  return response.extra_headers.find(std::string(line) + "\r\n") != std::string::npos;
}

TEST(PkHandlerTest, StoresAVerifiedRecordAndServesItsBytes) {
  Harness harness;
  const TestSigner signer(1);
  const std::string record = signer.Record(kTimestamp, "dns packet");
  const Response put = harness.Send(Put(Target(signer), record));
  EXPECT_EQ(put.status, 204);
  EXPECT_TRUE(put.body.empty());

  const Response get = harness.Send(Get(Target(signer)));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, record);
  EXPECT_TRUE(HasHeader(get, "Content-Type: application/pkarr.org/relays#payload"));
  EXPECT_TRUE(HasHeader(get, "Last-Modified: Tue, 04 Mar 2025 16:50:04 GMT"));
  EXPECT_NE(get.extra_headers.find("ETag: \""), std::string::npos);
  EXPECT_NE(get.extra_headers.find("X-Expires-In: 7200\r\n"), std::string::npos);
  EXPECT_NE(get.extra_headers.find("RateLimit-Remaining: "), std::string::npos);
  // Stored under "pk/<key>": the key API reads the same entry.
  EXPECT_EQ(harness.Send(Get("/pk%2F" + Target(signer).substr(4))).body, record);
}

TEST(PkHandlerTest, PostStoresLikePut) {
  Harness harness;
  const TestSigner signer(2);
  Call post = Put(Target(signer), signer.Record(kTimestamp, "v"));
  post.method = "POST";
  EXPECT_EQ(harness.Send(post).status, 204);
  EXPECT_EQ(harness.Send(Get(Target(signer))).status, 200);
}

TEST(PkHandlerTest, RefusesATamperedSignatureOrValue) {
  Harness harness;
  const TestSigner signer(3);
  std::string bad_signature = signer.Record(kTimestamp, "value");
  bad_signature[0] ^= 1;
  std::string bad_v = signer.Record(kTimestamp, "value");
  bad_v.back() ^= 1;
  std::string bad_timestamp = signer.Record(kTimestamp, "value");
  bad_timestamp[70] ^= 1;
  for (const std::string& body : {bad_signature, bad_v, bad_timestamp}) {
    const Response response = harness.Send(Put(Target(signer), body));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, "Bad Request: invalid signature\n");
  }
  // Signed by another key.
  const TestSigner other(4);
  EXPECT_EQ(harness.Send(Put(Target(signer), other.Record(kTimestamp, "v"))).body,
            "Bad Request: invalid signature\n");
  EXPECT_EQ(harness.Send(Get(Target(signer))).status, 404);
}

TEST(PkHandlerTest, NewerReplacesSameRefreshesOlderConflicts) {
  Harness harness;
  const TestSigner signer(5);
  const std::string target = Target(signer);
  ASSERT_EQ(harness.Send(Put(target, signer.Record(kTimestamp, "first"))).status, 204);
  EXPECT_EQ(harness.Send(Put(target, signer.Record(kTimestamp, "first"))).status, 204);

  const Response older = harness.Send(Put(target, signer.Record(kTimestamp - 1, "older")));
  EXPECT_EQ(older.status, 409);
  EXPECT_EQ(older.body,
            "Conflict: a newer record, or another record with the same timestamp, is stored\n");
  EXPECT_EQ(harness.Send(Put(target, signer.Record(kTimestamp, "same time"))).status, 409);

  const std::string newer = signer.Record(kTimestamp + 1, "newer");
  EXPECT_EQ(harness.Send(Put(target, newer)).status, 204);
  EXPECT_EQ(harness.Send(Get(target)).body, newer);
}

TEST(PkHandlerTest, SameRecordAgainMovesTheExpiry) {
  Harness harness;
  const TestSigner signer(6);
  const std::string record = signer.Record(kTimestamp, "v");
  ASSERT_EQ(harness.Send(Put(Target(signer), record)).status, 204);
  harness.clock().Advance(absl::Hours(1));
  ASSERT_EQ(harness.Send(Put(Target(signer), record)).status, 204);
  harness.clock().Advance(absl::Hours(1) + absl::Seconds(30));
  const Response get = harness.Send(Get(Target(signer)));
  EXPECT_EQ(get.status, 200);
  EXPECT_NE(get.extra_headers.find("X-Expires-In: 3570\r\n"), std::string::npos);
}

TEST(PkHandlerTest, CheckTheSizeOfTheRecord) {
  Harness harness;
  const TestSigner signer(7);
  EXPECT_EQ(harness.Send(Put(Target(signer), signer.Record(kTimestamp, std::string(1000, 'v'))))
                .status,
            204);
  const Response too_large =
      harness.Send(Put(Target(signer), signer.Record(kTimestamp + 1, std::string(1001, 'v'))));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.body, "Payload Too Large: v over 1000 bytes\n");
  const Response too_short = harness.Send(Put(Target(signer), std::string(71, 'x')));
  EXPECT_EQ(too_short.status, 400);
  EXPECT_EQ(too_short.body,
            "Bad Request: record shorter than 72 bytes (signature and timestamp)\n");
  Call cut_off = Put(Target(signer), std::string(1000, 'x'));
  cut_off.body_too_large = true;
  EXPECT_EQ(harness.Send(cut_off).status, 413);
  EXPECT_EQ(harness.pk_handler().verifications(), 1u);  // only the good one was verified
}

TEST(PkHandlerTest, RefusesKeysThatAreNotPublicKeys) {
  Harness harness;
  const TestSigner signer(8);
  const std::string key = pkarr::EncodePublicKey(signer.public_key());
  const std::string record = signer.Record(kTimestamp, "v");
  for (const std::string& target :
       {std::string("/pk/"), "/pk/" + key.substr(1), "/pk/" + key + "y", "/pk/" + key + "/",
        "/pk/" + std::string("l") + key.substr(1),  // 'l' is not in the alphabet
        "/pk/" + key.substr(0, 51) + "Y", "/pk/" + key.substr(0, 51) + "n"}) {
    for (Call call : {Put(target, record), Get(target)}) {
      const Response response = harness.Send(call);
      EXPECT_EQ(response.status, 400) << call.method << " " << target;
      EXPECT_EQ(response.body,
                "Bad Request: invalid public key (expected 52 z-base-32 characters)\n");
    }
  }
}

TEST(PkHandlerTest, IfModifiedSinceAnswers304UnlessTheRecordIsNewerAtSecondPrecision) {
  Harness harness;
  const TestSigner signer(9);
  ASSERT_EQ(harness.Send(Put(Target(signer), signer.Record(kTimestamp, "v"))).status, 204);
  auto get_since = [&](std::string date) {
    Call call = Get(Target(signer));
    call.if_modified_since = std::move(date);
    return harness.Send(call);
  };
  const Response same_second = get_since("Tue, 04 Mar 2025 16:50:04 GMT");
  EXPECT_EQ(same_second.status, 304);
  EXPECT_TRUE(same_second.body.empty());
  EXPECT_TRUE(HasHeader(same_second, "Last-Modified: Tue, 04 Mar 2025 16:50:04 GMT"));
  EXPECT_EQ(get_since("Wed, 05 Mar 2025 00:00:00 GMT").status, 304);
  EXPECT_EQ(get_since("Tue, 04 Mar 2025 16:50:03 GMT").status, 200);
  EXPECT_EQ(get_since("not a date").status, 200);
}

TEST(PkHandlerTest, AbsentKeyIs404) {
  Harness harness;
  const TestSigner signer(10);
  const Response response = harness.Send(Get(Target(signer)));
  EXPECT_EQ(response.status, 404);
}

TEST(PkHandlerTest, DeleteIs405WithAllowAndOptionsIsAPreflight) {
  Harness harness;
  const TestSigner signer(11);
  ASSERT_EQ(harness.Send(Put(Target(signer), signer.Record(kTimestamp, "v"))).status, 204);
  const Response remove = harness.Send(testing::Delete(Target(signer)));
  EXPECT_EQ(remove.status, 405);
  EXPECT_TRUE(HasHeader(remove, "Allow: GET, HEAD, POST, PUT, OPTIONS"));
  EXPECT_EQ(harness.Send(Get(Target(signer))).status, 200);
  const Response options = harness.Send(MethodCall("OPTIONS", Target(signer)));
  EXPECT_EQ(options.status, 204);
  EXPECT_TRUE(HasHeader(options, "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, OPTIONS"));
}

TEST(PkHandlerTest, SecretAndIfMatchPlayNoPart) {
  Harness harness;
  const TestSigner signer(12);
  Call put = Put(Target(signer), signer.Record(kTimestamp, "v"));
  put.secret = "mine";
  put.if_match = "\"nonsense\"";
  EXPECT_EQ(harness.Send(put).status, 204);
  EXPECT_EQ(harness.Send(Put(Target(signer), signer.Record(kTimestamp + 1, "w"))).status, 204);
}

TEST(PkHandlerTest, PlainKeysUnderPkCannotBeWrittenThroughTheKeyApiPath) {
  Harness harness;
  const TestSigner signer(13);
  const Response response = harness.Send(Put(Target(signer), "plain value"));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(harness.Send(Get(Target(signer))).status, 404);
}

TEST(PkHandlerTest, TheKeyApiCannotWriteOrDeleteARecordByItsEncodedPath) {
  Harness harness;
  const TestSigner signer(15);
  const std::string record = signer.Record(kTimestamp, "v");
  ASSERT_EQ(harness.Send(Put(Target(signer), record)).status, 204);
  const std::string encoded = "/pk%2F" + Target(signer).substr(4);
  for (Call call : {Put(encoded, "forged"), testing::Post(encoded, "forged"),
                    testing::Delete(encoded), Put("/pk%2Fanything", "x")}) {
    const Response response = harness.Send(call);
    EXPECT_EQ(response.status, 403) << call.method << " " << call.target;
    EXPECT_EQ(response.body, "Forbidden: pk/ keys are written through /pk/ with a signed record\n");
  }
  EXPECT_EQ(harness.Send(Get(encoded)).body, record);
}

TEST(PkHandlerTest, TheRateLimitIsChargedBeforeTheSignatureIsChecked) {
  HarnessOptions options;
  options.max_requests = 6;  // two writes
  Harness harness(options);
  const TestSigner signer(14);
  const std::string target = Target(signer);
  EXPECT_EQ(harness.Send(Put(target, signer.Record(kTimestamp, "a"))).status, 204);
  EXPECT_EQ(harness.Send(Put(target, signer.Record(kTimestamp + 1, "b"))).status, 204);
  EXPECT_EQ(harness.pk_handler().verifications(), 2u);
  const Response refused = harness.Send(Put(target, signer.Record(kTimestamp + 2, "c")));
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.extra_headers.find("Retry-After: "), std::string::npos);
  EXPECT_EQ(harness.pk_handler().verifications(), 2u);
  // The key API and /pk/ share one bucket.
  EXPECT_EQ(harness.Send(Get("/k")).status, 429);
}

}  // namespace
}  // namespace rendezvous::http
