// Go's flag syntax over Abseil's flag registry (go_flag_syntax.h).
#include "app/go_flag_syntax.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/config.h"

namespace rendezvous::app {
namespace {

enum class Kind { kBool, kInt, kUnsigned, kDuration, kString };

struct Flag {
  absl::CommandLineFlag* flag;
  Kind kind;
};
Kind KindOf(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return Kind::kBool;
  if (flag.IsOfType<uint64_t>()) return Kind::kUnsigned;
  if (flag.IsOfType<absl::Duration>()) return Kind::kDuration;
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) return Kind::kInt;
  // std::string, or a type added later: Abseil still parses the value; only -h calls it "string".
  return Kind::kString;
}

std::optional<Flag> FindFlag(FlagNames names, absl::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return std::nullopt;
  }
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return std::nullopt;
  return Flag{flag, KindOf(*flag)};
}

// Go's name for the value's type in the usage text ("" for bools: they take no value).
absl::string_view TypeName(Kind kind) {
  switch (kind) {
    case Kind::kBool:
      return "";
    case Kind::kInt:
    case Kind::kUnsigned:
      return "int";
    case Kind::kDuration:
      return "duration";
    case Kind::kString:
      return "string";
  }
  return "";
}

// The default as Go's PrintDefaults shows it; empty for the zero value, which Go does not show.
std::string DefaultSuffix(const Flag& flag) {
  std::string value = flag.flag->DefaultValue();
  switch (flag.kind) {
    case Kind::kBool:
      return value == "false" ? "" : absl::StrCat(" (default ", value, ")");
    case Kind::kInt:
    case Kind::kUnsigned:
      return value == "0" ? "" : absl::StrCat(" (default ", value, ")");
    case Kind::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d == absl::ZeroDuration()) return "";
      return absl::StrCat(" (default ", FormatGoDuration(d), ")");
    }
    case Kind::kString:
      return value.empty() ? "" : absl::StrCat(" (default ", Quote(value), ")");
  }
  return "";
}

// Why Abseil refused `value`, in words a user can act on.
std::string BadValueReason(Kind kind, absl::string_view value) {
  bool digits_only = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  switch (kind) {
    case Kind::kInt:
      return digits_only ? "value out of range" : "want a whole number";
    case Kind::kUnsigned:
      return digits_only ? "value out of range" : "want a positive whole number";
    case Kind::kDuration:
      return "want a number with a unit, such as 90s, 1h30m or 1.5h "
             "(units: ns, us, ms, s, m, h)";
    case Kind::kBool:
    case Kind::kString:
      break;
  }
  return "parse error";
}

// Levenshtein distance, ignoring case; only used to suggest a flag for a misspelt one.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
                  absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
std::string UnknownFlagHint(FlagNames names, absl::string_view name, absl::string_view program) {
  absl::string_view best;
  size_t best_distance = SIZE_MAX;
  for (absl::string_view candidate : names) {
    size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // A suggestion must be close relative to the name's length, or "-x" would suggest "-l".
  std::string hint;
  if (best_distance <= 2 && best_distance * 4 <= name.size()) {
    hint = absl::StrCat("Did you mean -", best, "? ");
  }
  return absl::StrCat(hint, "Run '", program, " -h' to list the flags.");
}

FlagsResult FailureWithHint(absl::string_view message, absl::string_view program) {
  return Failure(absl::StrCat(message, "\n", "Run '", program, " -h' to list the flags."));
}

// The deliberate difference from Go: see flags.h.
FlagsResult PositionalArgument(absl::string_view arg, absl::string_view after_bare_bool) {
  if (!after_bare_bool.empty()) {
    return Failure(absl::StrCat("unexpected argument ", Quote(arg), " after -", after_bare_bool,
                                ": a bool flag takes its value after '=', write -", after_bare_bool,
                                "=", arg));
  }
  return Failure(absl::StrCat("unexpected argument ", Quote(arg),
                              ": the server takes only flags, written -name value or "
                              "-name=value"));
}

}  // namespace

std::string Quote(absl::string_view value) {
  return absl::StrCat("\"", absl::CHexEscape(value), "\"");
}
FlagsResult Failure(std::string message) {
  FlagsResult result;
  result.exit_code = kExitUsageError;
  result.output = absl::StrCat(message, "\n");
  return result;
}
void ResetFlags(FlagNames names) {
  for (absl::string_view name : names) {
    if (std::optional<Flag> flag = FindFlag(names, name)) {
      std::string error;
      // Cannot fail: Abseil checks at registration that each default parses back.
      (void)flag->flag->ParseFrom(flag->flag->DefaultValue(), &error);
    }
  }
}

std::string GoUsage(absl::string_view program, FlagNames names) {
  std::vector<absl::string_view> sorted(names.begin(), names.end());
  std::sort(sorted.begin(), sorted.end());
  std::string out = absl::StrCat("Usage of ", program, ":\n");
  for (absl::string_view name : sorted) {
    std::optional<Flag> flag = FindFlag(names, name);
    if (!flag) continue;
    std::string line = absl::StrCat("  -", name);
    if (absl::string_view type = TypeName(flag->kind); !type.empty()) {
      absl::StrAppend(&line, " ", type);
    }
    // Go puts the text of a one-letter bool flag on the same line, every other on the next.
    absl::StrAppend(&line, line.size() <= 4 ? "\t" : "\n    \t", flag->flag->Help(),
                    DefaultSuffix(*flag), "\n");
    out += line;
  }
  return out;
}

std::optional<FlagsResult> ParseGoCommandLine(int argc, char** argv, FlagNames names) {
  absl::string_view program = argc > 0 && argv[0] != nullptr ? argv[0] : "rendezvous-server";
  std::vector<absl::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);

  // The name of a bool flag given without "=value" just before, to explain a following "false".
  absl::string_view bare_bool;
  size_t next = 0;
  while (next < args.size()) {
    absl::string_view arg = args[next++];
    if (arg.size() < 2 || arg[0] != '-') return PositionalArgument(arg, bare_bool);
    bare_bool = {};
    size_t dashes = arg[1] == '-' ? 2 : 1;
    if (arg.size() == 2 && dashes == 2) {  // "--" ends the flags
      if (next < args.size()) return PositionalArgument(args[next], {});
      break;
    }
    absl::string_view name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return FailureWithHint(absl::StrCat("bad flag syntax: ", arg), program);
    }
    std::optional<absl::string_view> value;
    if (size_t equals = name.find('='); equals != absl::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }

    std::optional<Flag> flag = FindFlag(names, name);
    if (!flag) {
      if (name == "h" || name == "help") {
        FlagsResult help;
        help.output = GoUsage(program, names);
        return help;
      }
      return Failure(absl::StrCat("flag provided but not defined: -", name, "\n",
                                  UnknownFlagHint(names, name, program)));
    }

    std::string error;
    if (flag->kind == Kind::kBool) {
      if (!value) bare_bool = flag->flag->Name();
      if (!flag->flag->ParseFrom(value.value_or("true"), &error)) {
        return Failure(absl::StrCat("invalid boolean value ", Quote(*value), " for -", name,
                                    ": want true or false"));
      }
      continue;
    }
    if (!value) {
      if (next == args.size()) {
        return FailureWithHint(absl::StrCat("flag needs an argument: -", name), program);
      }
      value = args[next++];  // whatever it is, as Go does: "-maxRequests -1" sets -1
    }
    if (!flag->flag->ParseFrom(*value, &error)) {
      return Failure(absl::StrCat("invalid value ", Quote(*value), " for flag -", name, ": ",
                                  BadValueReason(flag->kind, *value)));
    }
  }
  return std::nullopt;
}

}  // namespace rendezvous::app
