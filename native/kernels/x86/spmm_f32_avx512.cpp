// Sparse fp32 kernels for AVX-512: the grouped-CSC xt/rows kernels (spmm_f32_impl.h) on 16-lane
// vectors with a 16x16 register transpose for the output, an unstructured row kernel that picks x for
// 16 nonzeros at once out of 64-float windows (vpermt2ps), and the 2:4 panel kernel (vpermps picks
// each lane's k out of a broadcast quad of x).
#include <immintrin.h>

#include "simd_avx512.h"
#include "sparq/aligned.h"
#include "transpose_avx512.h"
#include "spmm_f32_impl.h"

namespace sparq {
namespace {

// One row of x, unstructured weights (C = 1, L = 1), raw sums into y. Window by window (64 k of x in
// four zmm), each output's entries in the window (window_ptr) take their x values 16 at a time with two
// vpermt2ps + a blend. Four outputs share each window (four FMA chains); 16 outputs' vectors are
// transposed and added at the end. A window costs ~6 cycles per output here (zmm shuffles are
// double-pumped on this Zen 5), so it pays where outputs hold >= ~6 entries per window (density
// >= ~0.1; 70% sparsity, 768x3072: 160 -> 107 us; 80%: 110 -> 75 us; even at 90%); sparser weights take
// rows_raw's one load per nonzero (~1 per cycle).
void rows_unstructured_avx512(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y) {
  if (g1 <= g0) return;
  if (w.ptr[g1] - w.ptr[g0] < static_cast<uint64_t>(6 * (g1 - g0) * w.windows)) {
    spmm_impl::rows_raw<1, 1>(w, x, g0, g1, y);
    return;
  }
  // x copied into whole windows (zeros past K: never picked, since every index is < K).
  thread_local AlignedBuffer<float> padded;
  const int64_t kp = w.windows * kSpmmWindow;
  float* xp = padded.reserve(static_cast<size_t>(kp));
  std::memcpy(xp, x, sizeof(float) * static_cast<size_t>(w.K));
  std::memset(xp + w.K, 0, sizeof(float) * static_cast<size_t>(kp - w.K));
  constexpr int kCols = 4;
  for (int64_t nb = g0; nb < g1; nb += 16) {
    const int cols = static_cast<int>(std::min<int64_t>(16, g1 - nb));
    __m512 part[16];
    for (int j0 = 0; j0 < 16; j0 += kCols) {
      __m512 acc[kCols];
      const uint32_t* wp[kCols];
#pragma GCC unroll 4
      for (int i = 0; i < kCols; ++i) {
        acc[i] = _mm512_setzero_ps();
        wp[i] = w.window_ptr + (nb + std::min(j0 + i, cols - 1)) * w.windows;  // past g1: a repeat, never stored
      }
      for (int64_t c = 0; c < w.windows; ++c) {
        const float* xw = xp + c * kSpmmWindow;
        const __m512 x0 = _mm512_load_ps(xw), x1 = _mm512_load_ps(xw + 16);
        const __m512 x2 = _mm512_load_ps(xw + 32), x3 = _mm512_load_ps(xw + 48);
#pragma GCC unroll 4
        for (int i = 0; i < kCols; ++i) {
          uint32_t e = wp[i][c];
          const uint32_t e1 = wp[i][c + 1];
          do {  // one masked step covers an empty range too (mask 0)
            // Whole-vector loads (the arrays have kSpmmReadAhead entries of padding): lanes past the range
            // read the next range's entries, and the FMA's mask leaves them out.
            const __mmask16 m = avx512::lanes(e1 - e);
            const __m512i rel = _mm512_and_si512(
                _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.idx + e))), _mm512_set1_epi32(kSpmmWindow - 1));
            const __m512 xv = _mm512_mask_blend_ps(_mm512_test_epi32_mask(rel, _mm512_set1_epi32(32)),
                                                   _mm512_permutex2var_ps(x0, rel, x1), _mm512_permutex2var_ps(x2, rel, x3));
            // Masked FMA: unused lanes keep acc (0 · x would turn an Inf in x into NaN).
            acc[i] = _mm512_mask3_fmadd_ps(xv, _mm512_loadu_ps(w.val + e), acc[i], m);
            e += 16;
          } while (e < e1);
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < kCols; ++i) part[j0 + i] = acc[i];
    }
    transpose16x16(part);
    __m512 sum = part[0];
    for (int i = 1; i < 16; ++i) sum = _mm512_add_ps(sum, part[i]);
    _mm512_mask_storeu_ps(y + nb, avx512::lanes(cols), sum);
  }
}

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr bool kOwnUnstructuredRows = true;
  static void rows_unstructured(const SparseF32View& w, const float* x, int64_t g0, int64_t g1, float* y) {
    rows_unstructured_avx512(w, x, g0, g1, y);
  }
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
