// The Redis engine's blocking commands (kv/redis_store.h): the checks RedisStore::Open runs at
// start (the server's version, its durability settings, the claim of the key prefix) and the one
// call that waits for a reply, which Open, SweepExpired and Size use. Never on the request path.
//
// Thread-safety: may be called from any thread but the Redis client's own and the HTTP workers
// attached to it (a thread that waits here must not be the one that reads the reply); every call
// goes through a shared connection of the client.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "redis/client.h"

namespace rendezvous::kv {

// One command on a shared connection, waited for; `error` receives its outcome.
redis::Reply CallSync(redis::Client& client, std::vector<std::string_view> args,
                      redis::CommandError* error);

// "redis_version:7.0.15" in INFO's text -> true when at least 6.2 (ZADD GT, GETDEL, ...);
// `version` receives the version as written ("" when INFO has none).
bool VersionAtLeast62(const std::string& info, std::string* version);

// Logs a warning when Redis's settings lose acknowledged writes on a crash (no AOF) or, with
// `sync_writes`, on power loss (AOF without appendfsync always). `where` names the server in the
// line. Silent when CONFIG is refused (managed services).
void WarnAboutDurability(redis::Client& client, bool sync_writes, const std::string& where);

// Makes sure the keys under `prefix` are ours: `<prefix>format` holds this server's layout
// version, or nothing at all is under the prefix yet (then the marker is set). Anything else is
// another program's data (or a future format) that our scripts would corrupt, so the start is
// refused. Returns "" or the reason, one line naming `where`.
std::string ClaimPrefix(redis::Client& client, const std::string& prefix, const std::string& where);

}  // namespace rendezvous::kv
