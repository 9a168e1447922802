// Sparse int8 kernels for AVX512-VNNI over 1x4 blocks (sparq/spmm_int8.h).
//   xt:   64-row tiles; per block one 4-byte broadcast of the weights and four vpdpbusd (16 rows each)
//         against the transposed quads of A, two accumulator sets; s32 results transposed 16x16 in
//         registers and dequantized on the way out.
//   rows: per output and chunk of 32 quads, the chunk of the quantized row sits in two zmm and
//         vpermt2d picks the quads of 16 blocks at once for one vpdpbusd (no gathers: they measured
//         slower than scalar loads on this machine).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "simd_avx512.h"
#include "sparq/spmm_int8.h"
#include "transpose_avx512.h"

namespace sparq {
namespace {

constexpr int kV = 4;
constexpr int kMt = 16 * kV;

// Dequantize 16 outputs of one row from raw accumulators and store them (masked to `cols`).
inline void store_row(const SparseInt8View& w, __m512i acc, int64_t n, int cols, float sa, int32_t za, float* y,
                      const Epilogue& ep) {
  const __mmask16 mask = avx512::lanes(cols);
  const __m512i colsum = _mm512_maskz_loadu_epi32(mask, w.colsum + n);
  const __m512 sb = _mm512_maskz_loadu_ps(mask, w.scale + n);
  __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(za), colsum)));
  v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sa), sb));
  _mm512_mask_storeu_ps(y, mask, avx512::epilogue(v, ep, n, mask));
}

void xt(const SparseInt8View& w, const uint8_t* xt, int rows, int64_t n0, int64_t n1, RowQuant rq, float* y,
        int64_t ldy, const Epilogue& ep, int32_t* acc_out, int64_t ldacc) {
  alignas(64) int32_t yt[16 * kMt];
  std::memset(yt, 0, sizeof(yt));
  const int64_t chunk_bytes = static_cast<int64_t>(kSpI8ChunkQuads) * kMt * 4;
  for (int64_t nb = n0; nb < n1; nb += 16) {
    const int cols = static_cast<int>(std::min<int64_t>(16, n1 - nb));
    for (int j = 0; j < cols; ++j) {
      const uint32_t* pp = w.ptr + (nb + j) * w.chunks;
      __m512i a0[kV], a1[kV];
      for (int v = 0; v < kV; ++v) a0[v] = a1[v] = _mm512_setzero_si512();
      for (int64_t c = 0; c < w.chunks; ++c) {
        const uint8_t* xc = xt + c * chunk_bytes;
        uint32_t e = pp[c];
        const uint32_t e1 = pp[c + 1];
        for (; e + 2 <= e1; e += 2) {
          const uint8_t* x0 = xc + static_cast<int64_t>(w.idx[e]) * (kMt * 4);
          const uint8_t* x1 = xc + static_cast<int64_t>(w.idx[e + 1]) * (kMt * 4);
          const __m512i w0 = _mm512_set1_epi32(w.val[e]), w1 = _mm512_set1_epi32(w.val[e + 1]);
          for (int v = 0; v < kV; ++v) {
            a0[v] = _mm512_dpbusd_epi32(a0[v], _mm512_load_si512(x0 + 64 * v), w0);
            a1[v] = _mm512_dpbusd_epi32(a1[v], _mm512_load_si512(x1 + 64 * v), w1);
          }
        }
        if (e < e1) {
          const uint8_t* x0 = xc + static_cast<int64_t>(w.idx[e]) * (kMt * 4);
          const __m512i w0 = _mm512_set1_epi32(w.val[e]);
          for (int v = 0; v < kV; ++v) a0[v] = _mm512_dpbusd_epi32(a0[v], _mm512_load_si512(x0 + 64 * v), w0);
        }
      }
      for (int v = 0; v < kV; ++v) _mm512_store_si512(yt + j * kMt + 16 * v, _mm512_add_epi32(a0[v], a1[v]));
    }
    for (int r0 = 0; r0 < rows; r0 += 16) {
      __m512 t[16];
      for (int i = 0; i < 16; ++i) t[i] = _mm512_castsi512_ps(_mm512_load_si512(yt + i * kMt + r0));
      transpose16x16(t);
      const int rcount = std::min(16, rows - r0);
      for (int i = 0; i < rcount; ++i) {
        const int m = r0 + i;
        const __m512i acc = _mm512_castps_si512(t[i]);
        if (acc_out)
          _mm512_mask_storeu_epi32(acc_out + m * ldacc + nb, avx512::lanes(cols), acc);
        else
          store_row(w, acc, nb, cols, rq.scale[m], rq.zero[m], y + m * ldy + nb, ep);
      }
    }
  }
}

void rows(const SparseInt8View& w, const uint8_t* xq, int64_t n0, int64_t n1, float sa, int32_t za, float* y,
          const Epilogue& ep, int32_t* acc_out) {
  alignas(64) int32_t sums[16];
  for (int64_t nb = n0; nb < n1; nb += 16) {
    const int cols = static_cast<int>(std::min<int64_t>(16, n1 - nb));
    for (int j = 0; j < cols; ++j) {
      const uint32_t* pp = w.ptr + (nb + j) * w.chunks;
      __m512i acc = _mm512_setzero_si512();
      for (int64_t c = 0; c < w.chunks; ++c) {
        uint32_t e = pp[c];
        const uint32_t e1 = pp[c + 1];
        if (e == e1) continue;
        const __m512i lo = _mm512_loadu_si512(xq + c * 128), hi = _mm512_loadu_si512(xq + c * 128 + 64);
        for (; e < e1; e += 16) {
          const __mmask16 m = avx512::lanes(e1 - e);
          const __m512i quad = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w.idx + e));
          const __m512i xv = _mm512_permutex2var_epi32(lo, quad, hi);
          acc = _mm512_dpbusd_epi32(acc, xv, _mm512_maskz_loadu_epi32(m, w.val + e));
        }
      }
      sums[j] = _mm512_reduce_add_epi32(acc);
    }
    const __m512i acc = _mm512_load_si512(sums);
    if (acc_out)
      _mm512_mask_storeu_epi32(acc_out + nb, avx512::lanes(cols), acc);
    else
      store_row(w, acc, nb, cols, sa, za, y + nb, ep);
  }
}

}  // namespace

extern const SpmmInt8Kernels kSpmmInt8Avx512Vnni = {"avx512vnni", 127, kMt, 16, xt, rows};

}  // namespace sparq
