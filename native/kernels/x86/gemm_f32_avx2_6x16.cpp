// Dense fp32 GEMM microkernel for AVX2+FMA: 6 rows x 16 columns of accumulators (12 ymm), two panel
// loads and 6 broadcasts per k. Also the M = 1 GEMV over the same 16-column panels.
#include <immintrin.h>

#include "simd_avx2.h"
#include "sparq/gemm_f32.h"
#include "transpose_avx2.h"

namespace sparq {
namespace {

constexpr int kNr = 16;

// NP = 2 panels (16 columns), or 1 for a tile of at most 8 columns: the zero upper half is skipped.
template <int MR, int NP>
void tile_mr(int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
             const Epilogue* ep, int64_t n0) {
  __m256 acc[MR][NP];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 bv[NP];
    for (int j = 0; j < NP; ++j) bv[j] = _mm256_load_ps(b + k * kNr + 8 * j);
    const float* ak = a + k * MR;
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(ak + i);
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  const __m256i mask[2] = {avx2::lanes(cols), avx2::lanes(cols - 8 > 0 ? cols - 8 : 0)};
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < NP; ++j) {
      __m256 v = acc[i][j];
      if (accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(row + 8 * j, mask[j]));
      if (ep) v = avx2::epilogue(v, *ep, n0 + 8 * j, mask[j]);
      _mm256_maskstore_ps(row + 8 * j, mask[j], v);
    }
  }
}

template <int NP>
void tile_np(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
             const Epilogue* ep, int64_t n0) {
  switch (rows) {
    case 1: return tile_mr<1, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 2: return tile_mr<2, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 3: return tile_mr<3, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 4: return tile_mr<4, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 5: return tile_mr<5, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    default: return tile_mr<6, NP>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
  }
}

void tile(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
          const Epilogue* ep, int64_t n0) {
  if (cols <= 8) return tile_np<1>(rows, cols, kc, a, b, c, ldc, accumulate, ep, n0);
  tile_np<2>(rows, cols, kc, a, b, c, ldc, accumulate, ep, n0);
}

void gemv(int64_t K, int cols, const float* x, const float* panel, float* y, const Epilogue& ep, int64_t n0) {
  __m256 s[8];
  for (auto& v : s) v = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const float* p = panel + k * kNr;
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m256 xv = _mm256_broadcast_ss(x + k + u);
      s[2 * u] = _mm256_fmadd_ps(xv, _mm256_load_ps(p + u * kNr), s[2 * u]);
      s[2 * u + 1] = _mm256_fmadd_ps(xv, _mm256_load_ps(p + u * kNr + 8), s[2 * u + 1]);
    }
  }
  for (; k < K; ++k) {
    const __m256 xv = _mm256_broadcast_ss(x + k);
    s[0] = _mm256_fmadd_ps(xv, _mm256_load_ps(panel + k * kNr), s[0]);
    s[1] = _mm256_fmadd_ps(xv, _mm256_load_ps(panel + k * kNr + 8), s[1]);
  }
  __m256 v0 = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[4], s[6]));
  __m256 v1 = _mm256_add_ps(_mm256_add_ps(s[1], s[3]), _mm256_add_ps(s[5], s[7]));
  const __m256i m0 = avx2::lanes(cols), m1 = avx2::lanes(cols - 8 > 0 ? cols - 8 : 0);
  v0 = avx2::epilogue(v0, ep, n0, m0);
  v1 = avx2::epilogue(v1, ep, n0 + 8, m1);
  _mm256_maskstore_ps(y, m0, v0);
  _mm256_maskstore_ps(y + 8, m1, v1);
}

// Blocks of 8 rows x 8 k: the rows' floats (zeros past the block's rows) transposed in registers, then
// the block's rows stored per k.
void pack_a(const float* x, int64_t lda, int rows, int64_t kb, float* dst, int64_t ld) {
  const int64_t k8 = kb / 8 * 8;
  for (int i0 = 0; i0 < rows; i0 += 8) {
    const int block = rows - i0 < 8 ? rows - i0 : 8;
    const __m256i row_mask = avx2::lanes(block);
    const float* src = x + i0 * lda;
    for (int64_t k = 0; k < k8; k += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = i < block ? _mm256_loadu_ps(src + i * lda + k) : _mm256_setzero_ps();
      transpose8x8(r);
      for (int j = 0; j < 8; ++j) _mm256_maskstore_ps(dst + (k + j) * ld + i0, row_mask, r[j]);
    }
  }
  if (k8 < kb) pack_a_f32_portable(x + k8, lda, rows, kb - k8, dst + k8 * ld, ld);
}

}  // namespace

extern const GemmF32Kernels kGemmF32Avx2 = {"avx2_6x16", 6, kNr, tile, gemv, pack_a, nullptr};

}  // namespace sparq
