// The metrics no single component owns: rendezvous_build_info, the process's start time and open
// file descriptors, and what the storage engine knows about itself (LMDB: map size and commit
// batches; Redis: connections that serve). Registered once at start-up into the server's
// StatsRegistry; every value is read at scrape time, so nothing here runs on the request path.
//
// Thread-safety: call from the starting thread; the callbacks it registers are thread-safe.
#pragma once

#include "common/stats.h"
#include "kv/store.h"

namespace rendezvous::app {

// `store` must outlive every scrape of `stats` (the admin listener stops before the store goes).
void RegisterProcessMetrics(common::StatsRegistry& stats, const kv::Store& store);

}  // namespace rendezvous::app
