// Dense fp32 GEMM microkernel for AVX-512: 12 rows x 32 columns of accumulators (24 zmm), two panel
// loads and 12 broadcasts per k. Also the M = 1 GEMV over the same 32-column panels.
#include <immintrin.h>

#include "simd_avx512.h"
#include "sparq/gemm_f32.h"
#include "transpose_avx512.h"

namespace sparq {
namespace {

constexpr int kNr = 32;

// NP = 2 panels (32 columns), or 1 for a tile of at most 16 columns (the tail of N = 100, 300, ... and
// N <= 16 heads): the panel's zero upper half is neither read nor multiplied, halving that tile's cost.
// A packed (lda = 0: MR floats per k, rows interleaved) or read in place (lda > 0: row-major).
template <int MR, int NP>
void tile_mr(int cols, int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, bool accumulate,
             const Epilogue* ep, int64_t n0) {
  __m512 acc[MR][NP];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  const int64_t row_step = lda > 0 ? lda : 1, k_step = lda > 0 ? 1 : MR;
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NP];
    for (int j = 0; j < NP; ++j) bv[j] = _mm512_load_ps(b + k * kNr + 16 * j);
    const float* ak = a + k * k_step;
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(ak[i * row_step]);
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  const __mmask16 mask[2] = {avx512::lanes(cols), avx512::lanes(cols - 16 > 0 ? cols - 16 : 0)};
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < NP; ++j) {
      __m512 v = acc[i][j];
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], row + 16 * j));
      if (ep) v = avx512::epilogue(v, *ep, n0 + 16 * j, mask[j]);
      _mm512_mask_storeu_ps(row + 16 * j, mask[j], v);
    }
  }
}

template <int NP>
void tile_np(int rows, int cols, int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
             bool accumulate, const Epilogue* ep, int64_t n0) {
  switch (rows) {
    case 1: return tile_mr<1, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 2: return tile_mr<2, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 3: return tile_mr<3, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 4: return tile_mr<4, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 5: return tile_mr<5, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 6: return tile_mr<6, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 7: return tile_mr<7, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 8: return tile_mr<8, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 9: return tile_mr<9, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 10: return tile_mr<10, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    case 11: return tile_mr<11, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
    default: return tile_mr<12, NP>(cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
  }
}

void tile(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
          const Epilogue* ep, int64_t n0) {
  if (cols <= 16) return tile_np<1>(rows, cols, kc, a, 0, b, c, ldc, accumulate, ep, n0);
  tile_np<2>(rows, cols, kc, a, 0, b, c, ldc, accumulate, ep, n0);
}

// The same with A read in place (row-major, lda floats a row).
void tile_a(int rows, int cols, int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
            bool accumulate, const Epilogue* ep, int64_t n0) {
  if (cols <= 16) return tile_np<1>(rows, cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
  tile_np<2>(rows, cols, kc, a, lda, b, c, ldc, accumulate, ep, n0);
}

// One panel, whole K: 4 k-steps in flight (8 independent accumulators) to cover the FMA latency;
// the loop is bound by reading the panel, so it streams it once.
void gemv(int64_t K, int cols, const float* x, const float* panel, float* y, const Epilogue& ep, int64_t n0) {
  __m512 s[8];
  for (auto& v : s) v = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const float* p = panel + k * kNr;
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512 xv = _mm512_set1_ps(x[k + u]);
      s[2 * u] = _mm512_fmadd_ps(xv, _mm512_load_ps(p + u * kNr), s[2 * u]);
      s[2 * u + 1] = _mm512_fmadd_ps(xv, _mm512_load_ps(p + u * kNr + 16), s[2 * u + 1]);
    }
  }
  for (; k < K; ++k) {
    const __m512 xv = _mm512_set1_ps(x[k]);
    s[0] = _mm512_fmadd_ps(xv, _mm512_load_ps(panel + k * kNr), s[0]);
    s[1] = _mm512_fmadd_ps(xv, _mm512_load_ps(panel + k * kNr + 16), s[1]);
  }
  __m512 v0 = _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[4], s[6]));
  __m512 v1 = _mm512_add_ps(_mm512_add_ps(s[1], s[3]), _mm512_add_ps(s[5], s[7]));
  const __mmask16 m0 = avx512::lanes(cols), m1 = avx512::lanes(cols - 16 > 0 ? cols - 16 : 0);
  v0 = avx512::epilogue(v0, ep, n0, m0);
  v1 = avx512::epilogue(v1, ep, n0 + 16, m1);
  _mm512_mask_storeu_ps(y, m0, v0);
  _mm512_mask_storeu_ps(y + 16, m1, v1);
}

// Blocks of 16 rows x 16 k: the rows' floats (zeros past the block's rows) transposed in registers,
// then the block's rows stored per k.
void pack_a(const float* x, int64_t lda, int rows, int64_t kb, float* dst, int64_t ld) {
  const int64_t k16 = kb / 16 * 16;
  for (int i0 = 0; i0 < rows; i0 += 16) {
    const int block = rows - i0 < 16 ? rows - i0 : 16;
    const __mmask16 row_mask = avx512::lanes(block);
    const float* src = x + i0 * lda;
    for (int64_t k = 0; k < k16; k += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = i < block ? _mm512_loadu_ps(src + i * lda + k) : _mm512_setzero_ps();
      transpose16x16(r);
      for (int j = 0; j < 16; ++j) _mm512_mask_storeu_ps(dst + (k + j) * ld + i0, row_mask, r[j]);
    }
  }
  if (k16 < kb) pack_a_f32_portable(x + k16, lda, rows, kb - k16, dst + k16 * ld, ld);
}

}  // namespace

extern const GemmF32Kernels kGemmF32Avx512 = {"avx512_12x32", 12, kNr, tile, gemv, pack_a, tile_a};

}  // namespace sparq
