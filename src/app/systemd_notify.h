// SystemdNotify: tells systemd that the server is ready or stopping (a unit with Type=notify).
//
// The protocol, written here so the server needs no libsystemd: one datagram of "KEY=VALUE"
// lines ("READY=1", "STOPPING=1", "STATUS=...") sent to the AF_UNIX datagram socket named by the
// NOTIFY_SOCKET environment variable. A name starting with '/' is a path; one starting with '@' is
// in Linux's abstract namespace (the '@' stands for the leading NUL byte). Without NOTIFY_SOCKET,
// the server was not started by systemd (or not as Type=notify) and there is nothing to do.
//
// Thread-safety: Notify holds no state and may be called from any thread. NotifyFromEnvironment
// reads the environment, which is unsafe while another thread changes it; the server calls it
// from its main thread only.
#pragma once

#include <string_view>

namespace rendezvous::app {

enum class NotifyResult {
  kSent,           // the datagram was delivered to the socket
  kNotConfigured,  // no socket name: not running under systemd; nothing was sent
  kBadSocketName,  // neither "/path" nor "@name", or longer than a socket address holds
  kSendFailed,     // the socket could not be created, or the send failed (errno tells why)
};

// Sends `state` (e.g. "READY=1") to the socket called `socket_name`, in NOTIFY_SOCKET's syntax.
// Returns at once: a datagram socket does not wait for the reader.
[[nodiscard]] NotifyResult Notify(std::string_view socket_name, std::string_view state);

// Notify to $NOTIFY_SOCKET; kNotConfigured when it is unset or empty.
[[nodiscard]] NotifyResult NotifyFromEnvironment(std::string_view state);

}  // namespace rendezvous::app
