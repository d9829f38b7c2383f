// Flags: reads the command line into a validated Config, with the original Go server's syntax.
//
// Every flag is defined (ABSL_FLAG) in flags.cc and nowhere else; Abseil parses each value
// (ints, bools, Go-style durations such as 90s, 1h30m, 1.5h), while go_flag_syntax.cc supplies
// the rules of Go's `flag` package that Abseil lacks, so that a command line written for the
// original keeps working and fails the same way:
//   -name value, -name=value, --name value, --name=value; a bool flag alone means true and takes
//   its value only after '=' (-disableLocalIPWaring=false); "--" ends the flags;
//   -h, -help, --help print the usage (as Go's, flags sorted, with types and defaults): exit 0;
//   -version prints "rendezvous-server <version>" once every flag has parsed: exit 0;
//   an unknown flag, a malformed value, or a flag missing its value: one line, exit 2;
//   a setting that cannot work (-maxRequests 2, a zero duration, ...; see Validate): exit 2.
// Deliberate difference from Go: a positional argument is refused (exit 2) instead of silently
// ending flag parsing. The server takes none, and in Go `-disableLocalIPWaring false` turns the
// flag *on* and ignores every flag after it; here it is an error that says to write
// -disableLocalIPWaring=false.
//
// Thread-safety: ParseFlags resets and sets the process-wide Abseil flag values, so call it from
// one thread at a time (main, before any thread starts; tests, one test at a time).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "app/config.h"

namespace rendezvous::app {

struct FlagsResult {
  // Set when the server should start; then exit_code is 0 and output is empty.
  std::optional<Config> config;
  // When config is empty, the process's exit status: 0 after -h or -version, 2 for any
  // command-line error.
  int exit_code = 0;
  // When config is empty, the text to print, ending in a newline: the usage or the version (for
  // stdout) when exit_code is 0, otherwise the error (for stderr).
  std::string output;
};

// Parses argv[1..argc-1]; argv[0] names the program in the usage text. Every flag is first reset
// to its default, so repeated calls do not see each other's values. Never exits the process.
[[nodiscard]] FlagsResult ParseFlags(int argc, char** argv);

// The -h text, as Go prints it: "Usage of <program>:" then every flag, sorted by name.
std::string Usage(std::string_view program);

}  // namespace rendezvous::app
