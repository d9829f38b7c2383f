// RedisServerProcess (redis_server_process.h).
#include "redis_server_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"

namespace rendezvous::redis {
namespace {

// A port the kernel just handed out for a socket we closed again: free unless someone races us.
uint16_t PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// True when a PING on `port` gets any reply (a server with a password answers -NOAUTH).
bool Answers(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::write(fd, "PING\r\n", 6) == 6) {
    char buf[64];
    ok = ::read(fd, buf, sizeof(buf)) > 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<RedisServerProcess> RedisServerProcess::Start(std::vector<std::string> extra_args,
                                                              std::string* error) {
  std::unique_ptr<RedisServerProcess> server(new RedisServerProcess());
  std::string pattern = (std::filesystem::temp_directory_path() / "rdv-redis-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  server->dir_ = pattern;
  server->socket_path_ = pattern + "/redis.sock";
  server->extra_args_ = std::move(extra_args);
  server->port_ = PickFreePort();
  if (!server->Launch(error)) return nullptr;
  return server;
}

bool RedisServerProcess::Launch(std::string* error) {
  std::vector<std::string> args = {"redis-server",   "--port",        absl::StrCat(port_),
                                   "--bind",         "127.0.0.1",     "--save",
                                   "",               "--appendonly",  "no",
                                   "--dir",          dir_,            "--unixsocket",
                                   socket_path_,     "--unixsocketperm", "700",
                                   "--loglevel",     "warning",       "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    // Dies with the test binary, even when that crashes or is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  // Polling at start-up of a child process, not in the code under test.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = WIFEXITED(status) && WEXITSTATUS(status) == 127
                   ? "redis-server is not installed (apt-get install redis-server)"
                   : "redis-server exited at start; see " + dir_ + "/redis.log";
      return false;
    }
    if (Answers(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "redis-server did not answer within 20 s";
  Kill();
  return false;
}

RedisServerProcess::~RedisServerProcess() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServerProcess::Url(const std::string& suffix) const {
  return absl::StrCat("redis://127.0.0.1:", port_, suffix);
}

void RedisServerProcess::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServerProcess::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void RedisServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool RedisServerProcess::Restart(std::string* error) {
  Kill();
  return Launch(error);
}

}  // namespace rendezvous::redis
