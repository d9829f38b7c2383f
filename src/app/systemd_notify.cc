#include "app/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace rendezvous::app {

NotifyResult Notify(std::string_view socket_name, std::string_view state) {
  if (socket_name.empty()) return NotifyResult::kNotConfigured;
  if (socket_name[0] != '/' && socket_name[0] != '@') return NotifyResult::kBadSocketName;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // A path needs room for its terminating NUL; an abstract name is counted by length instead.
  size_t room = sizeof(address.sun_path) - (socket_name[0] == '/' ? 1 : 0);
  if (socket_name.size() > room) return NotifyResult::kBadSocketName;
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  socklen_t address_size = offsetof(sockaddr_un, sun_path) + socket_name.size();
  if (socket_name[0] == '@') address.sun_path[0] = '\0';

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return NotifyResult::kSendFailed;
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address), address_size);
  close(fd);
  return sent == static_cast<ssize_t>(state.size()) ? NotifyResult::kSent
                                                    : NotifyResult::kSendFailed;
}

NotifyResult NotifyFromEnvironment(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr) return NotifyResult::kNotConfigured;
  return Notify(socket_name, state);
}

}  // namespace rendezvous::app
