// bench_cuda: sparq's CUDA kernels on the shapes issue #9 asks about, timed with CUDA events (median
// of 5 batches after a warm-up). Prints a table and machine-readable lines
//   RESULT <name> <ms per call> <TOPS, dense-equivalent>
// that scripts/gpu-check.sh combines with PyTorch's peers (cuBLASLt int8, 2:4 semi-structured).
//   bench_cuda [--quick] [SECTION]   --quick: 4096 only (skips 8192^3)
//   SECTION: int8 (mma.sync) | wgmma (Hopper, after its self-test) | 2:4 | f16 | spmm; default all.
//   gpu-check.sh runs each section in a process of its own, so a fault in one loses only its figures.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "sparq/cuda.h"

namespace cu = sparq::cuda;

namespace {

struct Rng {
  uint64_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 11);
  }
};

std::vector<int8_t> random_s8(size_t n, uint64_t seed) {
  Rng r{seed * 0x9E3779B97F4A7C15ull + 1};
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(int(r.next() % 255) - 127);
  return v;
}

std::vector<uint16_t> random_f16(size_t n, uint64_t seed) {
  Rng r{seed * 0x9E3779B97F4A7C15ull + 7};
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = cu::float_to_half((int(r.next() % 2001) - 1000) * 0.001f);
  return v;
}

template <class T>
cu::DeviceBuffer upload(const std::vector<T>& v) {
  cu::DeviceBuffer b(v.size() * sizeof(T));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

void check(cudaError_t e) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(e));
    std::exit(1);
  }
}

// Median ms per call over 5 batches; each batch runs long enough (~20 ms) to dwarf event overhead.
double time_ms(const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cu::synchronize();
  cudaEvent_t a, b;
  check(cudaEventCreate(&a));
  check(cudaEventCreate(&b));
  check(cudaEventRecord(a));
  fn();
  check(cudaEventRecord(b));
  check(cudaEventSynchronize(b));
  float one = 0;
  check(cudaEventElapsedTime(&one, a, b));
  const int iters = std::max(1, std::min(1000, static_cast<int>(20.0 / std::max(one, 0.001f))));
  std::vector<double> per;
  for (int r = 0; r < 5; ++r) {
    check(cudaEventRecord(a));
    for (int i = 0; i < iters; ++i) fn();
    check(cudaEventRecord(b));
    check(cudaEventSynchronize(b));
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b));
    per.push_back(ms / iters);
  }
  cu::synchronize();
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(per.begin(), per.end());
  return per[2];
}

void report(const std::string& name, double ms, double macs) {
  const double tops = 2.0 * macs / (ms * 1e-3) / 1e12;
  std::printf("%-34s %10.4f ms %10.1f TOPS\n", name.c_str(), ms, tops);
  std::printf("RESULT %s %.6f %.3f\n", name.c_str(), ms, tops);
  std::fflush(stdout);
}

// One section of the dense shapes: "int8" (mma.sync), "wgmma", "2:4" or "f16".
void bench_dense(int64_t S, const std::string& section) {
  const std::string tag = std::to_string(S);
  const double macs = double(S) * S * S;
  cu::DeviceBuffer dy(S * S * 4);
  if (section == "f16") {
    auto xh = random_f16(S * S, 3), wh = random_f16(S * S, 4);
    auto dxh = upload(xh), dwh = upload(wh);
    cu::GemmF16Args f;
    f.a = dxh.as<uint16_t>(); f.lda = S;
    f.b = dwh.as<uint16_t>(); f.ldb = S;
    f.M = f.N = f.K = S;
    f.c = dy.as<float>(); f.ldc = S;
    report("f16_dense_" + tag, time_ms([&] { cu::gemm_f16(f); }), macs);
    return;
  }
  auto x8 = random_s8(S * S, 1), w8 = random_s8(S * S, 2);
  auto dx = upload(x8);
  std::vector<float> scales(S, 0.01f);
  auto dsa = upload(scales), dsb = upload(scales);
  if (section == "2:4") {
    // The same x, W^T pruned to 2 of every 4 k.
    cu::prune_2to4_s8(w8.data(), S, S);
    cu::Sparse24S8 w24 = cu::upload_2to4_s8(w8.data(), S, S);
    cu::Gemm2to4Args q;
    q.w = &w24;
    q.x = dx.as<int8_t>(); q.ldx = S;
    q.M = S;
    q.scale_x = dsa.as<float>(); q.scale_w = dsb.as<float>();
    q.y = dy.as<float>(); q.ldy = S;
    std::printf("  (2:4 metadata lane layout found by the probe: %d)\n", cu::sparse24_meta_layout());
    report("int8_2to4_" + tag, time_ms([&] { cu::gemm_2to4_s8(q); }), macs);
    return;
  }
  auto dw = upload(w8);
  cu::GemmS8Args p;
  p.a = dx.as<int8_t>(); p.lda = S;
  p.b = dw.as<int8_t>(); p.ldb = S;
  p.M = p.N = p.K = S;
  p.scale_a = dsa.as<float>(); p.scale_b = dsb.as<float>();
  p.c = dy.as<float>(); p.ldc = S;
  if (section == "wgmma") {
    // Timed only once its self-test has matched the mma.sync kernel.
    if (!cu::gemm_s8_wgmma_enabled()) {
      std::printf("  wgmma int8 at %lld^3: not timed (not sm_90, disabled, or its self-test failed)\n", (long long)S);
      return;
    }
    report("int8_dense_wgmma_" + tag, time_ms([&] { cu::gemm_s8_wgmma(p); }), macs);
    return;
  }
  report("int8_dense_mma_sync_" + tag, time_ms([&] { cu::gemm_s8_mma(p); }), macs);
}

void bench_spmm() {
  const int64_t K = 4096, N = 4096;
  // W^T at 90% unstructured sparsity, and with 1x4 blocks at 90% block sparsity.
  Rng r{42};
  std::vector<float> w1(N * K, 0.0f), w4(N * K, 0.0f), wd(N * K);
  for (size_t i = 0; i < w1.size(); ++i) {
    const float v = (int(r.next() % 2001) - 1000) * 0.001f;
    wd[i] = v;
    if (r.next() % 10 == 0) w1[i] = v;
  }
  for (size_t i = 0; i < w4.size(); i += 4)
    if (r.next() % 10 == 0)
      for (int j = 0; j < 4; ++j) w4[i + j] = wd[i + j];
  cu::SparseF16 s1 = cu::upload_sparse_f16(w1.data(), N, K, 1);
  cu::SparseF16 s4 = cu::upload_sparse_f16(w4.data(), N, K, 4);
  std::vector<uint16_t> wdh(N * K);
  for (size_t i = 0; i < wd.size(); ++i) wdh[i] = cu::float_to_half(wd[i]);
  auto dwd = upload(wdh);
  std::printf("  sparse weights: %.1f MB unstructured, %.1f MB 1x4 blocks, %.1f MB dense fp16\n", s1.bytes() / 1e6,
              s4.bytes() / 1e6, dwd.bytes() / 1e6);
  for (int64_t M : {1, 16, 128}) {
    const std::string tag = "M" + std::to_string(M);
    auto xh = random_f16(M * K, 5);
    auto dx = upload(xh);
    cu::DeviceBuffer dy(M * N * 4);
    cu::GemmF16Args f;
    f.a = dx.as<uint16_t>(); f.lda = K;
    f.b = dwd.as<uint16_t>(); f.ldb = K;
    f.M = M; f.N = N; f.K = K;
    f.c = dy.as<float>(); f.ldc = N;
    const double macs = double(M) * N * K;
    const double dense_ms = time_ms([&] { cu::gemm_f16(f); });
    report("f16_dense_4096_" + tag, dense_ms, macs);
    for (int block : {1, 4}) {
      cu::SpmmF16Args p;
      p.w = block == 1 ? &s1 : &s4;
      p.x = dx.as<uint16_t>(); p.ldx = K;
      p.M = M;
      p.y = dy.as<float>(); p.ldy = N;
      const double ms = time_ms([&] { cu::spmm_f16(p); });
      const std::string name = std::string(block == 1 ? "spmm90_unstructured_4096_" : "spmm90_block1x4_4096_") + tag;
      report(name, ms, macs);
      std::printf("  %s speedup over our dense fp16: %.2fx%s\n", name.c_str(), dense_ms / ms,
                  block == 1 && M <= 16 ? " (target >= 1.5x)" : "");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string section = "all";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else section = argv[i];
  }
  const std::vector<std::string> sections = {"int8", "wgmma", "2:4", "f16", "spmm"};
  if (section != "all" && std::find(sections.begin(), sections.end(), section) == sections.end()) {
    std::fprintf(stderr, "usage: bench_cuda [--quick] [int8|wgmma|2:4|f16|spmm]\n");
    return 2;
  }
  const auto& d = cu::device_info();
  if (!d.available) {
    std::printf("skipped: no CUDA device (%s)\n", d.reason.c_str());
    return 0;
  }
  std::printf("sparq CUDA benchmark on %s (%d SMs, sm_%d%d): %s\n", d.name.c_str(), d.sms, d.cc_major, d.cc_minor,
              section.c_str());
  try {
    for (const std::string& sec : sections) {
      if (section != "all" && section != sec) continue;
      if (sec == "spmm") {
        bench_spmm();
        continue;
      }
      bench_dense(4096, sec);
      if (!quick) bench_dense(8192, sec);
    }
  } catch (const std::exception& e) {
    std::printf("benchmark failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
