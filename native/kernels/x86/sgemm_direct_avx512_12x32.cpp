// The 12 x 32 fp32 register tile of gemm_f32_avx512_12x32.cpp, reading B rows in place (unaligned,
// masked past `cols`) rather than from a packed panel: sgemm's path for non-transposed B.
#include <immintrin.h>

#include "simd_avx512.h"
#include "sparq/sgemm_kernels.h"

namespace sparq {
namespace {

template <int MR>
void tile_mr(int cols, int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
             const Epilogue* ep, int64_t n0) {
  const __mmask16 m0 = avx512::lanes(cols), m1 = avx512::lanes(cols - 16 > 0 ? cols - 16 : 0);
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + k * ldb);
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + k * ldb + 16);
    const float* ak = a + k * MR;
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(ak[i]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
  }
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

void tile(int rows, int cols, int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
          bool accumulate, const Epilogue* ep, int64_t n0) {
  switch (rows) {
    case 1: return tile_mr<1>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 2: return tile_mr<2>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 3: return tile_mr<3>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 4: return tile_mr<4>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 5: return tile_mr<5>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 6: return tile_mr<6>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 7: return tile_mr<7>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 8: return tile_mr<8>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 9: return tile_mr<9>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 10: return tile_mr<10>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    case 11: return tile_mr<11>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
    default: return tile_mr<12>(cols, kc, a, b, ldb, c, ldc, accumulate, ep, n0);
  }
}

}  // namespace

extern const SgemmDirectKernels kSgemmDirectAvx512 = {12, 32, tile};

}  // namespace sparq
