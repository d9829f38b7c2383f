// X-TTL: the lifetime a writer asks for its key (POST and PUT).
//
// The value is whole seconds ("90") or a Go duration ("90s", "1h30m", "1.5h", "500ms"), as the
// server's own -expireDuration flag is written. It may only shorten a key's life: a longer one
// is capped at -expireDuration, so the bound on how long data lingers stays the operator's.
//
// Pure function; thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "absl/time/time.h"

namespace rendezvous::http {

// The lifetime for a write with X-TTL value `header` ("" = the header is absent): `max` when
// absent, else the value capped at `max`. nullopt when the value is malformed, zero, negative or
// infinite ("inf" is not a Go duration). A whole number too large for any duration counts as
// longer than `max`.
[[nodiscard]] std::optional<absl::Duration> ParseTtl(std::string_view header, absl::Duration max);

}  // namespace rendezvous::http
