// Prometheus text exposition: escaping, number formatting and the per-type sample lines.
#include "common/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rendezvous::common {
namespace {

// HELP text escapes backslash and newline; label values also escape the double quote.
void AppendEscaped(std::string_view text, bool quote, std::string& out) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` with an optional extra `le` label last; nothing when there is no label at all.
void AppendLabels(const std::vector<std::pair<std::string, std::string>>& labels,
                  std::string_view le, std::string& out) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(value, /*quote=*/true, out);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string_view name, std::string_view suffix,
                  const std::vector<std::pair<std::string, std::string>>& labels,
                  std::string_view le, double value, std::string& out) {
  out += name;
  out += suffix;
  AppendLabels(labels, le, out);
  out += ' ';
  out += FormatPrometheusValue(value);
  out += '\n';
}

}  // namespace

std::string FormatPrometheusValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Integral values up to 2^53 are exact in a double: no fraction, no exponent (counters).
  if (value == std::trunc(value) && std::fabs(value) <= 9007199254740992.0) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  // The shortest %g form that reads back to the same double (0.00025, not 0.00025000000000000001).
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

void AppendPrometheusText(const std::vector<StatsRegistry::Family>& families, std::string& out) {
  for (const StatsRegistry::Family& family : families) {
    if (family.series.empty()) continue;
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(family.help, /*quote=*/false, out);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += TypeName(family.type);
    out += '\n';
    for (const StatsRegistry::Series& series : family.series) {
      if (family.type != MetricType::kHistogram) {
        AppendSample(family.name, "", series.labels, "", series.value, out);
        continue;
      }
      const Histogram::Snapshot& histogram = series.histogram;
      for (size_t i = 0; i < histogram.cumulative_counts.size(); ++i) {
        const std::string le = i < histogram.bounds_seconds.size()
                                   ? FormatPrometheusValue(histogram.bounds_seconds[i])
                                   : std::string("+Inf");
        AppendSample(family.name, "_bucket", series.labels, le,
                     static_cast<double>(histogram.cumulative_counts[i]), out);
      }
      AppendSample(family.name, "_sum", series.labels, "", histogram.sum_seconds, out);
      AppendSample(family.name, "_count", series.labels, "", static_cast<double>(histogram.count),
                   out);
    }
  }
}

}  // namespace rendezvous::common
