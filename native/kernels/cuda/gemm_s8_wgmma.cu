// int8 GEMM on Hopper's warpgroup tensor cores (wgmma.mma_async m64n256k32, sm_90a only).
//
// Same contract and epilogue as the mma.sync kernel (gemm_mma.cuh), and the same shared-memory tiles:
// rows of 128 bytes of k with chunk c of row r at c ^ (r & 7) is exactly wgmma's 128-byte-swizzle
// K-major layout, so the cp.async producer is shared and only the consumer changes. CTA tile 128x256
// (so each byte brought from L2 feeds 1.5x the MACs a 128x128 tile gets), two warpgroups of 64x256,
// 4 cp.async stages (192 KiB), one CTA per SM. The MMAs of one stage stay in flight while the next
// stage is issued (wgmma.wait_group 1); the stage refilled at iteration kt is the one read at kt-2,
// which every warpgroup has retired before the barrier of iteration kt.
//
// It is used only where it is proven: the first big int8 GEMM on a compute-capability-9.0 device runs
// a small problem through it and through the mma.sync kernel and keeps wgmma only if the results agree
// exactly (SPARQ_CUDA_WGMMA=0 turns it off). A build without sm_90a code compiles the kernel body away,
// which that check catches as well.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "cuda_check.h"
#include "gemm_launch.h"
#include "gemm_mma.cuh"
#include "sparq/cuda.h"
#include "wgmma.cuh"

namespace sparq::cuda {
namespace detail {
namespace {

constexpr int kBM = 128, kBN = 256, kStages = 4, kThreads = 256;
constexpr int kSmemBytes = kStages * (kBM + kBN) * kBkBytes + 1024;  // + room to align to 1024

__global__ void __launch_bounds__(kThreads, 1) gemm_s8_wgmma_kernel(const MmaGemmParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  const uint32_t smem = (ptx::smem_addr(smem_raw) + 1023u) & ~1023u;  // swizzle atoms are 1024-byte aligned
  const uint32_t smem_b = smem + kStages * kBM * kBkBytes;
  const int tid = threadIdx.x, lane = tid & 31;
  const int wg = tid >> 7, warp_in_wg = (tid >> 5) & 3;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int64_t k_bytes = p.K;
  const char* ga = static_cast<const char*>(p.a);
  const char* gb = static_cast<const char*>(p.b);
  const int ktiles = static_cast<int>((k_bytes + kBkBytes - 1) / kBkBytes);

  int acc[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) acc[i] = 0;

  auto load_stage = [&](int stage, int kt) {
    const int64_t kb0 = static_cast<int64_t>(kt) * kBkBytes;
    load_tile<kBM, kThreads>(smem + stage * kBM * kBkBytes, ga, p.lda, p.M, m0, kb0, k_bytes, tid);
    load_tile<kBN, kThreads>(smem_b + stage * kBN * kBkBytes, gb, p.ldb, p.N, n0, kb0, k_bytes, tid);
  };
  // Prefetch distance kStages - 2: one stage is being multiplied, one may still be in flight.
#pragma unroll
  for (int s = 0; s < kStages - 2; ++s) {
    if (s < ktiles) load_stage(s, s);
    ptx::cp_async_commit();
  }

  for (int kt = 0; kt < ktiles; ++kt) {
    ptx::cp_async_wait<kStages - 3>();
    ptx::fence_proxy_async_shared();
    __syncthreads();
    const int stage = kt % kStages;
    const uint32_t sa = smem + stage * kBM * kBkBytes + wg * 64 * kBkBytes;
    const uint32_t sb = smem_b + stage * kBN * kBkBytes;
    ptx::fence_operands(acc);
    ptx::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kBkBytes / 32; ++ks)
      ptx::wgmma_s8_m64n256k32(acc, ptx::wgmma_desc_sw128(sa + ks * 32), ptx::wgmma_desc_sw128(sb + ks * 32));
    ptx::wgmma_commit();
    ptx::fence_operands(acc);
    const int pre = kt + kStages - 2;  // refills the stage read at kt - 2 (retired before the barrier above)
    if (pre < ktiles) load_stage(pre % kStages, pre);
    ptx::cp_async_commit();
    ptx::wgmma_wait<1>();
    ptx::fence_operands(acc);
  }
  ptx::wgmma_wait<0>();
  ptx::fence_operands(acc);
  ptx::cp_async_wait<0>();

  // Accumulator j*4+v of a thread: row 16·warp + g (+8 for v >= 2), column 8j + 2t + (v & 1).
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int m = m0 + wg * 64 + warp_in_wg * 16 + g + 8 * h;
    if (m >= p.M) continue;
    const float sa_m = p.scale_a ? p.scale_a[m] : 1.0f;
    float* crow = p.c + static_cast<int64_t>(m) * p.ldc;
#pragma unroll
    for (int j = 0; j < 32; ++j)
#pragma unroll
      for (int v = 0; v < 2; ++v) {
        const int n = n0 + 8 * j + 2 * t + v;
        if (n < p.N) {
          float y = static_cast<float>(acc[j * 4 + 2 * h + v]) * (p.scale_b ? sa_m * p.scale_b[n] : sa_m);
          if (p.bias) y += p.bias[n];
          crow[n] = apply_act(y, p.act);
        }
      }
  }
#endif
}

void launch_wgmma(const MmaGemmParams& p, cudaStream_t s) {
  static const cudaError_t attr =
      cudaFuncSetAttribute(gemm_s8_wgmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  check(attr, "cudaFuncSetAttribute(max dynamic shared memory)");
  dim3 grid((p.N + kBN - 1) / kBN, (p.M + kBM - 1) / kBM);
  if (grid.y > 65535) throw invalid_argument("GEMM M too large for one launch: " + std::to_string(p.M));
  gemm_s8_wgmma_kernel<<<grid, kThreads, kSmemBytes, s>>>(p);
  SPARQ_CUDA_CHECK_LAUNCH("gemm_s8_wgmma_kernel launch");
}

// Runs a 200x300x520 problem (edges in every dimension) through both kernels; true if identical.
bool self_test() {
  const int M = 200, N = 300, K = 520, ld = 528;
  std::mt19937 rng(7);
  std::vector<int8_t> a(size_t(M) * ld), b(size_t(N) * ld);
  for (auto& v : a) v = int8_t(int(rng() % 255) - 127);
  for (auto& v : b) v = int8_t(int(rng() % 255) - 127);
  DeviceBuffer da(a.size()), db(b.size()), c1(size_t(M) * N * 4), c2(size_t(M) * N * 4);
  da.upload(a.data(), a.size());
  db.upload(b.data(), b.size());
  // The reference goes through the public mma.sync entry point, so no kernel template is instantiated
  // in two translation units.
  GemmS8Args r;
  r.a = da.as<int8_t>(); r.lda = ld;
  r.b = db.as<int8_t>(); r.ldb = ld;
  r.M = M; r.N = N; r.K = K;
  r.c = c1.as<float>(); r.ldc = N;
  gemm_s8_mma(r, nullptr);
  MmaGemmParams q{da.data(), ld, db.data(), ld, M, N, K, nullptr, nullptr, nullptr, 0, c2.as<float>(), N};
  launch_wgmma(q, nullptr);
  SPARQ_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> r1(size_t(M) * N), r2(size_t(M) * N);
  c1.download(r1.data(), r1.size() * 4);
  c2.download(r2.data(), r2.size() * 4);
  return std::memcmp(r1.data(), r2.data(), r1.size() * 4) == 0;
}

}  // namespace

bool wgmma_s8_usable() {
  static bool usable = false;
  static std::once_flag once;
  std::call_once(once, [] {
    const DeviceInfo& d = device_info();
    const char* env = std::getenv("SPARQ_CUDA_WGMMA");
    if (!d.available || d.cc_major != 9 || d.cc_minor != 0 || (env && std::strcmp(env, "0") == 0)) return;
    try {
      usable = self_test();
    } catch (const std::exception&) {
      usable = false;
    }
  });
  return usable;
}

void launch_gemm_s8_wgmma(const MmaGemmParams& p, cudaStream_t s) { launch_wgmma(p, s); }

}  // namespace detail

bool gemm_s8_wgmma_enabled() { return detail::wgmma_s8_usable(); }

void gemm_s8_wgmma(const GemmS8Args& p, Stream s) {
  detail::check_dims(p.M, p.N, p.K);
  detail::check_operand(p.a, p.lda, p.K, p.M, 16, "A (int8 activations)");
  detail::check_operand(p.b, p.ldb, p.K, p.N, 16, "B (int8 weights)");
  detail::check_operand(p.c, p.ldc, p.N, p.M, 1, "C (output)");
  require_device();
  const DeviceInfo& d = device_info();
  if (d.cc_major != 9 || d.cc_minor != 0)
    throw Error("ERR_CUDA_UNAVAILABLE", "wgmma needs a compute-capability 9.0 GPU (sm_90a); this is " + d.name);
  if (p.M == 0 || p.N == 0) return;
  detail::MmaGemmParams q{p.a, p.lda, p.b, p.ldb, int(p.M), int(p.N), int(p.K),
                          p.scale_a, p.scale_b, p.bias, int(p.act), p.c, p.ldc};
  detail::launch_gemm_s8_wgmma(q, s);
}

}  // namespace sparq::cuda
