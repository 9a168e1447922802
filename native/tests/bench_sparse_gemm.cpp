// Kernel-level timing of the sparse formats without Node, for tuning:
//   build-tests/bench_sparse_gemm FORMAT K N M SPARSITY [block] [isa]
// prints the best-of-N on-CPU time of one matmul next to dense fp32 on the same weights (one thread).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "sparq/packed.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s FORMAT K N M SPARSITY [block] [isa]\n", argv[0]);
    return 2;
  }
  const std::string format = argv[1];
  const int64_t K = std::atoll(argv[2]), N = std::atoll(argv[3]), M = std::atoll(argv[4]);
  const double sparsity = std::atof(argv[5]);
  const std::string block = argc > 6 ? argv[6] : "";
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1), u(0, 1);
  std::vector<float> W(static_cast<size_t>(K * N)), x(static_cast<size_t>(M * K)), y(static_cast<size_t>(M * N));
  for (auto& v : x) v = dist(rng);
  // 1x4 block mask when block is "1x4", 2:4 when the format is, else unstructured.
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) W[k * N + n] = dist(rng);
  if (format == "2:4") {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n)
        if ((k + n) % 4 >= 2) W[k * N + n] = 0;
  } else if (block == "1x4") {
    for (int64_t k = 0; k < K; k += 4)
      for (int64_t n = 0; n < N; ++n)
        if (u(rng) < sparsity)
          for (int64_t j = k; j < std::min(K, k + 4); ++j) W[j * N + n] = 0;
  } else {
    for (auto& v : W)
      if (u(rng) < sparsity) v = 0;
  }
  sparq::PackOptions opts;
  if (!block.empty()) opts.strings["block"] = block;
  if (argc > 7) opts.strings["isa"] = argv[7];
  auto w = sparq::pack_weights(format, W.data(), K, N, opts);
  sparq::PackOptions dense_opts;
  if (argc > 7) dense_opts.strings["isa"] = argv[7];
  auto d = sparq::pack_weights("dense", W.data(), K, N, dense_opts);
  auto time = [&](const sparq::PackedWeights& p) {
    double best = 1e30;
    const int reps = M >= 32 ? 30 : 2000;
    // On-CPU time of this thread (the machine is shared: wall time includes other processes' slices).
    auto cpu_us = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
    };
    for (int r = 0; r < reps; ++r) {
      const double t0 = cpu_us();
      p.matmul(x.data(), M, y.data(), {}, 1);
      best = std::min(best, cpu_us() - t0);
    }
    return best;
  };
  const double ts = time(*w), td = std::getenv("NODENSE") ? 1.0 : time(*d);
  std::printf("%s%s%s K=%lld N=%lld M=%lld sparsity=%.2f: %.1f us, dense %.1f us, %.2fx; bytes %.3fx dense\n",
              format.c_str(), block.empty() ? "" : " ", block.c_str(), (long long)K, (long long)N, (long long)M, sparsity,
              ts, td, td / ts, static_cast<double>(w->bytes()) / d->bytes());
  return 0;
}
