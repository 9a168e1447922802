// The tensor-core GEMM shared by the int8 and fp16 kernels (sm_80+ mma.sync):
//   y[M][N] = act(scale_a[m] · scale_b[n] · Σ_k A[m][k] · B[n][k] + bias[n])
// A (activations) and B (weights, W^T) are both K-contiguous, so both tiles are loaded the same way:
// rows of BK_BYTES = 128 bytes (128 int8 or 64 fp16 values of k) into shared memory with cp.async
// (16-byte chunks, zero-filled past K and past the last row), STAGES deep. Chunk c of row r is stored
// at chunk c ^ (r & 7) so the 8 rows an ldmatrix phase reads fall in 8 different bank groups.
// Each warp owns a WM x WN block of the CTA's BM x BN tile and steps through k in 32-byte slices:
// one m16n8k32 s8 mma or one m16n8k16 f16 mma per (16-row, 8-column) pair — both read their
// fragments in the same byte layout, which is why one kernel serves both types.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>

#include "epilogue_device.cuh"
#include "ptx.cuh"

namespace sparq::cuda::detail {

struct OpS8 {
  using Elem = int8_t;
  using Acc = int;
  static constexpr int kElemBytes = 1;
  __device__ __forceinline__ static void mma(Acc (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    ptx::mma_s8_16832(d, a, b0, b1);
  }
};

struct OpF16 {
  using Elem = uint16_t;
  using Acc = float;
  static constexpr int kElemBytes = 2;
  __device__ __forceinline__ static void mma(Acc (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    ptx::mma_f16_16816(d, a, b0, b1);
  }
};

struct MmaGemmParams {
  const void* a; int64_t lda;   // elements
  const void* b; int64_t ldb;
  int M, N, K;
  const float* scale_a;
  const float* scale_b;
  const float* bias;
  int act;
  float* c; int64_t ldc;
};

constexpr int kBkBytes = 128;

template <int BM, int BN, int STAGES>
constexpr int mma_gemm_smem_bytes() {
  return STAGES * (BM + BN) * kBkBytes;
}

// Issues the cp.async copies of one BK slice of a ROWS-row tile (rows row0.., k bytes kb0..).
template <int ROWS, int NT>
__device__ __forceinline__ void load_tile(uint32_t smem, const char* g, int64_t ld_bytes, int rows_valid, int row0,
                                          int64_t kb0, int64_t k_bytes, int tid) {
  constexpr int kChunks = ROWS * (kBkBytes / 16);
  static_assert(kChunks % NT == 0, "tile chunks must divide among the threads");
#pragma unroll
  for (int i = 0; i < kChunks / NT; ++i) {
    const int idx = tid + i * NT;
    const int r = idx >> 3, c = idx & 7;
    const int64_t kb = kb0 + c * 16;
    int bytes = 0;
    const char* src = g;  // any valid address when nothing is read
    if (row0 + r < rows_valid && kb < k_bytes) {
      const int64_t left = k_bytes - kb;
      bytes = left >= 16 ? 16 : static_cast<int>(left);
      src = g + static_cast<int64_t>(row0 + r) * ld_bytes + kb;
    }
    ptx::cp_async_16(smem + r * kBkBytes + ((c ^ (r & 7)) << 4), src, bytes);
  }
}

template <class Op, int BM, int BN, int WM, int WN, int STAGES, int MIN_BLOCKS>
__global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32, MIN_BLOCKS) mma_gemm_kernel(const MmaGemmParams p) {
  using Acc = typename Op::Acc;
  constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  constexpr int NT = kWarpsM * kWarpsN * 32;
  constexpr int kTm = WM / 16, kTn = WN / 8;  // mma tiles per warp
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile must be a multiple of 16x16");

  extern __shared__ __align__(128) unsigned char smem_raw[];
  const uint32_t smem = ptx::smem_addr(smem_raw);
  const uint32_t smem_b = smem + STAGES * BM * kBkBytes;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm0 = (warp / kWarpsN) * WM, wn0 = (warp % kWarpsN) * WN;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int64_t k_bytes = static_cast<int64_t>(p.K) * Op::kElemBytes;
  const int64_t lda_b = p.lda * Op::kElemBytes, ldb_b = p.ldb * Op::kElemBytes;
  const char* ga = static_cast<const char*>(p.a);
  const char* gb = static_cast<const char*>(p.b);
  const int ktiles = static_cast<int>((k_bytes + kBkBytes - 1) / kBkBytes);

  Acc acc[kTm][kTn][4];
#pragma unroll
  for (int i = 0; i < kTm; ++i)
#pragma unroll
    for (int j = 0; j < kTn; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[i][j][v] = Acc(0);

  auto load_stage = [&](int stage, int kt) {
    const int64_t kb0 = static_cast<int64_t>(kt) * kBkBytes;
    load_tile<BM, NT>(smem + stage * BM * kBkBytes, ga, lda_b, p.M, m0, kb0, k_bytes, tid);
    load_tile<BN, NT>(smem_b + stage * BN * kBkBytes, gb, ldb_b, p.N, n0, kb0, k_bytes, tid);
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    ptx::cp_async_commit();
  }

  // Per-lane ldmatrix row/chunk offsets (see the fragment layouts in the file comment).
  const int a_row = lane & 15, a_chunk = lane >> 4;
  const int b_row = (lane & 7) + ((lane >> 4) << 3), b_chunk = (lane >> 3) & 1;

  for (int kt = 0; kt < ktiles; ++kt) {
    ptx::cp_async_wait<STAGES - 2>();
    __syncthreads();
    const int pre = kt + STAGES - 1;
    if (pre < ktiles) load_stage(pre % STAGES, pre);
    ptx::cp_async_commit();

    const int stage = kt % STAGES;
    const uint32_t sa = smem + stage * BM * kBkBytes;
    const uint32_t sb = smem_b + stage * BN * kBkBytes;
#pragma unroll
    for (int ks = 0; ks < kBkBytes / 32; ++ks) {
      uint32_t af[kTm][4];
      uint32_t bf[kTn][2];
#pragma unroll
      for (int i = 0; i < kTm; ++i) {
        const int r = wm0 + i * 16 + a_row;
        const int c = ks * 2 + a_chunk;
        ptx::ldmatrix_x4(af[i], sa + r * kBkBytes + ((c ^ (r & 7)) << 4));
      }
#pragma unroll
      for (int j = 0; j < kTn / 2; ++j) {
        const int r = wn0 + j * 16 + b_row;
        const int c = ks * 2 + b_chunk;
        uint32_t t[4];
        ptx::ldmatrix_x4(t, sb + r * kBkBytes + ((c ^ (r & 7)) << 4));
        bf[2 * j][0] = t[0];
        bf[2 * j][1] = t[1];
        bf[2 * j + 1][0] = t[2];
        bf[2 * j + 1][1] = t[3];
      }
#pragma unroll
      for (int i = 0; i < kTm; ++i)
#pragma unroll
        for (int j = 0; j < kTn; ++j) Op::mma(acc[i][j], af[i], bf[j][0], bf[j][1]);
    }
  }
  ptx::cp_async_wait<0>();

  // Fused epilogue straight from the accumulators: c0,c1 at (row g, cols 2t, 2t+1), c2,c3 at row g+8.
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int i = 0; i < kTm; ++i) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int m = m0 + wm0 + i * 16 + g + h * 8;
      if (m >= p.M) continue;
      const float sa_m = p.scale_a ? p.scale_a[m] : 1.0f;
      float* crow = p.c + static_cast<int64_t>(m) * p.ldc;
#pragma unroll
      for (int j = 0; j < kTn; ++j) {
        const int n = n0 + wn0 + j * 8 + t * 2;
#pragma unroll
        for (int v = 0; v < 2; ++v) {
          if (n + v < p.N) {
            float y = static_cast<float>(acc[i][j][h * 2 + v]);
            if (p.scale_b) y *= sa_m * p.scale_b[n + v];
            else y *= sa_m;
            if (p.bias) y += p.bias[n + v];
            crow[n + v] = apply_act(y, p.act);
          }
        }
      }
    }
  }
}

}  // namespace sparq::cuda::detail
