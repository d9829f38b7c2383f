// The rules of Go's `flag` package on top of Abseil's flag registry: the argv walk, the -h usage
// text and the command-line error messages, for a given list of flag names (app/flags.cc defines
// the flags and passes their names). flags.h documents the syntax this accepts.
//
// absl::ParseCommandLine is not used: its syntax errors exit with status 1, it does not know -h,
// and it keeps reading flags after a positional argument. Instead this walks argv the way Go's
// flag.Parse does and hands each value to Abseil (CommandLineFlag::ParseFrom), so the value
// grammar (ints, bools, durations) is Abseil's own.
//
// Thread-safety: these read and set the process-wide Abseil flag values; call them from one
// thread at a time (as ParseFlags, flags.h).
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "app/flags.h"

namespace rendezvous::app {

// Note: Debian's Abseil has its own absl::string_view, distinct from std::string_view, and its
// string functions take only that; so the flag code uses absl::string_view inside.
using FlagNames = absl::Span<const absl::string_view>;

// Go's flag package exits with 2 on a command-line error.
inline constexpr int kExitUsageError = 2;

// Sets every flag in `names` back to its default, so that a second parse starts clean.
void ResetFlags(FlagNames names);

// Walks argv[1..argc-1] as Go's flag.Parse does, setting the flags in `names` (any other name,
// Abseil's own flags included, is unknown). Returns nullopt when every argument parsed; else what
// ParseFlags returns: the usage after -h, or a usage error (exit 2) with its message.
std::optional<FlagsResult> ParseGoCommandLine(int argc, char** argv, FlagNames names);

// The -h text, as Go prints it: "Usage of <program>:" then every flag in `names`, sorted.
std::string GoUsage(absl::string_view program, FlagNames names);

// A usage error (exit 2) whose output is `message` and a newline.
FlagsResult Failure(std::string message);

// A value inside a message, quoted and escaped as Go's %q would, so that a control byte on the
// command line cannot garble the terminal.
std::string Quote(absl::string_view value);

}  // namespace rendezvous::app
