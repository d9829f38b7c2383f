// rdv-lmdb-fill: writes N entries into an LMDB data file through kv::LmdbStore, the way the
// server would store them, so bench/run.sh can time a restart over 100 000 or 1 000 000 entries
// without sending a million HTTP requests.
//
//   rdv-lmdb-fill PATH COUNT VALUE_BYTES MAX_ENTRIES [KEY_PREFIX]
//
// Keys are KEY_PREFIX (default "bench/f") followed by the index 0..COUNT-1 in decimal, as a
// POST to /<KEY_PREFIX><i> would store them; values are VALUE_BYTES bytes; entries expire two
// hours from now (the server's default -expireDuration). MAX_ENTRIES must be what the server
// will be started with (-maxNumKV): with the size limits it sets the map bound. Prints one line
// with the rate; exits 1 if the store cannot be opened or any write fails.
#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kv/lmdb_store.h"

namespace {

using rendezvous::kv::LmdbStore;
using rendezvous::kv::PutRequest;
using rendezvous::kv::Status;
using rendezvous::kv::WriteResult;

// Writes queued but not yet committed, at most: enough for the writer's largest batch, small
// enough that the queue's copies of the values stay a few megabytes.
constexpr size_t kWindow = 2048;

bool ParseSize(std::string_view text, size_t* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

int Usage() {
  std::fputs("usage: rdv-lmdb-fill PATH COUNT VALUE_BYTES MAX_ENTRIES [KEY_PREFIX]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return Usage();
  size_t count = 0, value_bytes = 0, max_entries = 0;
  if (!ParseSize(argv[2], &count) || !ParseSize(argv[3], &value_bytes) ||
      !ParseSize(argv[4], &max_entries)) {
    return Usage();
  }
  const std::string prefix = argc == 6 ? argv[5] : "bench/f";

  LmdbStore::Options options;
  options.path = argv[1];
  options.max_entries = max_entries;
  options.max_value_bytes = std::max<size_t>(options.max_value_bytes, value_bytes);
  std::string error;
  const absl::Time start = absl::Now();
  std::unique_ptr<LmdbStore> store = LmdbStore::Open(options, &error);
  if (store == nullptr) {
    std::fprintf(stderr, "rdv-lmdb-fill: %s\n", error.c_str());
    return 1;
  }

  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  size_t failed = 0;
  Status first_failure = Status::kOk;
  const std::string value(value_bytes, 'f');
  std::string key;
  for (size_t i = 0; i < count; ++i) {
    key = prefix + std::to_string(i);
    const absl::Time now = absl::Now();
    PutRequest request;
    request.key = key;
    request.value = value;
    request.now = now;
    request.expires_at = now + absl::Hours(2);
    store->Put(request, [&](const WriteResult& result) {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (result.status != Status::kOk && failed++ == 0) first_failure = result.status;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done + kWindow > i; });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == count; });
  }
  const size_t size = store->Size();
  store.reset();  // completes, fsyncs and closes the file
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (failed != 0) {
    std::fprintf(stderr, "rdv-lmdb-fill: %zu of %zu writes failed (first: status %d)\n", failed,
                 count, static_cast<int>(first_failure));
    return 1;
  }
  std::printf("filled %zu entries (%zu held) of %zu-byte values in %.2f s (%.0f puts/s)\n", count,
              size, value_bytes, seconds, static_cast<double>(count) / seconds);
  return 0;
}
