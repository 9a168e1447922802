// Sparse fp32 kernels for AVX-512: the grouped-CSC xt/rows kernels (spmm_f32_impl.h) on 16-lane
// vectors with a 16x16 register transpose for the output, and the 2:4 panel kernel (vpermps picks each
// lane's k out of a broadcast quad of x).
#include <immintrin.h>

#include "simd_avx512.h"
#include "transpose_avx512.h"
#include "spmm_f32_impl.h"

namespace sparq {
namespace {

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_load_ps(p); }
  static V load_partial(const float* p, int cols) { return _mm512_maskz_loadu_ps(avx512::lanes(cols), p); }
  static void store(float* p, V v) { _mm512_store_ps(p, v); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void store_epilogue(float* dst, V v, const Epilogue& ep, int64_t n0, int cols) {
    const __mmask16 m = avx512::lanes(cols);
    _mm512_mask_storeu_ps(dst, m, avx512::epilogue(v, ep, n0, m));
  }
  static void transpose(V r[16]) { transpose16x16(r); }
};

// 2:4: MR rows x two 16-column panels. SPLIT keeps one accumulator per slot (short chains for few rows).
template <int MR, bool SPLIT>
void tile24_mr(const Sparse24View& w, const float* x, int64_t ldx, int64_t p, int npanels, float* y, int64_t ldy,
               const Epilogue& ep) {
  constexpr int S = SPLIT ? 2 : 1;
  __m512 acc[MR][2][S];
  for (int m = 0; m < MR; ++m)
    for (int q = 0; q < 2; ++q)
      for (int s = 0; s < S; ++s) acc[m][q][s] = _mm512_setzero_ps();
  const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const float* val[2] = {w.val + p * w.G * 32, w.val + (p + npanels - 1) * w.G * 32};
  const uint32_t* sel[2] = {w.sel + p * w.G * 2, w.sel + (p + npanels - 1) * w.G * 2};
  for (int64_t g = 0; g < w.G; ++g) {
    __m512i idx[2][2];
    __m512 wv[2][2];
    for (int q = 0; q < 2; ++q)
      for (int s = 0; s < 2; ++s) {
        idx[q][s] = _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(sel[q][2 * g + s])), shifts);
        wv[q][s] = _mm512_load_ps(val[q] + (2 * g + s) * 16);
      }
    for (int m = 0; m < MR; ++m) {
      const __m512 x4 = _mm512_broadcast_f32x4(_mm_loadu_ps(x + m * ldx + 4 * g));
      for (int q = 0; q < 2; ++q)
        for (int s = 0; s < 2; ++s)
          acc[m][q][SPLIT ? s : 0] =
              _mm512_fmadd_ps(wv[q][s], _mm512_permutexvar_ps(idx[q][s], x4), acc[m][q][SPLIT ? s : 0]);
    }
  }
  for (int q = 0; q < npanels; ++q) {
    const int64_t n0 = (p + q) * 16;
    const int cols = static_cast<int>(std::min<int64_t>(16, w.N - n0));
    const __mmask16 mask = avx512::lanes(cols);
    for (int m = 0; m < MR; ++m) {
      __m512 v = acc[m][q][0];
      if constexpr (SPLIT) v = _mm512_add_ps(v, acc[m][q][1]);
      _mm512_mask_storeu_ps(y + m * ldy + n0, mask, avx512::epilogue(v, ep, n0, mask));
    }
  }
}

template <int MR, bool SPLIT>
void tile24_rows(const Sparse24View& w, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y, int64_t ldy,
                 const Epilogue& ep) {
  for (int64_t p = p0; p < p1; p += 2) {
    const int np = p + 1 < p1 ? 2 : 1;  // a lone last panel is computed twice into the same registers
    tile24_mr<MR, SPLIT>(w, x, ldx, p, np, y, ldy, ep);
  }
}

void tile24(const Sparse24View& w, int rows, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y,
            int64_t ldy, const Epilogue& ep) {
  switch (rows) {
    case 1: return tile24_rows<1, true>(w, x, ldx, p0, p1, y, ldy, ep);
    case 2: return tile24_rows<2, true>(w, x, ldx, p0, p1, y, ldy, ep);
    case 3: return tile24_rows<3, true>(w, x, ldx, p0, p1, y, ldy, ep);
    case 4: return tile24_rows<4, false>(w, x, ldx, p0, p1, y, ldy, ep);
    case 5: return tile24_rows<5, false>(w, x, ldx, p0, p1, y, ldy, ep);
    default: return tile24_rows<6, false>(w, x, ldx, p0, p1, y, ldy, ep);
  }
}

}  // namespace

extern const SpmmF32Kernels kSpmmF32Avx512 = {"avx512", 16, spmm_impl::xt_rows<Avx512>, spmm_impl::batch_cols_of<Avx512>,
                                              spmm_impl::xt_dispatch<Avx512>, spmm_impl::rows_dispatch<Avx512>};
extern const Spmm24Kernels kSpmm24Avx512 = {"avx512_6x32", 6, tile24};

}  // namespace sparq
