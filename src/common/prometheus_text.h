// Prometheus text exposition (format 0.0.4): what an admin listener's /metrics answers, written
// from a StatsRegistry::Collect() snapshot.
//
// For each family: a `# HELP` line (help text with \ and newline escaped), a `# TYPE` line
// (counter, gauge or histogram), then one line per series; a histogram series becomes its
// cumulative `name_bucket{...,le="B"}` lines (+Inf last), `name_sum` and `name_count`. Label
// values escape \, " and newline as the format requires. Numbers are written as Prometheus reads
// them: integers without a fraction or exponent, other values in the shortest form that reads
// back to the same double, and +Inf, -Inf, NaN by those names. A family without series is
// skipped (a # TYPE line without samples is legal but says nothing).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/stats.h"

namespace rendezvous::common {

// The Content-Type of a format 0.0.4 page.
inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Appends the exposition of `families` to `out`.
void AppendPrometheusText(const std::vector<StatsRegistry::Family>& families, std::string& out);

// `value` as a sample value or `le` bound (see above), e.g. "42", "0.00025", "+Inf".
std::string FormatPrometheusValue(double value);

}  // namespace rendezvous::common
