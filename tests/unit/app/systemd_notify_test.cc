#include "app/systemd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

namespace rendezvous::app {
namespace {

// A datagram socket playing systemd's part, bound to a path in a fresh directory or to an
// abstract name.
class Listener {
 public:
  explicit Listener(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socklen_t size;
    if (abstract) {
      name_ = "@rendezvous-notify-test-" + std::to_string(getpid());
      std::memcpy(address.sun_path, name_.data(), name_.size());
      address.sun_path[0] = '\0';
      size = offsetof(sockaddr_un, sun_path) + name_.size();
    } else {
      std::string pattern = std::filesystem::path(::testing::TempDir()) / "rdv-notify-XXXXXX";
      dir_ = mkdtemp(pattern.data());
      name_ = dir_ + "/notify";
      std::memcpy(address.sun_path, name_.c_str(), name_.size() + 1);
      size = sizeof(address);
    }
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0;
  }
  ~Listener() {
    close(fd_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }

  // The datagram waiting, or "" when none is (never blocks: a unix datagram is queued by the
  // time sendto returns).
  std::string Receive() {
    char buffer[512];
    ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, n) : std::string();
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string dir_;
  std::string name_;
};

TEST(SystemdNotifyTest, SendsTheStateToASocketPath) {
  Listener systemd(/*abstract=*/false);
  ASSERT_TRUE(systemd.bound());
  EXPECT_EQ(Notify(systemd.name(), "READY=1\nSTATUS=listening"), NotifyResult::kSent);
  EXPECT_EQ(systemd.Receive(), "READY=1\nSTATUS=listening");
}

TEST(SystemdNotifyTest, AnAtSignNamesAnAbstractSocket) {
  Listener systemd(/*abstract=*/true);
  ASSERT_TRUE(systemd.bound());
  EXPECT_EQ(Notify(systemd.name(), "STOPPING=1"), NotifyResult::kSent);
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
}

TEST(SystemdNotifyTest, NoSocketNameMeansNotUnderSystemd) {
  EXPECT_EQ(Notify("", "READY=1"), NotifyResult::kNotConfigured);
}

TEST(SystemdNotifyTest, ReadsTheSocketNameFromTheEnvironment) {
  Listener systemd(/*abstract=*/false);
  ASSERT_TRUE(systemd.bound());
  setenv("NOTIFY_SOCKET", systemd.name().c_str(), 1);
  EXPECT_EQ(NotifyFromEnvironment("READY=1"), NotifyResult::kSent);
  unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(NotifyFromEnvironment("READY=1"), NotifyResult::kNotConfigured);
  EXPECT_EQ(systemd.Receive(), "READY=1");
}

TEST(SystemdNotifyTest, RefusesARelativeOrOverlongName) {
  EXPECT_EQ(Notify("notify.sock", "READY=1"), NotifyResult::kBadSocketName);
  EXPECT_EQ(Notify("/" + std::string(sizeof(sockaddr_un::sun_path), 'x'), "READY=1"),
            NotifyResult::kBadSocketName);
}

TEST(SystemdNotifyTest, ReportsASocketNobodyListensOn) {
  EXPECT_EQ(Notify("/nonexistent-dir-rendezvous/notify", "READY=1"), NotifyResult::kSendFailed);
}

}  // namespace
}  // namespace rendezvous::app
