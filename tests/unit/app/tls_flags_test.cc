// Tests for the TLS flags (-tlsCert, -tlsKey, -tlsPort, -redirectHTTP): how they parse and which
// combinations Validate refuses (exit 2). Whether the files load is checked at start (e2e).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/config.h"
#include "app/flags.h"

namespace rendezvous::app {
namespace {

using ::testing::HasSubstr;

class TlsFlagsTest : public ::testing::Test {
 protected:
  static FlagsResult Parse(std::initializer_list<std::string> args) {
    std::vector<std::string> storage = {"rendezvous-server"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    return ParseFlags(static_cast<int>(storage.size()), argv.data());
  }
  void TearDown() override { (void)Parse({}); }
};

Config WithTls() {
  Config config;
  config.tls_cert = "cert.pem";
  config.tls_key = "key.pem";
  return config;
}

TEST(TlsConfigTest, TlsIsOffByDefaultAndItsPortIs443) {
  Config config;
  EXPECT_FALSE(config.tls());
  EXPECT_EQ(config.tls_port, 443);
  EXPECT_FALSE(config.redirect_http);
  EXPECT_EQ(Validate(WithTls()), std::nullopt);
}

TEST(TlsConfigTest, ACertificateWithoutAKeyIsRefused) {
  Config config;
  config.tls_cert = "cert.pem";
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-tlsCert needs -tlsKey"));
}

TEST(TlsConfigTest, AKeyWithoutACertificateIsRefused) {
  Config config;
  config.tls_key = "key.pem";
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-tlsKey needs -tlsCert"));
}

TEST(TlsConfigTest, RedirectWithoutTlsIsRefused) {
  Config config;
  config.redirect_http = true;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-redirectHTTP needs -tlsCert"));
  Config with_tls = WithTls();
  with_tls.redirect_http = true;
  EXPECT_EQ(Validate(with_tls), std::nullopt);
}

TEST(TlsConfigTest, TheTlsPortMustDifferFromThePlainPortUnlessBothPickAFreeOne) {
  Config config = WithTls();
  config.port = 8443;
  config.tls_port = 8443;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-tlsPort must differ from -port"));
  config.port = 0;
  config.tls_port = 0;
  EXPECT_EQ(Validate(config), std::nullopt);
}

TEST_F(TlsFlagsTest, TheFlagsFillTheConfig) {
  FlagsResult result = Parse({"-tlsCert", "/etc/c.pem", "-tlsKey=/etc/k.pem", "-tlsPort", "8443",
                              "-redirectHTTP"});
  ASSERT_TRUE(result.config.has_value()) << result.output;
  EXPECT_EQ(result.config->tls_cert, "/etc/c.pem");
  EXPECT_EQ(result.config->tls_key, "/etc/k.pem");
  EXPECT_EQ(result.config->tls_port, 8443);
  EXPECT_TRUE(result.config->redirect_http);
}

TEST_F(TlsFlagsTest, TheTlsPortDefaultsTo443WhenACertificateIsGiven) {
  FlagsResult result = Parse({"-tlsCert", "c.pem", "-tlsKey", "k.pem"});
  ASSERT_TRUE(result.config.has_value()) << result.output;
  EXPECT_EQ(result.config->tls_port, 443);
}

TEST_F(TlsFlagsTest, HalfAPairIsOneLineAndExitTwo) {
  FlagsResult result = Parse({"-tlsCert", "c.pem"});
  EXPECT_FALSE(result.config.has_value());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.output, "-tlsCert needs -tlsKey: give the private key file too\n");
}

TEST_F(TlsFlagsTest, ATlsPortWithoutACertificateOrABadOneIsRefused) {
  FlagsResult alone = Parse({"-tlsPort", "8443"});
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_THAT(alone.output, HasSubstr("-tlsPort needs -tlsCert"));
  FlagsResult bad = Parse({"-tlsCert", "c.pem", "-tlsKey", "k.pem", "-tlsPort", "70000"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("for flag -tlsPort"));
}

TEST_F(TlsFlagsTest, UsageListsTheTlsFlags) {
  std::string usage = Usage("rendezvous-server");
  EXPECT_THAT(usage, HasSubstr("  -tlsCert string\n"));
  EXPECT_THAT(usage, HasSubstr("  -tlsKey string\n"));
  EXPECT_THAT(usage, HasSubstr("  -tlsPort string\n"));
  EXPECT_THAT(usage, HasSubstr("  -redirectHTTP\n"));
}

}  // namespace
}  // namespace rendezvous::app
