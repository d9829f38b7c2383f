// The access log: the line format (fields, escaping, bounds), the Router writing one line per
// answer without secrets or header values, buffering until a flush, and reopen after a rename.
#include "http/access_log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/router.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "access_log_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(AccessLogTest, LineHasTimeClientMethodQuotedPathStatusBytesAndMicroseconds) {
  const common::IpAddress client = *common::IpAddress::Parse("203.0.113.7");
  AccessRecord record;
  record.time = absl::FromUnixMillis(1'700'000'000'123);
  record.client = &client;
  record.method = Method::kPost;
  record.path = "/some%20key";
  record.status = 201;
  record.body_bytes = 5;
  record.duration_nanos = 123'456;
  std::string line;
  AccessLog::AppendLine(record, line);
  EXPECT_EQ(line, "2023-11-14T22:13:20.123Z 203.0.113.7 POST \"/some%20key\" 201 5 123\n");
}

TEST(AccessLogTest, PathIsEscapedAndBoundedSoAClientCannotForgeOrGrowLines) {
  const common::IpAddress client = *common::IpAddress::Parse("::1");
  AccessRecord record;
  record.client = &client;
  record.method = Method::kOther;
  const std::string path =
      "/a\"b\n2023-01-01T00:00:00Z 1.2.3.4 GET \"/x\" 200 0 0" + std::string(1000, 'k');
  record.path = path;
  std::string line;
  AccessLog::AppendLine(record, line);
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
  EXPECT_NE(line.find(" ::1 OTHER \"/a\\\"b\\n2023"), std::string::npos) << line;
  EXPECT_LT(line.size(), kMaxLoggedPathBytes + 100);
}

class AccessLogFileTest : public ::testing::Test {
 protected:
  Response Send(Router& router, const Call& call) {
    Response response;
    int done_calls = 0;
    router.Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
    EXPECT_EQ(done_calls, 1);
    return response;
  }

  // Answers 200 with a 5-byte body.
  class FiveBytes final : public RouteHandler {
   public:
    void Handle(const Request&, std::string_view, Response& response, Done done) override {
      response.body = "hello";
      done();
    }
  };

  TempDir dir_;
  common::ManualClock clock_;
  FiveBytes handler_;
};

TEST_F(AccessLogFileTest, RouterWritesOneLinePerAnswerWithoutSecretsOrHeaders) {
  const std::filesystem::path path = dir_.path() / "access.log";
  std::string error;
  std::unique_ptr<AccessLog> log = AccessLog::Open(path.string(), &error, absl::InfiniteDuration());
  ASSERT_NE(log, nullptr) << error;
  Router router({}, handler_, clock_, nullptr, log.get());
  Call call = Get("/key?ttl=1");
  call.secret = "TOPSECRET";
  call.origin = "https://origin.example";
  call.client = "198.51.100.9";
  Send(router, call);
  Call head = Get("/other");
  head.method = "HEAD";
  Send(router, head);
  EXPECT_EQ(ReadFile(path), "");  // buffered: no write per request
  log->Flush();
  const std::string text = ReadFile(path);
  EXPECT_NE(text.find(" 198.51.100.9 GET \"/key\" 200 5 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" HEAD \"/other\" 200 0 0\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("TOPSECRET"), std::string::npos);
  EXPECT_EQ(text.find("origin.example"), std::string::npos);
  EXPECT_EQ(text.find("ttl"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST_F(AccessLogFileTest, EachLineHasItsOwnTimeAcrossSecondBoundaries) {
  const std::filesystem::path path = dir_.path() / "access.log";
  std::string error;
  std::unique_ptr<AccessLog> log = AccessLog::Open(path.string(), &error, absl::InfiniteDuration());
  ASSERT_NE(log, nullptr) << error;
  Router router({}, handler_, clock_, nullptr, log.get());
  clock_.Set(absl::FromUnixMillis(1'700'000'000'000));
  Send(router, Get("/a"));
  clock_.Advance(absl::Milliseconds(999));
  Send(router, Get("/b"));
  clock_.Advance(absl::Milliseconds(1));
  Send(router, Get("/c"));
  clock_.Advance(absl::Hours(24) + absl::Milliseconds(7));
  Send(router, Get("/d"));
  log->Flush();
  std::ifstream in(path);
  std::vector<std::string> times;
  for (std::string line; std::getline(in, line);) times.push_back(line.substr(0, line.find(' ')));
  EXPECT_EQ(times,
            (std::vector<std::string>{"2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.999Z",
                                      "2023-11-14T22:13:21.000Z", "2023-11-15T22:13:21.007Z"}));
}

TEST_F(AccessLogFileTest, AFullBufferIsWrittenWithoutWaitingForTheFlusher) {
  const std::filesystem::path path = dir_.path() / "access.log";
  std::string error;
  std::unique_ptr<AccessLog> log = AccessLog::Open(path.string(), &error, absl::InfiniteDuration());
  ASSERT_NE(log, nullptr) << error;
  Router router({}, handler_, clock_, nullptr, log.get());
  const Call call = Get("/" + std::string(150, 'k'));
  size_t sent = 0;
  while (ReadFile(path).empty() && sent < 10'000) {
    Send(router, call);
    ++sent;
  }
  // About kFlushBytes / line length requests, never one write per request.
  EXPECT_GT(sent, 100u);
  EXPECT_LT(sent, 1000u);
  EXPECT_EQ(ReadFile(path).back(), '\n');
}

TEST_F(AccessLogFileTest, ReopenWritesToANewFileAfterARename) {
  const std::filesystem::path path = dir_.path() / "access.log";
  const std::filesystem::path rotated = dir_.path() / "access.log.1";
  std::string error;
  std::unique_ptr<AccessLog> log = AccessLog::Open(path.string(), &error, absl::InfiniteDuration());
  ASSERT_NE(log, nullptr) << error;
  Router router({}, handler_, clock_, nullptr, log.get());
  Send(router, Get("/before"));
  std::filesystem::rename(path, rotated);
  Send(router, Get("/during"));  // buffered: lands in the old file at the reopen's flush
  ASSERT_TRUE(log->Reopen(&error)) << error;
  Send(router, Get("/after"));
  log->Flush();
  const std::string old_text = ReadFile(rotated);
  const std::string new_text = ReadFile(path);
  EXPECT_NE(old_text.find("/before"), std::string::npos);
  EXPECT_NE(old_text.find("/during"), std::string::npos);
  EXPECT_EQ(old_text.find("/after"), std::string::npos);
  EXPECT_NE(new_text.find("/after"), std::string::npos);
  EXPECT_EQ(new_text.find("/before"), std::string::npos);
}

TEST_F(AccessLogFileTest, LinesFromSeveralThreadsNeverInterleaveWhileFlushesAndReopensRun) {
  const std::filesystem::path path = dir_.path() / "access.log";
  std::string error;
  std::unique_ptr<AccessLog> log = AccessLog::Open(path.string(), &error, absl::InfiniteDuration());
  ASSERT_NE(log, nullptr) << error;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, &running, t] {
      const common::IpAddress client = common::IpAddress::FromV4(0x0a000000 + t);
      const std::string path = "/thread" + std::to_string(t) + "/" + std::string(100, 'x');
      for (int i = 0; i < kPerThread; ++i) {
        AccessRecord record;
        record.client = &client;
        record.method = Method::kGet;
        record.path = path;
        record.status = 200;
        log->Record(record);
      }
      running.fetch_sub(1);
    });
  }
  while (running.load() > 0) {
    log->Flush();
    ASSERT_TRUE(log->Reopen(&error)) << error;  // same path: the same file, appended to
  }
  for (std::thread& thread : threads) thread.join();
  log->Flush();
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    ASSERT_TRUE(line.ends_with(std::string(100, 'x') + "\" 200 0 0")) << line;
  }
  EXPECT_EQ(lines, kThreads * kPerThread);
}

TEST_F(AccessLogFileTest, AnUnopenableFileIsOneLineNamingIt) {
  std::string error;
  EXPECT_EQ(AccessLog::Open((dir_.path() / "missing" / "access.log").string(), &error), nullptr);
  EXPECT_NE(error.find("cannot open the access log "), std::string::npos);
  EXPECT_NE(error.find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace rendezvous::http
