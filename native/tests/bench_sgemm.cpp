// Strided fp32 GEMM throughput (GFLOP/s, one thread by default) against the pre-packed dense format on
// the same shapes, and attention-shaped batched products. Usage: bench_sgemm [threads]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_timing.h"
#include "check.h"
#include "sparq/packed.h"
#include "sparq/sgemm.h"

using sparq_test::best_seconds;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  struct S {
    int64_t M, N, K;
    bool tb;
  };
  std::printf("%-22s %10s %10s %10s\n", "M x N x K", "sgemm", "dense", "ratio");
  for (S s : {S{128, 3072, 768, false}, S{128, 768, 3072, false}, S{32, 3072, 768, false}, S{128, 128, 64, true},
              S{128, 64, 128, false}}) {
    auto A = sparq_test::random_vector(static_cast<size_t>(s.M * s.K), 1);
    auto B = sparq_test::random_vector(static_cast<size_t>(s.K * s.N), 2);
    std::vector<float> C(static_cast<size_t>(s.M * s.N));
    const double flop = 2.0 * s.M * s.N * s.K;
    const double t1 = best_seconds([&] {
      sparq::sgemm(false, s.tb, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.tb ? s.K : s.N, 0.0f, C.data(), s.N,
                   threads);
    }, 20);
    auto packed = sparq::pack_weights("dense", B.data(), s.K, s.N, {});
    const double t2 = best_seconds([&] { packed->matmul(A.data(), s.M, C.data(), {}, threads); }, 20);
    std::printf("%5lld x %5lld x %5lld%s %8.1f   %8.1f   %8.2f\n", (long long)s.M, (long long)s.N, (long long)s.K,
                s.tb ? "ᵀ" : " ", flop / t1 * 1e-9, flop / t2 * 1e-9, t2 / t1);
  }
  // Attention: 12 heads of Q·Kᵀ (128x128x64) as one strided batch.
  const int64_t H = 12, S = 128, D = 64;
  auto Q = sparq_test::random_vector(static_cast<size_t>(H * S * D), 3);
  std::vector<float> P(static_cast<size_t>(H * S * S));
  const double t = best_seconds([&] {
    sparq::sgemm_strided_batched(false, true, S, S, D, 0.125f, Q.data(), D, S * D, Q.data(), D, S * D, 0.0f, P.data(), S,
                                 S * S, H, threads);
  }, 20);
  std::printf("batched QK^T 12x128x128x64: %.1f GFLOP/s (%.3f ms)\n", 2.0 * H * S * S * D / t * 1e-9, t * 1e3);
  return 0;
}
