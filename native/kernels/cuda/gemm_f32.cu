// gemm_f32: exact fp32 GEMM on CUDA cores, the fallback for weights kept in fp32 (no tensor cores,
// no alignment requirement). 64x64 tile per 256-thread CTA, 4x4 outputs per thread, k in slices of
// 16 staged in shared memory k-major so the inner loop reads 4 A and 4 B values per 16 FMAs.
#include "cuda_check.h"
#include "epilogue_device.cuh"
#include "gemm_launch.h"
#include "sparq/cuda.h"

namespace sparq::cuda {
namespace {

constexpr int kTile = 64, kSlice = 16;

__global__ void __launch_bounds__(256) gemm_f32_kernel(const GemmF32Args p) {
  __shared__ float as[kSlice][kTile + 4];
  __shared__ float bs[kSlice][kTile + 4];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < p.K; k0 += kSlice) {
    // 64 rows x 16 k of A and of B: 1024 values each, 4 per thread, consecutive threads along k.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + i * 256;
      const int r = idx / kSlice, kk = idx % kSlice;
      const int64_t k = k0 + kk;
      const int64_t m = m0 + r, n = n0 + r;
      as[kk][r] = (m < p.M && k < p.K) ? p.a[m * p.lda + k] : 0.0f;
      bs[kk][r] = (n < p.N && k < p.K) ? p.b[n * p.ldb + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSlice; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n >= p.N) continue;
      float y = acc[i][j];
      if (p.bias) y += p.bias[n];
      p.c[m * p.ldc + n] = detail::apply_act(y, int(p.act));
    }
  }
}

}  // namespace

void gemm_f32(const GemmF32Args& p, Stream s) {
  detail::check_dims(p.M, p.N, p.K);
  detail::check_operand(p.a, p.lda, p.K, p.M, 1, "A (fp32 activations)");
  detail::check_operand(p.b, p.ldb, p.K, p.N, 1, "B (fp32 weights)");
  detail::check_operand(p.c, p.ldc, p.N, p.M, 1, "C (output)");
  if (p.M == 0 || p.N == 0) return;
  require_device();
  dim3 grid(unsigned((p.N + kTile - 1) / kTile), unsigned((p.M + kTile - 1) / kTile));
  if (grid.y > 65535) throw invalid_argument("GEMM M too large for one launch: " + std::to_string(p.M));
  gemm_f32_kernel<<<grid, 256, 0, s>>>(p);
  SPARQ_CUDA_CHECK_LAUNCH("gemm_f32_kernel launch");
}

}  // namespace sparq::cuda
