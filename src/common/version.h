// Version: the server's version string, fixed when the binary is built.
//
// The text comes from `git describe` at build time (cmake/version.cmake): "0.1.0-48-gabc1234"
// is 48 commits into the project at commit abc1234, a "-dirty" suffix marks a build of uncommitted
// changes, and a build outside a git checkout says the project version alone ("0.1.0").
// Packagers may fix it with -DRDV_VERSION=... . It is compiled into its own small library
// (rdv_version) so that a new commit relinks only the binaries that print it.
//
// Thread-safety: Version returns a view of a constant string; call it from any thread.
#pragma once

#include <string_view>

namespace rendezvous::common {

// The version, e.g. "0.1.0-48-gabc1234"; never empty, one line, printable ASCII.
std::string_view Version();

}  // namespace rendezvous::common
