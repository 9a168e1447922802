// Sparse fp32 kernels for AVX2+FMA: the grouped-CSC xt/rows kernels (spmm_f32_impl.h) on 8-lane
// vectors with an 8x8 register transpose for the output, and the 2:4 panel kernel (vpermps picks each
// lane's k out of a quad of x broadcast to both halves).
#include <immintrin.h>

#include "simd_avx2.h"
#include "transpose_avx2.h"
#include "spmm_f32_impl.h"

namespace sparq {
namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr bool kOwnUnstructuredRows = false;
  static void rows_unstructured(const SparseF32View&, const float*, int64_t, int64_t, float*) {}
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static V load_partial(const float* p, int cols) { return _mm256_maskload_ps(p, avx2::lanes(cols)); }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store_epilogue(float* dst, V v, const Epilogue& ep, int64_t n0, int cols) {
    const __m256i m = avx2::lanes(cols);
    _mm256_maskstore_ps(dst, m, avx2::epilogue(v, ep, n0, m));
  }
  static void transpose(V r[8]) { transpose8x8(r); }
};

// 2:4: MR rows x one 16-column panel (two ymm halves). SPLIT keeps one accumulator per slot.
template <int MR, bool SPLIT>
void tile24_mr(const Sparse24View& w, const float* x, int64_t ldx, int64_t p, float* y, int64_t ldy,
               const Epilogue& ep) {
  constexpr int S = SPLIT ? 2 : 1;
  __m256 acc[MR][2][S];
  for (int m = 0; m < MR; ++m)
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < S; ++s) acc[m][h][s] = _mm256_setzero_ps();
  const __m256i lo = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i hi = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
  const float* val = w.val + p * w.G * 32;
  const uint32_t* sel = w.sel + p * w.G * 2;
  for (int64_t g = 0; g < w.G; ++g) {
    __m256i idx[2][2];
    for (int s = 0; s < 2; ++s) {
      const __m256i bits = _mm256_set1_epi32(static_cast<int>(sel[2 * g + s]));
      idx[s][0] = _mm256_srlv_epi32(bits, lo);
      idx[s][1] = _mm256_srlv_epi32(bits, hi);
    }
    for (int m = 0; m < MR; ++m) {
      const __m256 x4 = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(x + m * ldx + 4 * g));
      for (int s = 0; s < 2; ++s)
        for (int h = 0; h < 2; ++h)
          acc[m][h][SPLIT ? s : 0] = _mm256_fmadd_ps(_mm256_load_ps(val + (2 * g + s) * 16 + 8 * h),
                                                     _mm256_permutevar8x32_ps(x4, idx[s][h]), acc[m][h][SPLIT ? s : 0]);
    }
  }
  const int64_t n0 = p * 16;
  const int cols = static_cast<int>(std::min<int64_t>(16, w.N - n0));
  const __m256i m0 = avx2::lanes(cols), m1 = avx2::lanes(cols > 8 ? cols - 8 : 0);
  for (int m = 0; m < MR; ++m) {
    __m256 v0 = acc[m][0][0], v1 = acc[m][1][0];
    if constexpr (SPLIT) {
      v0 = _mm256_add_ps(v0, acc[m][0][1]);
      v1 = _mm256_add_ps(v1, acc[m][1][1]);
    }
    _mm256_maskstore_ps(y + m * ldy + n0, m0, avx2::epilogue(v0, ep, n0, m0));
    _mm256_maskstore_ps(y + m * ldy + n0 + 8, m1, avx2::epilogue(v1, ep, n0 + 8, m1));
  }
}

template <int MR, bool SPLIT>
void tile24_rows(const Sparse24View& w, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y, int64_t ldy,
                 const Epilogue& ep) {
  for (int64_t p = p0; p < p1; ++p) tile24_mr<MR, SPLIT>(w, x, ldx, p, y, ldy, ep);
}

void tile24(const Sparse24View& w, int rows, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y,
            int64_t ldy, const Epilogue& ep) {
  switch (rows) {
    case 1: return tile24_rows<1, true>(w, x, ldx, p0, p1, y, ldy, ep);
    case 2: return tile24_rows<2, true>(w, x, ldx, p0, p1, y, ldy, ep);
    case 3: return tile24_rows<3, false>(w, x, ldx, p0, p1, y, ldy, ep);
    default: return tile24_rows<4, false>(w, x, ldx, p0, p1, y, ldy, ep);
  }
}

}  // namespace

extern const SpmmF32Kernels kSpmmF32Avx2 = {"avx2", 8, spmm_impl::xt_rows<Avx2>, spmm_impl::batch_cols_of<Avx2>,
                                            spmm_impl::xt_dispatch<Avx2>, spmm_impl::rows_dispatch<Avx2>};
extern const Spmm24Kernels kSpmm24Avx2 = {"avx2_4x16", 4, tile24};

}  // namespace sparq
