// Microbenchmarks of signed-key records: what one PUT under /pk/ pays before the store sees it.
//
// The key decoding runs on every /pk/ request (GET too); VerifyRecord (size checks, the BEP44
// message, one ed25519 verification) only on writes, after the rate limit. Records are signed
// here with libsodium, as a client would, with v of 0 and 1000 bytes (the largest allowed): the
// verification hashes the whole message, so its cost grows a little with v.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>

#include "pkarr/record.h"

namespace rendezvous::pkarr {
namespace {

struct Signed {
  PublicKey key{};
  std::string body;
};

Signed MakeRecord(size_t value_bytes) {
  if (sodium_init() < 0) std::abort();
  Signed out;
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key;
  crypto_sign_keypair(out.key.data(), secret_key.data());
  const uint64_t timestamp_us = 1'700'000'000'000'000;
  const std::string v(value_bytes, 'v');
  const std::string message = SignableMessage(timestamp_us, v);
  out.body.resize(crypto_sign_BYTES);
  crypto_sign_detached(reinterpret_cast<unsigned char*>(out.body.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_key.data());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.body.push_back(static_cast<char>((timestamp_us >> shift) & 0xff));
  }
  out.body += v;
  return out;
}

void BM_PkarrDecodePublicKey(benchmark::State& state) {
  const std::string z32 = EncodePublicKey(MakeRecord(0).key);
  PublicKey key;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DecodePublicKey(z32, &key));
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_PkarrDecodePublicKey);

void BM_PkarrVerifyRecord(benchmark::State& state) {
  const Signed record = MakeRecord(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    const Error error = VerifyRecord(record.key, record.body);
    if (error != Error::kOk) state.SkipWithError("record did not verify");
    benchmark::DoNotOptimize(error);
  }
}
BENCHMARK(BM_PkarrVerifyRecord)->Arg(0)->Arg(1000);

// A forged signature costs the same verification: what an attacker can make the server spend
// per paid request.
void BM_PkarrVerifyForgedRecord(benchmark::State& state) {
  Signed record = MakeRecord(1000);
  record.body[0] ^= 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyRecord(record.key, record.body));
  }
}
BENCHMARK(BM_PkarrVerifyForgedRecord);

}  // namespace
}  // namespace rendezvous::pkarr
