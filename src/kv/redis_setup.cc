// The Redis engine's start-up checks and blocking calls (redis_setup.h).
#include "kv/redis_setup.h"

#include <cstdio>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace rendezvous::kv {
namespace {

using redis::CommandError;
using redis::Reply;

// The key layout's version, stored in <prefix>format. A change to the layout that old servers
// would misread must change it.
constexpr char kFormat[] = "1";

// Glob-escapes `text` for SCAN MATCH.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// One command, waited for. Start-up, sweeps and Size only: never on the request path. Always on
// a shared connection: a worker's thread that waits here could not read its own connection.
Reply CallSync(redis::Client& client, std::vector<std::string_view> args, CommandError* error) {
  std::promise<std::pair<CommandError, Reply>> promise;
  auto future = promise.get_future();
  client.SharedCommand(args, [&promise](CommandError e, const Reply& r) {
    promise.set_value({e, r});
  });
  auto [e, reply] = future.get();
  *error = e;
  return reply;
}

bool VersionAtLeast62(const std::string& info, std::string* version) {
  size_t at = info.find("redis_version:");
  if (at == std::string::npos) return false;
  size_t end = info.find_first_of("\r\n", at);
  *version = info.substr(at + 14, end - at - 14);
  int major = 0;
  int minor = 0;
  if (std::sscanf(version->c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 2);
}

// Durability is the Redis server's: say so at start when its settings lose acknowledged writes
// on a crash (no AOF) or, with -syncWrites, on power loss (AOF without appendfsync always).
// Managed services often disable CONFIG; then nothing can be checked and nothing is said.
void WarnAboutDurability(redis::Client& client, bool sync_writes, const std::string& where) {
  CommandError e = CommandError::kOk;
  Reply aof = CallSync(client, {"CONFIG", "GET", "appendonly"}, &e);
  if (e != CommandError::kOk || aof.type != Reply::Type::kArray || aof.elements.size() != 2) return;
  if (aof.elements[1].str != "yes") {
    common::LogWarning(absl::StrCat("redis at ", where,
                                    " has appendonly no: a crash of redis-server loses the writes "
                                    "since its last snapshot (set appendonly yes)"));
    return;
  }
  Reply fsync = CallSync(client, {"CONFIG", "GET", "appendfsync"}, &e);
  if (sync_writes && e == CommandError::kOk && fsync.type == Reply::Type::kArray &&
      fsync.elements.size() == 2 && fsync.elements[1].str != "always") {
    common::LogWarning(absl::StrCat("-syncWrites: redis at ", where, " has appendfsync ",
                                    fsync.elements[1].str,
                                    ", so a power loss can lose acknowledged writes "
                                    "(set appendfsync always)"));
  }
}

std::string ClaimPrefix(redis::Client& client, const std::string& prefix,
                        const std::string& where) {
  const std::string format_key = prefix + "format";
  CommandError e = CommandError::kOk;
  auto check_marker = [&](bool* ours) -> std::string {
    Reply marker = CallSync(client, {"GET", format_key}, &e);
    *ours = false;
    if (e != CommandError::kOk || marker.IsError()) {
      return absl::StrCat("redis at ", where, " did not answer GET ", format_key);
    }
    if (marker.type == Reply::Type::kNil) return "";
    if (marker.type == Reply::Type::kString && marker.str == kFormat) {
      *ours = true;
      return "";
    }
    return absl::StrCat("redis at ", where, ": ", format_key, " is ",
                        common::EscapeForLog(marker.str, 40), ", this server writes format ",
                        kFormat, "; refusing to touch the keys under \"", prefix, "\"");
  };
  bool ours = false;
  if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
  // No marker: the prefix must be empty. SCAN walks the whole keyspace once, at first start only.
  const std::string pattern = GlobEscape(prefix) + "*";
  std::string cursor = "0";
  do {
    Reply page = CallSync(client, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, &e);
    if (e != CommandError::kOk || page.type != Reply::Type::kArray || page.elements.size() != 2) {
      return absl::StrCat("redis at ", where, " did not answer SCAN");
    }
    cursor = page.elements[0].str;
    for (const Reply& key : page.elements[1].elements) {
      if (key.str == format_key) continue;
      // Another server may have claimed the prefix since our GET.
      if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
      return absl::StrCat("redis at ", where, " holds keys under \"", prefix,
                          "\" that this server did not write (such as ",
                          common::EscapeForLog(key.str, 80),
                          "); use another database (redis://host:port/N) or remove them");
    }
  } while (cursor != "0");
  (void)CallSync(client, {"SET", format_key, kFormat, "NX"}, &e);
  if (std::string error = check_marker(&ours); !error.empty() || ours) return error;
  return absl::StrCat("redis at ", where, " did not keep ", format_key);
}

}  // namespace rendezvous::kv
