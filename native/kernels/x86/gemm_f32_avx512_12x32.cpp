// Dense fp32 GEMM microkernel for AVX-512: 12 rows x 32 columns of accumulators (24 zmm), two panel
// loads and 12 broadcasts per k. Also the M = 1 GEMV over the same 32-column panels.
#include <immintrin.h>

#include "simd_avx512.h"
#include "sparq/gemm_f32.h"

namespace sparq {
namespace {

constexpr int kNr = 32;

template <int MR>
void tile_mr(int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
             const Epilogue* ep, int64_t n0) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * kNr);
    const __m512 b1 = _mm512_load_ps(b + k * kNr + 16);
    const float* ak = a + k * MR;
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(ak[i]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
  }
  const __mmask16 m0 = avx512::lanes(cols), m1 = avx512::lanes(cols - 16 > 0 ? cols - 16 : 0);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    __m512 v0 = c0[i], v1 = c1[i];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    if (ep) {
      v0 = avx512::epilogue(v0, *ep, n0, m0);
      v1 = avx512::epilogue(v1, *ep, n0 + 16, m1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

void tile(int rows, int cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
          const Epilogue* ep, int64_t n0) {
  switch (rows) {
    case 1: return tile_mr<1>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 2: return tile_mr<2>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 3: return tile_mr<3>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 4: return tile_mr<4>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 5: return tile_mr<5>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 6: return tile_mr<6>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 7: return tile_mr<7>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 8: return tile_mr<8>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 9: return tile_mr<9>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 10: return tile_mr<10>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    case 11: return tile_mr<11>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
    default: return tile_mr<12>(cols, kc, a, b, c, ldc, accumulate, ep, n0);
  }
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

}  // namespace

extern const GemmF32Kernels kGemmF32Avx512 = {"avx512_12x32", 12, kNr, tile, gemv};

}  // namespace sparq
