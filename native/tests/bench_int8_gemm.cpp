// Kernel-level benchmark of the int8 GEMM (no Node): best-of-N times, so a shared machine's noise
// mostly drops out. Prints GOP/s and % of the measured vpdpbusd peak.
//   build-tests/bench_int8_gemm [threads]   (env: SPARQ_BENCH_SHAPE=MxKxN one shape; SPARQ_BENCH_L2=1 the tile at long K, quantizing A)
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.h"
#include "sparq/int8_gemm.h"
#include "sparq/packed.h"
#include "sparq/peak.h"
#include "sparq/quantize.h"

namespace {

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Best wall time, and best on-CPU time of the calling thread (excludes time the scheduler gave to the
// other processes of a shared machine; meaningful for one thread only).
double cpu_best = 0;
template <class F>
double best_ms(F&& f, int reps) {
  double best = 1e30;
  cpu_best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double c0 = thread_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu_best = std::min(cpu_best, thread_cpu_ms() - c0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const double peak = sparq::measure_peak_gops(sparq::PeakKind::int8_vnni, 200);
  std::printf("vpdpbusd peak %.0f GOP/s per core; threads %d\n", peak, threads);
  // Where the ceiling comes from: ymm at the same rate means the core splits zmm (Zen 4); zmm with an
  // integer add beside each at the same rate means the other pipes' work is free.
  std::printf("  (vpdpbusd ymm %.0f GOP/s; zmm with a vpaddd beside each %.0f GOP/s)\n",
              sparq::measure_peak_gops(sparq::PeakKind::int8_vnni_ymm, 100),
              sparq::measure_peak_gops(sparq::PeakKind::int8_vnni_add, 100));
  // The tile alone (12x32, A packed, the same B slice every call): K = 256 holds everything in L1,
  // the microkernel's ceiling; SPARQ_BENCH_L2 adds longer K, where B's slice (up to 128 KiB at 4096)
  // streams from L2.
  for (int64_t K : {256, 1024, 2048, 4096}) {
    if (K > 256 && !std::getenv("SPARQ_BENCH_L2")) break;
    const auto* k = sparq::int8_gemm_kernels(sparq::Isa::avx512);
    const int64_t kq = K / 4;
    std::vector<uint8_t> a(static_cast<size_t>(12 * K), 3);
    sparq::AlignedBuffer<int8_t> b(static_cast<size_t>(kq * 128));
    std::vector<int32_t> acc(12 * 32);
    sparq::Int8TileArgs t{};
    t.a = a.data();
    t.a_row = 4;
    t.a_quad = 48;
    t.prefetch = nullptr;
    t.b = b.data();
    t.kq = kq;
    t.group = 2;
    t.rows = 12;
    t.cols = 32;
    t.part = acc.data();
    t.ldpart = 32;
    const int calls = static_cast<int>(2000 * 256 / K);
    const double ms = best_ms([&] { for (int i = 0; i < calls; ++i) k->tile(t); }, 20);
    const double gops = 2.0 * 12 * 32 * K * calls / (ms * 1e-3) / 1e9;
    std::printf("%s tile 12x32, K=%lld: %.0f GOP/s (%.0f%% of peak)\n", k->name, (long long)K, gops, 100 * gops / peak);
  }
  if (std::getenv("SPARQ_BENCH_L2")) {
    const int64_t M = 128, K = 4096, lda = sparq::int8_a_stride(K);
    auto x = sparq_test::random_vector(static_cast<size_t>(M * K), 2);
    std::vector<uint8_t> qa(static_cast<size_t>(M * lda));
    std::vector<float> sa(M);
    std::vector<int32_t> za(M);
    const double ms = best_ms([&] { sparq::quantize_rows_u8(sparq::active_isa(), x.data(), M, K, lda, qa.data(), sa.data(), za.data(), false); }, 50);
    std::printf("quantize A 128x4096: %.3f ms\n", ms);
  }
  const int64_t shapes[][3] = {{1, 768, 3072},  {8, 768, 3072},  {32, 768, 3072},  {128, 768, 3072},
                               {1, 3072, 768},  {8, 3072, 768},  {32, 3072, 768},  {128, 3072, 768},
                               {1, 4096, 4096}, {8, 4096, 4096}, {32, 4096, 4096}, {128, 4096, 4096}};
  const char* only = std::getenv("SPARQ_BENCH_SHAPE");  // e.g. 128x4096x4096: that shape alone
  for (const auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    if (only && std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N) != only) continue;
    auto W = sparq_test::random_vector(static_cast<size_t>(K * N), 1);
    auto x = sparq_test::random_vector(static_cast<size_t>(M * K), 2);
    std::vector<float> y(static_cast<size_t>(M * N));
    auto w = sparq::pack_weights("int8", W.data(), K, N, sparq::PackOptions{});
    const double ms = best_ms([&] { w->matmul(x.data(), M, y.data(), sparq::Epilogue{}, threads); }, M * K * N > 100000000 ? 30 : 60);
    const double gops = 2.0 * M * K * N / (ms * 1e-3) / 1e9;
    const double cpu_gops = 2.0 * M * K * N / (cpu_best * 1e-3) / 1e9;
    std::printf("%4lld x %4lld x %4lld: %8.3f ms %6.0f GOP/s %5.1f%% of peak  (%.1f GB/s of weights) | on-CPU %5.1f%% of peak\n",
                (long long)M, (long long)K, (long long)N, ms, gops, 100 * gops / (peak * threads), K * N / (ms * 1e-3) / 1e9,
                100 * cpu_gops / (peak * threads));
  }
  return 0;
}
