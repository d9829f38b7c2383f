// RedisServerProcess: a real redis-server for tests, on a free loopback port in a temporary
// directory, started and stopped by PID.
//
// No persistence (--save '' --appendonly no) unless the test passes its own arguments. Start
// fails (it does not skip) when redis-server is missing: the tests that need it must not pass
// without it.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rendezvous::redis {

class RedisServerProcess {
 public:
  // Starts redis-server with `extra_args` appended and waits until it answers. Returns null and
  // sets `error` when it could not be started.
  static std::unique_ptr<RedisServerProcess> Start(std::vector<std::string> extra_args,
                                                   std::string* error);
  ~RedisServerProcess();  // kills the server and removes the directory

  uint16_t port() const { return port_; }
  const std::string& socket_path() const { return socket_path_; }
  // "redis://127.0.0.1:PORT" plus `suffix` (e.g. "/3").
  std::string Url(const std::string& suffix = "") const;

  void Pause();   // SIGSTOP: the server holds its connections but answers nothing
  void Resume();  // SIGCONT
  void Kill();    // SIGKILL and reap
  // Starts the server again on the same port, directory and arguments. Returns false on failure.
  [[nodiscard]] bool Restart(std::string* error);

 private:
  RedisServerProcess() = default;
  [[nodiscard]] bool Launch(std::string* error);

  std::string dir_;
  std::string socket_path_;
  uint16_t port_ = 0;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

}  // namespace rendezvous::redis
