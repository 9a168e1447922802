// Load-time cost of packed weights (no Node): best-of-N time of unpack_weights (the bytes a .sparq file
// carries -> a ready handle) against packing the same fp32 weights from scratch.
//   build-tests/bench_unpack
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "sparq/packed.h"
#include "sparq/packed_serialize.h"

using sparq_test::best_seconds;

int main(int argc, char** argv) {
  // `bench_unpack profile`: only LeNet's first layer (sparse-int8, scattered), unpacked for ~3 s (perf).
  const bool profile = argc > 1 && std::string(argv[1]) == "profile";
  struct Case {
    const char* format;
    bool blocks;  // 1x4 blocks along K (else scattered zeros)
  };
  for (const Case c : {Case{"sparse-int8", true}, Case{"sparse-int8", false}, Case{"sparse", false}})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 3072}, {3072, 768}, {784, 300}, {300, 100}}) {
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> dist(-1, 1), u(0, 1);
      std::vector<float> W(static_cast<size_t>(K * N));
      for (auto& v : W) v = dist(rng);
      for (int64_t k0 = 0; k0 < K; k0 += (c.blocks ? 4 : 1))
        for (int64_t n = 0; n < N; ++n)
          if (u(rng) < 0.9)
            for (int64_t k = k0; k < std::min(K, k0 + (c.blocks ? 4 : 1)); ++k) W[static_cast<size_t>(k * N + n)] = 0;
      auto packed = sparq::pack_weights(c.format, W.data(), K, N, sparq::PackOptions{});
      std::vector<uint8_t> bytes;
      if (!packed->serialize(bytes)) continue;
      if (profile) {
        if (c.blocks || K != 784 || std::string(c.format) != "sparse-int8") continue;
        const double ms = 1e3 * best_seconds([&] { sparq::unpack_weights(c.format, bytes.data(), bytes.size(), K, N); }, 100000);
        std::printf("784x300 sparse-int8 scattered: unpack %.4f ms\n", ms);
        return 0;
      }
      const double unpack = 1e3 * best_seconds([&] { sparq::unpack_weights(c.format, bytes.data(), bytes.size(), K, N); }, 200);
      const double pack = 1e3 * best_seconds([&] { sparq::pack_weights(c.format, W.data(), K, N, sparq::PackOptions{}); }, 5);
      std::printf("%-11s %-9s %4lldx%-4lld 90%%: unpack %.3f ms (%zu bytes), pack from fp32 %.3f ms\n", c.format,
                  c.blocks ? "1x4" : "scattered", (long long)K, (long long)N, unpack, bytes.size(), pack);
    }
  // Dense int8 and 2:4 fp32 (a BERT-base FFN layer): unpacking is a copy and a check, against packing.
  for (const char* format : {"int8", "2:4"})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 3072}, {3072, 768}}) {
      if (profile) break;
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> dist(-1, 1);
      std::vector<float> W(static_cast<size_t>(K * N));
      for (auto& v : W) v = dist(rng);
      if (std::string(format) == "2:4")
        for (size_t i = 0; i < W.size(); ++i)
          if ((i / static_cast<size_t>(N)) % 4 >= 2) W[i] = 0;  // k = 2, 3 of every group of 4 pruned
      auto packed = sparq::pack_weights(format, W.data(), K, N, sparq::PackOptions{});
      std::vector<uint8_t> bytes;
      if (!packed->serialize(bytes)) continue;
      const double unpack = 1e3 * best_seconds([&] { sparq::unpack_weights(format, bytes.data(), bytes.size(), K, N); }, 50);
      const double pack = 1e3 * best_seconds([&] { sparq::pack_weights(format, W.data(), K, N, sparq::PackOptions{}); }, 5);
      std::printf("%-11s %-9s %4lldx%-4lld: unpack %.3f ms (%zu bytes, %.1f GB/s), pack from fp32 %.3f ms\n", format, "dense",
                  (long long)K, (long long)N, unpack, bytes.size(), bytes.size() / unpack / 1e6, pack);
    }
  return 0;
}
